// Picks a backend by name. `auto` takes the fastest one available.
import { UserError } from '../errors.js';
import type { Backend } from './backend.js';
import { JsBackend } from './js/index.js';

export function createBackend(name: string = 'auto'): Backend {
  switch (name) {
    case 'auto':
    case 'js':
      return new JsBackend();
    case 'wasm':
    case 'webgpu':
      throw new UserError(`the ${name} backend is not available in this build (use --backend js)`);
    default:
      throw new UserError(`unknown backend "${name}" (choose auto, js, wasm or webgpu)`);
  }
}
