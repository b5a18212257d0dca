// The wasm backend in a browser (a page or a module Worker): fetches and compiles the kernels
// the engine supports (relaxed SIMD where it validates, plain SIMD otherwise), once per page,
// and runs them on Web Worker threads. Shared memory needs a cross-origin-isolated page
// (COOP same-origin + COEP require-corp), which `charrnn serve` provides.
import { WasmBackend } from './index.js';
import { MAX_THREADS, webWorkerSpawner } from './threads.js';

export interface BrowserWasmOptions {
  /** Where charrnn-relaxed.wasm and charrnn-simd.wasm are served (default '/wasm/'). */
  wasmUrl?: string | URL;
  /** Threads that run kernels, this one included (default: every core on an isolated page, else 1). */
  threads?: number;
  /** Upper bound on the memory in 64 KiB pages (default 16384 = 1 GiB: browsers reserve the maximum). */
  maximumPages?: number;
}

const DEFAULT_PAGES = 16384;

const modules = new Map<string, Promise<WebAssembly.Module>>();

async function fetchBytes(url: URL): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`cannot fetch ${url.pathname}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${url.pathname}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

async function compileBest(base: URL): Promise<WebAssembly.Module> {
  const relaxed = await fetchBytes(new URL('charrnn-relaxed.wasm', base));
  if (WebAssembly.validate(relaxed)) return WebAssembly.compile(relaxed);
  return WebAssembly.compile(await fetchBytes(new URL('charrnn-simd.wasm', base)));
}

/** The best kernel module this engine runs, fetched and compiled once per base URL. */
export function loadBrowserWasmModule(wasmUrl: string | URL = '/wasm/'): Promise<WebAssembly.Module> {
  const base = new URL(wasmUrl, globalThis.location?.href);
  const key = base.href;
  let loaded = modules.get(key);
  if (!loaded) {
    loaded = compileBest(base);
    modules.set(key, loaded);
    loaded.catch(() => modules.delete(key));
  }
  return loaded;
}

/** A wasm backend for this page or worker; rejects with a clear Error when it cannot start. */
export async function loadBrowserWasmBackend(opts: BrowserWasmOptions = {}): Promise<WasmBackend> {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  // Worker threads share memory with this one, which only an isolated page may do.
  const threads = opts.threads ?? (isolated ? Math.max(1, Math.min(cores, MAX_THREADS)) : 1);
  const module = await loadBrowserWasmModule(opts.wasmUrl);
  try {
    return await WasmBackend.create(module, {
      threads,
      cores,
      maximumPages: opts.maximumPages ?? DEFAULT_PAGES,
      spawnWorker: webWorkerSpawner(new URL('./web-worker.js', import.meta.url)),
    });
  } catch (err) {
    if (isolated) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`the wasm backend cannot start here (${why}): it runs on shared memory, which a page has only when it is served cross-origin isolated, as \`charrnn serve\` does, from localhost or https`);
  }
}
