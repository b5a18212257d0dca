// The model learns real text: a small LSTM on the first 100,000 characters of the built-in
// mobydick corpus must get well below the unigram entropy within a fixed budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Corpus } from '../src/text/corpus.js';
import { CharLM } from '../src/model/charlm.js';
import { JsBackend } from '../src/backend/js/index.js';
import { train } from '../src/train/loop.js';
import { resolveCorpusText } from '../src/node/datasets.js';
import type { TrainEvent } from '../src/train/events.js';

function unigramEntropy(ids: ArrayLike<number>, V: number): number {
  const counts = new Float64Array(V);
  for (let i = 0; i < ids.length; i++) counts[ids[i]]++;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / ids.length) * Math.log(c / ids.length);
  return h;
}

test('an LSTM 1×64 reaches validation loss < 2.2 nats/char on Moby Dick in 300 iterations', async () => {
  const { text } = await resolveCorpusText('mobydick');
  const corpus = Corpus.fromText(text.slice(0, 100_000), { valFrac: 0.1 });
  const model = CharLM.create(new JsBackend(), { model: 'lstm', layers: 1, hidden: 64 }, corpus.vocab.size);
  const evals: Extract<TrainEvent, { type: 'eval' }>[] = [];
  for await (const e of train(model, corpus, { maxIters: 300, batch: 16, seq: 32, lr: 0.01, evalEvery: 100 })) {
    if (e.type === 'eval') evals.push(e);
  }
  const unigram = unigramEntropy(corpus.split('val'), corpus.vocab.size);
  const last = evals[evals.length - 1];
  assert.equal(last.iter, 300);
  assert.ok(unigram > 2.8, `unigram entropy ${unigram}`);
  assert.ok(last.valLoss < 2.2, `validation loss ${last.valLoss} after 300 iterations (unigram entropy ${unigram.toFixed(3)})`);
  assert.ok(evals[0].valLoss > last.valLoss, 'validation loss did not fall');
});

for (const model of ['gru', 'rnn'] as const) {
  test(`a ${model.toUpperCase()} 1×64 gets below the unigram entropy in 150 iterations`, async () => {
    const { text } = await resolveCorpusText('mobydick');
    const corpus = Corpus.fromText(text.slice(0, 50_000), { valFrac: 0.1 });
    const m = CharLM.create(new JsBackend(), { model, layers: 1, hidden: 64 }, corpus.vocab.size);
    let val = Infinity;
    for await (const e of train(m, corpus, { maxIters: 150, batch: 16, seq: 32, lr: 0.01, evalEvery: 1000 })) {
      if (e.type === 'eval') val = e.valLoss;
    }
    const unigram = unigramEntropy(corpus.split('val'), corpus.vocab.size);
    assert.ok(val < unigram - 0.3, `validation loss ${val}, unigram entropy ${unigram}`);
  });
}
