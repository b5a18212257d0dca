// Picks a backend by name for the command line and other Node hosts.
import { UserError } from '../errors.js';
import type { Backend } from '../backend/backend.js';
import { JsBackend } from '../backend/js/index.js';
import { loadWasmBackend } from './wasm.js';
import { loadWebGPUBackend, tryHardwareWebGPU } from './webgpu.js';

export interface CreateBackendOptions {
  /** Threads for the wasm backend, the calling one included (default: every core); js ignores it. */
  threads?: number;
  /** webgpu: time each large step's and product's kernel plans on this GPU (default: on a hardware GPU); others ignore it. */
  tune?: boolean;
}

export async function createBackend(name: string = 'auto', opts: CreateBackendOptions = {}): Promise<Backend> {
  switch (name) {
    case 'js':
      return new JsBackend();
    // auto means the fastest backend here: webgpu on a hardware GPU, else wasm. A missing
    // wasm build is an error to fix, not a reason to fall back silently to a far slower one.
    case 'auto':
      return (await tryHardwareWebGPU({ tune: opts.tune })) ?? loadWasmBackend({ threads: opts.threads });
    case 'wasm':
      return loadWasmBackend({ threads: opts.threads });
    case 'webgpu':
      return loadWebGPUBackend({ tune: opts.tune });
    default:
      throw new UserError(`unknown backend "${name}" (choose auto, js, wasm or webgpu)`);
  }
}
