// Loss over a whole split, as char-rnn's eval_split: from a zero state, carried from
// batch to batch along each stream, averaged over every predicted character.
import type { CharLM } from '../model/charlm.js';
import { evalBatcher } from '../text/batches.js';

export interface EvalResult {
  loss: number; // mean cross-entropy, nats per symbol
  bpc: number; // bits per symbol
  chars: number; // predictions averaged over
}

export async function evaluate(model: CharLM, ids: ArrayLike<number>, batch: number, seq: number): Promise<EvalResult> {
  const batcher = evalBatcher(ids, batch, seq);
  const { B, S } = batcher;
  const state = model.newState(B);
  const x = new Int32Array(S * B), y = new Int32Array(S * B);
  let sum = 0;
  for (let i = 0; i < batcher.numBatches; i++) {
    batcher.fill(i, x, y);
    sum += await model.loss(x, y, S, B, state);
  }
  const loss = sum / batcher.numBatches;
  return { loss, bpc: loss / Math.LN2, chars: batcher.numBatches * S * B };
}
