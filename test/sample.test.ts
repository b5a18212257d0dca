// Sampling: reproducible by seed, greedy decoding, top-k restriction, priming and
// parallel streams behave as their definitions say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/backend/js/index.js';
import { CharLM } from '../src/model/charlm.js';
import { Corpus } from '../src/text/corpus.js';
import { train } from '../src/train/loop.js';
import { sampleIds, sampleTexts, sampleText } from '../src/sample/sample.js';
import { UserError } from '../src/errors.js';

const corpus = Corpus.fromText('abcabcabd abcabcabd abcabcabd '.repeat(60), { valFrac: 0.05 });
const model = CharLM.create(new JsBackend(), { model: 'lstm', layers: 1, hidden: 16 }, corpus.vocab.size, 2);
const trained = (async () => {
  for await (const e of train(model, corpus, { batch: 8, seq: 12, maxIters: 150, lr: 0.02, evalEvery: 1000 })) void e;
})();

test('the same seed gives the same text; another seed another text', async () => {
  await trained;
  const a = await sampleText(model, corpus.vocab, { length: 200, seed: 1, temperature: 1.5 });
  assert.equal(await sampleText(model, corpus.vocab, { length: 200, seed: 1, temperature: 1.5 }), a);
  assert.notEqual(await sampleText(model, corpus.vocab, { length: 200, seed: 2, temperature: 1.5 }), a);
});

test('argmax and top-k 1 are greedy and learned the pattern; prime text comes first', async () => {
  await trained;
  const greedy = await sampleText(model, corpus.vocab, { length: 30, prime: 'abcab', argmax: true });
  assert.ok(greedy.startsWith('abcab'));
  assert.equal(greedy.length, 35);
  assert.match(greedy, /^abcab[cd]/);
  assert.equal(await sampleText(model, corpus.vocab, { length: 30, prime: 'abcab', topK: 1, seed: 9 }), greedy);
});

test('top-k 2 only ever draws one of the two most probable characters', async () => {
  await trained;
  // After "abcab" the model's two favourites are c and d. At temperature 100 the softmax is
  // nearly flat, so without top-k other characters appear; with top-k 2 they must not.
  const next = async (topK: number, seed: number): Promise<string> =>
    (await sampleText(model, corpus.vocab, { length: 1, prime: 'abcab', topK, temperature: 100, seed })).slice(-1);
  const withK = new Set<string>(), without = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    withK.add(await next(2, seed));
    without.add(await next(0, seed));
  }
  assert.deepEqual([...withK].sort(), ['c', 'd']);
  assert.ok(without.size > 2, `without top-k: ${[...without].join('')}`);
});

test('count N gives N independent streams of the requested length', async () => {
  await trained;
  const texts = await sampleTexts(model, corpus.vocab, { length: 50, count: 3, seed: 5, temperature: 2 });
  assert.equal(texts.length, 3);
  for (const t of texts) assert.equal(t.length, 50);
  assert.ok(new Set(texts).size > 1);
  let steps = 0;
  for await (const ids of sampleIds(model, corpus.vocab, { length: 10, count: 4 })) { assert.equal(ids.length, 4); steps++; }
  assert.equal(steps, 10);
});

test('a prime with unseen characters is refused, naming them', async () => {
  await assert.rejects(sampleText(model, corpus.vocab, { prime: 'abzq' }),
    (e: unknown) => e instanceof UserError && /never saw/.test(e.message) && e.message.includes('"z"') && e.message.includes('"q"'));
});
