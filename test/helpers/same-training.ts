// A few whole training iterations and an evaluation on two backends, compared: the test of a
// backend as a whole, beside the per-kernel tests.
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CharLM } from '../../src/model/charlm.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { Corpus } from '../../src/text/corpus.js';
import { train } from '../../src/train/loop.js';
import type { TrainOptions } from '../../src/train/options.js';

export interface TrainingTrace {
  losses: number[]; // per iteration its loss and gradient norm, then the validation loss
  grads: Float32Array; // after the first iteration
  params: Float32Array; // at the end
}

/** Three iterations of batch 7 × seq 11 and one evaluation, from the same seeds on any backend. */
export async function traceTraining(be: Backend, config: Partial<ModelConfig>, corpus: Corpus,
  opts: Partial<TrainOptions>): Promise<TrainingTrace> {
  const model = CharLM.create(be, config, corpus.vocab.size, 5);
  const losses: number[] = [];
  let grads: Float32Array | null = null;
  for await (const e of train(model, corpus, { maxIters: 3, batch: 7, seq: 11, evalEvery: 3, seed: 9, ...opts })) {
    if (e.type === 'iteration') losses.push(e.loss, e.gradNorm);
    if (e.type === 'iteration' && e.iter === 1) grads = await be.download(model.grads);
    if (e.type === 'eval') losses.push(e.valLoss);
  }
  assert.ok(grads, 'no first iteration');
  return { losses, grads, params: await be.download(model.params) };
}

/**
 * Losses and gradient norms within 1e-5 relative; gradients within gradTol of the largest one;
 * 99.9% of parameters within 1e-5·(1+|p|) and every one within 1e-4·(1+|p|). RMSprop's first
 * step is lr·g/(√(0.05·g²) + 1e-8): for a gradient near 1e-8 its size hangs on the last digits
 * of g, so a 1e-9 difference in such a gradient (another, equally good summation order) moves
 * that parameter by up to 1e-5 — a hundredth of one step, hence the two parameter bounds.
 */
export function assertSameTraining(ref: TrainingTrace, got: TrainingTrace, who: string, gradTol: number): void {
  assert.equal(got.losses.length, 7);
  ref.losses.forEach((l, i) => assert.ok(Math.abs(l - got.losses[i]) <= 1e-5 * Math.abs(l), `loss/norm ${i}: js ${l} ${who} ${got.losses[i]}`));
  const gmax = ref.grads.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
  for (let i = 0; i < ref.grads.length; i++) {
    if (!(Math.abs(ref.grads[i] - got.grads[i]) <= gradTol * gmax)) assert.fail(`gradient ${i}: js ${ref.grads[i]} ${who} ${got.grads[i]}`);
  }
  let worst = 0, loose = 0;
  for (let i = 0; i < ref.params.length; i++) {
    const d = Math.abs(ref.params[i] - got.params[i]) / (1 + Math.abs(ref.params[i]));
    worst = Math.max(worst, d);
    if (!(d <= 1e-5)) loose++;
  }
  assert.ok(worst <= 1e-4, `max parameter difference ${worst}`);
  assert.ok(loose <= ref.params.length / 1000, `${loose} of ${ref.params.length} parameters differ by more than 1e-5`);
}
