#!/usr/bin/env bash
# The GPU checks, on a Linux x86-64 machine with a GPU and its driver but no Node and no network,
# from what bench/gpu-pack.sh packed. From the repository root (with dist/ and build/):
#   bash bench/gpu-run.sh [KIT] [OUT] [SECONDS]
# KIT: bench/kit. OUT: bench/out, one log per step. SECONDS (555): the time the steps share, run
# in this order; each also stops at a limit of its own.
#   features  what Dawn's adapter offers, plain and with its experimental toggles
#   bench     S, M, L, XL and sampling beside PyTorch + cuDNN (python3 with CUDA PyTorch)
#   wavefront L's and XL's steps layer after layer against a wavefront across the layers
#   tests     the webgpu tests
#   options   config L tuned, with and without a layer's sequence in one dispatch each way
set -uo pipefail
kit=${1:-bench/kit}
out=${2:-bench/out}
budget=${3:-555}
start=$SECONDS
fail() { echo "gpu-run: $*" >&2; exit 1; }
[ -f dist/src/index.js ] && [ -d build/wasm ] || fail "dist/ or build/ is missing: build where Node is, and bring them"
[ -f "$kit/node.xz" ] && [ -f "$kit/modules.tar.xz" ] || fail "no kit in $kit: run bench/gpu-pack.sh where Node is"
mkdir -p "$out"
: >"$out/steps.log" # this run's steps only, as each step's own log is this run's
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# xz may be missing there; then Python (which the PyTorch peer needs anyway) decompresses.
decompress() {
  if command -v xz >/dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
decompress "$kit/node.xz" >"$tmp/node" && chmod +x "$tmp/node" || fail "could not unpack Node"
[ -d node_modules/webgpu ] || decompress "$kit/modules.tar.xz" | tar -x || fail "could not unpack the modules"
export PATH="$tmp:$PATH"

if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
  dpkg-deb -x "$kit"/libvulkan1_*.deb "$tmp/vk" || fail "could not unpack the Vulkan loader"
  export LD_LIBRARY_PATH="$tmp/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# A driver mounted into a container may keep its Vulkan manifest outside the loader's folders.
if ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && export VK_DRIVER_FILES="$f" VK_ICD_FILENAMES="$f" && break
  done
fi
corpus=$(node --input-type=module -e "import { DATA } from './bench/lib/common.mjs'; console.log(DATA)")
[ -f "$corpus" ] || { mkdir -p "$(dirname "$corpus")" && cp "$kit/tinyshakespeare.txt" "$corpus"; }

{ node --version; nvidia-smi -L 2>/dev/null; python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())' 2>&1 | tail -1; } | tee "$out/machine.log"

# step NAME LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds or what is left of the budget.
step() {
  local name=$1 limit=$2 left t0 rc
  shift 2
  left=$((budget - (SECONDS - start)))
  ((limit > left)) && limit=$left
  if ((limit < 15)); then echo "== $name: not run, ${left}s left" | tee -a "$out/steps.log"; return; fi
  echo "== $name (at most ${limit}s): $*" | tee -a "$out/steps.log"
  t0=$SECONDS
  timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  echo "== $name: rc $rc after $((SECONDS - t0))s" | tee -a "$out/steps.log"
}

step features 30 node bench/gpu-features.mjs
step bench 300 env CHARRNN_PYTHON=python3 node bench/run.mjs --backend webgpu --cap 10
step wavefront 90 node bench/gpu-wavefront.mjs --config L,XL
step tests 120 node --test dist/test/webgpu-*.test.js
step options 170 node bench/webgpu-options.mjs --config L --iters 10 --warmup 3 '{"tune":true}' '{"tune":true,"persistent":true}'
cat "$out/steps.log"
