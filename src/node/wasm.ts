// Loads the compiled WebAssembly kernels from the package's build/wasm/ and picks the
// flavour this engine runs: relaxed SIMD where it validates, plain SIMD otherwise.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { UserError } from '../errors.js';
import { WasmBackend, type WasmBackendOptions } from '../backend/wasm/index.js';
import { spawnNodeWorker } from './wasm-workers.js';

export type WasmFlavor = 'simd' | 'relaxed';

export interface LoadWasmOptions extends Omit<WasmBackendOptions, 'spawnWorker'> {
  /** Forces a flavour; otherwise $CHARRNN_WASM, otherwise the best the engine validates. */
  flavor?: WasmFlavor;
  /** Threads that run kernels, the calling one included; default: every core. */
  threads?: number;
}

// This file runs as dist/src/node/wasm.js; the build writes to <package>/build/wasm/.
const wasmDir = new URL('../../../build/wasm/', import.meta.url);

// Keyed by what was asked for ('best' = relaxed where the engine has it), so the files are
// read, validated and compiled once per process.
const modules = new Map<WasmFlavor | 'best', Promise<{ module: WebAssembly.Module; flavor: WasmFlavor }>>();
let relaxedFlagSet = false;

async function readBuild(flavor: WasmFlavor): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`charrnn-${flavor}.wasm`, wasmDir);
  try {
    return await readFile(url);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(`the wasm backend is not built (${url.pathname} is missing): run \`npm run build\``);
    }
    throw err;
  }
}

/** Whether this engine runs relaxed SIMD; Node 20 has it behind a flag that must be set before compiling. */
export function relaxedSimdSupported(bytes: Uint8Array<ArrayBuffer>): boolean {
  if (WebAssembly.validate(bytes)) return true;
  if (relaxedFlagSet) return false;
  relaxedFlagSet = true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes);
}

function flavorFromEnv(): WasmFlavor | undefined {
  const v = process.env.CHARRNN_WASM;
  if (v === undefined || v === '') return undefined;
  if (v === 'simd' || v === 'relaxed') return v;
  throw new UserError(`CHARRNN_WASM must be simd or relaxed, got "${v}"`);
}

/** The compiled kernel module of a flavour (compiled once per process) and which flavour it is. */
export function loadWasmModule(flavor?: WasmFlavor): Promise<{ module: WebAssembly.Module; flavor: WasmFlavor }> {
  const wanted = flavor ?? flavorFromEnv() ?? 'best';
  let loaded = modules.get(wanted);
  if (!loaded) {
    loaded = compile(wanted);
    modules.set(wanted, loaded);
    loaded.catch(() => modules.delete(wanted));
  }
  return loaded;
}

async function compile(wanted: WasmFlavor | 'best'): Promise<{ module: WebAssembly.Module; flavor: WasmFlavor }> {
  if (wanted !== 'simd') {
    const bytes = await readBuild('relaxed');
    if (relaxedSimdSupported(bytes)) return { module: await WebAssembly.compile(bytes), flavor: 'relaxed' };
    if (wanted === 'relaxed') throw new UserError('this JavaScript engine does not support relaxed SIMD (use CHARRNN_WASM=simd)');
  }
  return { module: await WebAssembly.compile(await readBuild('simd')), flavor: 'simd' };
}

/**
 * A wasm backend with its own memory, running the best kernels this engine supports on
 * `threads` threads (default: every core).
 */
export async function loadWasmBackend(opts: LoadWasmOptions = {}): Promise<WasmBackend> {
  const { module } = await loadWasmModule(opts.flavor);
  const threads = opts.threads ?? availableParallelism();
  return WasmBackend.create(module, { ...opts, threads, cores: availableParallelism(), spawnWorker: spawnNodeWorker });
}
