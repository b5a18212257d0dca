#!/usr/bin/env bash
# Packs what the GPU benchmark needs on a Linux x86-64 machine that has a GPU and its driver but
# no Node and no network: this Node binary, the product's modules with webgpu's Linux native
# module, Debian's Vulkan loader, and the benchmark corpus. From the repository root, after
# `npm install` (which builds dist/ and build/):
#   bash bench/gpu-pack.sh [KIT]                 KIT defaults to bench/kit (ignored by git)
# Then take the repository with dist/, build/ and KIT to that machine and run bench/gpu-run.sh.
set -euo pipefail
kit=${1:-bench/kit}
fail() { echo "gpu-pack: $*" >&2; exit 1; }
[ -f dist/src/index.js ] && [ -d build/wasm ] || fail "dist/ or build/ is missing: run npm install (or npm run build) first"
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || fail "webgpu is not installed: npm install webgpu"
corpus=$(node --input-type=module -e "import { DATA } from './bench/lib/common.mjs'; console.log(DATA)")
[ -f "$corpus" ] || fail "the benchmark corpus is missing: $corpus"
[ "$(uname -m)" = x86_64 ] || fail "this Node binary is for $(uname -m); the GPU machine needs x86-64"

mkdir -p "$kit"
xz -T0 -c "$(command -v node)" >"$kit/node.xz"

# The product's modules and webgpu's own, with only Linux x86-64's native module (the
# package holds every platform's: 132 MB).
mods=$( (npm ls --omit=dev --all --parseable; npm ls webgpu --all --parseable) |
  sed "s|^$PWD/||" | grep '^node_modules/' | sort -u)
tar -cJf "$kit/modules.tar.xz" --exclude='node_modules/webgpu/dist/darwin-*' \
  --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/linux-arm64' $mods

# Dawn loads libvulkan.so.1 at run time; a machine with only the driver may lack the loader.
rm -f "$kit"/libvulkan1_*.deb
(cd "$kit" && apt-get download libvulkan1:amd64 >/dev/null) || fail "apt-get download libvulkan1 failed"
cp "$corpus" "$kit/"
du -sh "$kit"/*
