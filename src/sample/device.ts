// Sampling with every step on the backend, for backends that draw (Backend.drawRows): the id
// drawn at one step is the next step's input without leaving the device, and a chunk of
// steps comes back in one read. On a GPU a read-back is a round trip of tens of microseconds,
// so this replaces one wait per character with one per chunk; while the host hands out one
// chunk, the device already runs the next. With one stream, a backend that samples in its own
// loop (Backend.sampleLoop) runs a chunk in one call: on WebAssembly threads that saves the
// hand-offs, the read-back and the host's draw of every character.
import { sub, type DrawOptions, type SamplerNet } from '../backend/backend.js';
import { LostWorkError } from '../errors.js';
import type { CharLM, RecurrentState } from '../model/charlm.js';

const FIRST_CHUNK = 8; // small, so that the first characters stream out at once
const MAX_CHUNK = 256;
const MAX_LOOP_CHUNK = 2048; // a backend's sampleLoop: one dispatch per chunk, so a chunk may be long

/**
 * Yields `steps` arrays of B ids, drawn from `state` onwards with `first` as the first input;
 * step s draws with uniforms from index draw.index + s·B on, as the host sampler would.
 */
export async function* sampleOnDevice(model: CharLM, state: RecurrentState, first: Int32Array, steps: number,
  draw: DrawOptions): AsyncGenerator<Int32Array> {
  const be = model.backend, B = first.length;
  const drawRows = be.drawRows?.bind(be);
  if (!drawRows) throw new Error(`the ${be.name} backend does not draw on the device`);
  let loop = B === 1 && be.sampleLoop ? await be.sampleLoop(samplerNet(model, state)) : null;
  const maxChunk = loop ? MAX_LOOP_CHUNK : MAX_CHUNK;
  // Kept by the model: sampling runs again and again during training, and a backend's buffers
  // are never freed.
  const ids = model.scratch('device-ids', (maxChunk + 1) * B, true);
  const drawn = model.scratch('device-drawn', maxChunk * B);
  // The state as each of the last two of the loop's chunks began (one is read while the next
  // runs): where the backend lost a chunk's work (LostWorkError), it runs again from there.
  const began = loop ? [0, 1].map((k) => model.scratchState(`device-began${k}`, B)) : [];
  be.upload(sub(ids, 0, B), first);
  const cur = new Int32Array(B);
  let recorded = 0, chunk = FIRST_CHUNK, chunks = 0;
  // A chunk's read fails where it is awaited, not as an unhandled rejection while the one before
  // is awaited (a lost chunk's successor fails too).
  const settled = (read: Promise<Float32Array>): Promise<Float32Array> => {
    read.catch(() => undefined);
    return read;
  };
  const record = (): { n: number; start: number; began: number; read: Promise<Float32Array> } => {
    const n = Math.min(chunk, steps - recorded), start = recorded;
    chunk = Math.min(2 * chunk, maxChunk);
    if (recorded > 0) be.copy(sub(ids, 0, B), sub(ids, maxChunk * B, B));
    if (loop) {
      const k = chunks++ % 2;
      began[k].copyFrom(state);
      loop(sub(ids, 0, 1), sub(ids, maxChunk, 1), sub(drawn, 0, n), n, { ...draw, index: draw.index + recorded });
      recorded += n;
      return { n, start, began: k, read: settled(be.download(sub(drawn, 0, n)).then((got) => checked(got, model.vocabSize))) };
    }
    for (let s = 0; s < n; s++) {
      const logits = model.logits(sub(ids, s * B, B), 1, B, state);
      // The chunk's last draw goes to the end of ids, where the next chunk picks it up.
      const next = s === n - 1 ? sub(ids, maxChunk * B, B) : sub(ids, (s + 1) * B, B);
      drawRows(logits, next, sub(drawn, s * B, B), B, model.vocabSize, { ...draw, index: draw.index + (recorded + s) * B });
    }
    recorded += n;
    return { n, start, began: -1, read: settled(be.download(sub(drawn, 0, n * B))) };
  };
  let pending = record();
  while (pending.n > 0) {
    const next = recorded < steps ? record() : { n: 0, start: recorded, began: -1, read: Promise.resolve(new Float32Array(0)) };
    let got: Float32Array;
    try {
      got = await pending.read;
    } catch (err) {
      if (!(err instanceof LostWorkError) || pending.began < 0) throw err;
      // The loop lost this chunk and ran the next on what it left: both go, and sampling goes on
      // step by step (which draws what the loop would) from the chunk's start, its input id
      // where record() takes it.
      loop = null;
      state.copyFrom(began[pending.began]);
      const [input, at] = pending.start > 0 ? [cur, maxChunk * B] : [first, 0];
      be.upload(sub(ids, at, B), input);
      recorded = pending.start;
      pending = record();
      continue;
    }
    for (let s = 0; s < pending.n; s++) {
      for (let b = 0; b < B; b++) cur[b] = got[s * B + b];
      yield cur;
    }
    pending = next;
  }
}

/** What sampleLoop needs of the model: its tensors and the sampling state. */
export function samplerNet(model: CharLM, state: RecurrentState): SamplerNet {
  const { model: cell, layers, hidden: H, embedding: E } = model.config;
  const t = (name: string) => model.tensor(model.params, name);
  return {
    cell, H, V: model.vocabSize, E,
    layers: Array.from({ length: layers }, (_, k) => ({
      wih: t(`rnn.weight_ih_l${k}`), whh: t(`rnn.weight_hh_l${k}`), bih: t(`rnn.bias_ih_l${k}`), bhh: t(`rnn.bias_hh_l${k}`),
    })),
    dec: t('decoder.weight'), decB: t('decoder.bias'), enc: E > 0 ? t('encoder.weight') : null,
    h: state.h, c: state.c,
  };
}

// A loop whose workgroups lost step (which the backend's read-back reports) marks its draws −1.
function checked(ids: Float32Array, V: number): Float32Array {
  for (const id of ids) if (!(id >= 0 && id < V)) throw new Error(`the device sampler drew ${id}, outside the vocabulary of ${V}`);
  return ids;
}
