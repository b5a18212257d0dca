// Loss over a whole split, as char-rnn's eval_split: B streams from a zero state, the
// state carried from chunk to chunk along each stream, averaged over every prediction.
// Unlike the training layout, the last chunk may be shorter than S, so no more than
// B − 1 characters of the split go unscored.
import { redoLostWork, UserError } from '../errors.js';
import type { CharLM } from '../model/charlm.js';

export interface EvalResult {
  loss: number; // mean cross-entropy, nats per symbol
  bpc: number; // bits per symbol
  chars: number; // predictions averaged over
}

/** A text to score needs one character to predict from and one to predict. */
export function checkEvaluable(ids: ArrayLike<number>, what: string): void {
  if (ids.length < 2) throw new UserError(`${what} has ${ids.length} character${ids.length === 1 ? '' : 's'}: at least 2 are needed to evaluate`);
}

export async function evaluate(model: CharLM, ids: ArrayLike<number>, batch: number, seq: number, what = 'text'): Promise<EvalResult> {
  checkEvaluable(ids, what);
  // Chunks overlap (see below), so work the backend lost is redone from the split's start.
  return redoLostWork(() => evaluateOnce(model, ids, batch, seq));
}

async function evaluateOnce(model: CharLM, ids: ArrayLike<number>, batch: number, seq: number): Promise<EvalResult> {
  const n = ids.length - 1; // predictions available
  const B = Math.max(1, Math.min(batch, Math.floor(n / seq)));
  const len = Math.floor(n / B); // characters predicted per stream
  const state = model.scratchState('eval', B);
  const x = new Int32Array(seq * B), y = new Int32Array(seq * B);
  let sum = 0;
  // Each chunk's loss is awaited only once the next chunk has been asked for, so that a GPU
  // runs the next chunk while the host waits for the last one's loss instead of idling.
  let last: { loss: Promise<number>; n: number } | null = null;
  for (let s = 0; s < len; s += seq) {
    const T = Math.min(seq, len - s);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const i = b * len + s + t;
        x[t * B + b] = ids[i];
        y[t * B + b] = ids[i + 1];
      }
    }
    const loss = model.loss(x.subarray(0, T * B), y.subarray(0, T * B), T, B, state);
    loss.catch(() => undefined); // its error is thrown where it is awaited, not as an unhandled rejection
    if (last) sum += (await last.loss) * last.n;
    last = { loss, n: T * B };
  }
  if (last) sum += (await last.loss) * last.n;
  return { loss: sum / (len * B), bpc: sum / (len * B) / Math.LN2, chars: len * B };
}
