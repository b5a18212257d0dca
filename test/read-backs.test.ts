// What training and evaluation read back from their backend, and when: a GPU's read-back is a
// wait, so each asks for the next one before it awaits the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Corpus } from '../src/text/corpus.js';
import { Batcher } from '../src/text/batches.js';
import { CharLM } from '../src/model/charlm.js';
import { JsBackend } from '../src/backend/js/index.js';
import { slice, type Slice } from '../src/backend/backend.js';
import { train } from '../src/train/loop.js';
import { evaluate } from '../src/train/evaluate.js';

const corpus = Corpus.fromText('the quick brown fox jumps over the lazy dog. '.repeat(30), { valFrac: 0.1 });
const config = { model: 'lstm' as const, layers: 2, hidden: 10 };
const opts = { batch: 3, seq: 7, maxIters: 5, evalEvery: 1000, gradClip: 0 };

// A backend whose read-backs arrive a turn of the event loop later, as a GPU's do; it counts
// how many were asked for and not yet answered.
class SlowReads extends JsBackend {
  inFlight = 0;
  mostInFlight = 0;
  override async download(src: Slice): Promise<Float32Array> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    const out = await super.download(src);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    return out;
  }
}

test('an iteration asks for its loss and gradient norm together: one wait for a GPU, not two', async () => {
  const be = new SlowReads();
  const model = CharLM.create(be, config, corpus.vocab.size, 5);
  const norms: number[] = [];
  for await (const e of train(model, corpus, opts)) if (e.type === 'iteration') norms.push(e.gradNorm);
  assert.equal(norms.length, 5);
  assert.equal(be.mostInFlight, 2);

  // The first iteration's norm is that of its own gradient, before clipping and the update.
  const twin = CharLM.create(new JsBackend(), config, corpus.vocab.size, 5);
  const b = twin.backend, x = new Int32Array(21), y = new Int32Array(21);
  new Batcher(corpus.split('train'), 3, 7).fill(0, x, y);
  await twin.lossAndGrad(x, y, 7, 3, twin.newState(3), { train: true, seed: 123, iteration: 0 });
  const sumsq = slice(b.alloc(1));
  b.sumSquares(twin.grads, sumsq);
  const expected = Math.sqrt((await b.download(sumsq))[0]);
  assert.ok(expected > 0);
  assert.ok(Math.abs(norms[0] - expected) <= 1e-6 * expected, `${norms[0]} against ${expected}`);
});

test('evaluation asks for the next chunk\'s loss before it awaits the last, and sums them as one at a time', async () => {
  const be = new SlowReads();
  const slow = CharLM.create(be, config, corpus.vocab.size, 8);
  const plain = CharLM.create(new JsBackend(), config, corpus.vocab.size, 8);
  const ids = corpus.split('train');
  const got = await evaluate(slow, ids, 4, 9);
  assert.equal(be.mostInFlight, 2);

  // One chunk at a time, from the same zero state, every prediction weighted alike.
  const B = 4, S = 9, len = Math.floor((ids.length - 1) / B), state = plain.newState(B);
  let sum = 0;
  for (let s = 0; s < len; s += S) {
    const T = Math.min(S, len - s), x = new Int32Array(T * B), y = new Int32Array(T * B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) [x[t * B + b], y[t * B + b]] = [ids[b * len + s + t], ids[b * len + s + t + 1]];
    }
    sum += (await plain.loss(x, y, T, B, state)) * T * B;
  }
  assert.ok(len % S !== 0, 'the last chunk is a short one');
  assert.equal(got.loss, sum / (len * B));
});
