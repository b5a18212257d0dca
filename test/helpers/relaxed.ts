// Whether tests of the relaxed-SIMD build must be skipped on this engine, and why.
import { UserError } from '../../src/errors.js';
import { loadWasmModule } from '../../src/node/wasm.js';

export async function relaxedSkip(): Promise<string | false> {
  try {
    await loadWasmModule('relaxed');
    return false;
  } catch (err) {
    if (err instanceof UserError && /relaxed SIMD/.test(err.message)) return 'this engine does not support relaxed SIMD';
    throw err;
  }
}
