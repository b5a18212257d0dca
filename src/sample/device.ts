// Sampling with every step on the backend, for backends that draw (Backend.drawRows): the id
// drawn at one step is the next step's input without leaving the device, and a chunk of
// steps comes back in one read. On a GPU a read-back is a round trip of tens of microseconds,
// so this replaces one wait per character with one per chunk; while the host hands out one
// chunk, the device already runs the next.
import { sub, type DrawOptions } from '../backend/backend.js';
import type { CharLM, RecurrentState } from '../model/charlm.js';

const FIRST_CHUNK = 8; // small, so that the first characters stream out at once
const MAX_CHUNK = 256;

/**
 * Yields `steps` arrays of B ids, drawn from `state` onwards with `first` as the first input;
 * step s draws with uniforms from index draw.index + s·B on, as the host sampler would.
 */
export async function* sampleOnDevice(model: CharLM, state: RecurrentState, first: Int32Array, steps: number,
  draw: DrawOptions): AsyncGenerator<Int32Array> {
  const be = model.backend, B = first.length;
  const drawRows = be.drawRows?.bind(be);
  if (!drawRows) throw new Error(`the ${be.name} backend does not draw on the device`);
  // Kept by the model: sampling runs again and again during training, and a backend's buffers
  // are never freed.
  const ids = model.scratch('device-ids', (MAX_CHUNK + 1) * B, true);
  const drawn = model.scratch('device-drawn', MAX_CHUNK * B);
  be.upload(sub(ids, 0, B), first);
  const cur = new Int32Array(B);
  let recorded = 0, chunk = FIRST_CHUNK;
  const record = (): { n: number; read: Promise<Float32Array> } => {
    const n = Math.min(chunk, steps - recorded);
    chunk = Math.min(2 * chunk, MAX_CHUNK);
    if (recorded > 0) be.copy(sub(ids, 0, B), sub(ids, MAX_CHUNK * B, B));
    for (let s = 0; s < n; s++) {
      const logits = model.logits(sub(ids, s * B, B), 1, B, state);
      // The chunk's last draw goes to the end of ids, where the next chunk picks it up.
      const next = s === n - 1 ? sub(ids, MAX_CHUNK * B, B) : sub(ids, (s + 1) * B, B);
      drawRows(logits, next, sub(drawn, s * B, B), B, model.vocabSize, { ...draw, index: draw.index + (recorded + s) * B });
    }
    recorded += n;
    return { n, read: be.download(sub(drawn, 0, n * B)) };
  };
  let pending = record();
  while (pending.n > 0) {
    const next = recorded < steps ? record() : { n: 0, read: Promise.resolve(new Float32Array(0)) };
    const got = await pending.read;
    for (let s = 0; s < pending.n; s++) {
      for (let b = 0; b < B; b++) cur[b] = got[s * B + b];
      yield cur;
    }
    pending = next;
  }
}
