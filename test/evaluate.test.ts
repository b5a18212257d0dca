// Evaluation scores the whole split: B streams of equal length, state carried along each,
// and the result equals scoring each stream alone in one pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/backend/js/index.js';
import { CharLM } from '../src/model/charlm.js';
import { evaluate } from '../src/train/evaluate.js';
import { hash3 } from '../src/backend/rng.js';

test('evaluate covers all but < B characters and equals per-stream scoring', async () => {
  const V = 9;
  const model = CharLM.create(new JsBackend(), { model: 'lstm', layers: 2, hidden: 6 }, V, 5);
  const ids = Int32Array.from({ length: 103 }, (_, i) => hash3(7, 0, i) % V);
  const r = await evaluate(model, ids, 4, 7);
  const len = Math.floor(102 / 4);
  assert.equal(r.chars, 4 * len);
  let sum = 0;
  for (let b = 0; b < 4; b++) {
    const x = ids.slice(b * len, b * len + len), y = ids.slice(b * len + 1, b * len + len + 1);
    sum += (await model.loss(x, y, len, 1, model.newState(1))) * len;
  }
  assert.ok(Math.abs(r.loss - sum / (4 * len)) < 1e-6, `${r.loss} vs ${sum / (4 * len)}`);
  assert.ok(Math.abs(r.bpc - r.loss / Math.LN2) < 1e-12);
});

test('a split shorter than one sequence is still scored whole', async () => {
  const model = CharLM.create(new JsBackend(), { model: 'gru', layers: 1, hidden: 4 }, 5, 1);
  const r = await evaluate(model, Int32Array.from([0, 1, 2, 3, 4, 0]), 50, 50);
  assert.equal(r.chars, 5);
});
