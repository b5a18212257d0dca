// Work a backend lost on its device, found at a read-back (LostWorkError: on a GPU, a kernel
// whose workgroups lost step with each other), is run again from where it began by everything
// that reads back: training, evaluation, inspection and a primed sample come out as if nothing
// had been lost. The webgpu backend's own side (the flag read, the fall-back) is in
// webgpu-sequence.test.ts and webgpu-sampling.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Corpus } from '../src/text/corpus.js';
import { CharLM } from '../src/model/charlm.js';
import { JsBackend } from '../src/backend/js/index.js';
import type { Slice } from '../src/backend/backend.js';
import { train } from '../src/train/loop.js';
import { evaluate } from '../src/train/evaluate.js';
import { inspectText } from '../src/inspect/activations.js';
import { sampleText } from '../src/sample/sample.js';
import { LostWorkError, redoLostWork } from '../src/errors.js';
import type { ModelConfig } from '../src/model/config.js';

const corpus = Corpus.fromText('the quick brown fox jumps over the lazy dog. '.repeat(30), { valFrac: 0.2 });

// A js backend whose read-backs number `lose` fail with LostWorkError, once each, after
// computing as usual: the forward has left its state carried on, the backward its gradients.
class LosesWork extends JsBackend {
  reads = 0;
  lost = 0;
  constructor(private readonly lose: ReadonlySet<number>) { super(); }
  override async download(src: Slice): Promise<Float32Array> {
    const out = await super.download(src);
    if (!this.lose.has(this.reads++)) return out;
    this.lost++;
    throw new LostWorkError('lost on purpose');
  }
}

const models: Partial<ModelConfig>[] = [
  { model: 'lstm', layers: 2, hidden: 10, dropout: 0.3 },
  { model: 'gru', layers: 2, hidden: 9 },
  { model: 'rnn', layers: 1, hidden: 8 },
];

async function trace(be: JsBackend, config: Partial<ModelConfig>) {
  const model = CharLM.create(be, config, corpus.vocab.size, 5);
  const events: unknown[] = [];
  for await (const e of train(model, corpus, { batch: 3, seq: 7, maxIters: 5, evalEvery: 3, seed: 4 })) {
    if (e.type === 'iteration') events.push(['iteration', e.iter, e.loss, e.gradNorm]);
    if (e.type === 'eval') events.push(['eval', e.iter, e.valLoss]);
    if (e.type === 'done') events.push(['done', e.iter, e.reason]);
  }
  return { events, params: await be.download(model.params) };
}

test('training and its evaluation run lost work again from where it began, as if nothing was lost', async () => {
  for (const config of models) {
    const want = await trace(new JsBackend(), config);
    // Reads 0–5 are iterations 1–3 (loss, then gradient norm); 6 on, the evaluation's chunks.
    // Lost: iteration 2's loss, iteration 3's norm, the evaluation's third chunk.
    const be = new LosesWork(new Set([2, 5, 8]));
    const got = await trace(be, config);
    assert.equal(be.lost, 3);
    assert.deepEqual(got.events, want.events, config.model);
    assert.deepEqual(got.params, want.params, config.model);
  }
});

test('evaluation, inspection and a primed sample run lost work again from where it began', async () => {
  for (const config of models) {
    // Each on its own copy of the model, losing one read: the evaluation's third chunk, one of
    // inspection's second chunk (5 reads a chunk for the LSTM: the guesses, then h and c of each
    // layer), the read after the sample's prime.
    const make = async (lose: number[]): Promise<CharLM> => {
      const be = new LosesWork(new Set(lose)), m = CharLM.create(be, config, corpus.vocab.size, 7);
      // Weights well above their initial size, so that what a forward starts from shows in a sample.
      const p = await JsBackend.prototype.download.call(be, m.params);
      be.upload(m.params, p.map((v) => 8 * v));
      return m;
    };
    const lost = (m: CharLM): number => (m.backend as LosesWork).lost;
    const ids = corpus.split('train'), text = 'the lazy dog jumps over the quick brown fox.', prime = { prime: 'the quick', length: 30, seed: 3 };
    const [e0, e1] = await Promise.all([make([]), make([2])]);
    assert.deepEqual(await evaluate(e1, ids, 4, 9), await evaluate(e0, ids, 4, 9), config.model);
    const [i0, i1] = await Promise.all([make([]), make([5])]);
    assert.deepEqual(await inspectText(i1, corpus.vocab, text, { chunk: 6 }), await inspectText(i0, corpus.vocab, text, { chunk: 6 }), config.model);
    const [s0, s1] = await Promise.all([make([]), make([0])]);
    assert.equal(await sampleText(s1, corpus.vocab, prime), await sampleText(s0, corpus.vocab, prime), config.model);
    assert.deepEqual([lost(e1), lost(i1), lost(s1)], [1, 1, 1]);
  }
});

test('redoLostWork runs again only on LostWorkError, rewinding first, and not for ever', async () => {
  let runs = 0, rewinds = 0;
  const flaky = async (): Promise<number> => {
    if (++runs < 3) throw new LostWorkError('lost');
    return runs;
  };
  assert.equal(await redoLostWork(flaky, () => rewinds++), 3);
  assert.equal(rewinds, 2);
  await assert.rejects(redoLostWork(async () => { throw new RangeError('a bug'); }, () => rewinds++), RangeError);
  assert.equal(rewinds, 2);
  runs = 0;
  await assert.rejects(redoLostWork(async () => { runs++; throw new LostWorkError('always'); }), LostWorkError);
  assert.ok(runs > 1 && runs < 100, `${runs} runs`);
});
