// Analytic gradients of the whole model against central finite differences, for every
// cell type, one-hot and embedding input, from a nonzero initial state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/backend/js/index.js';
import { CharLM, type RecurrentState } from '../src/model/charlm.js';
import type { CellType } from '../src/model/config.js';
import { hash3, uniform } from '../src/backend/rng.js';

const V = 6, T = 5, B = 3, H = 4;

function setup(model: CellType, embedding: number) {
  const be = new JsBackend();
  const m = CharLM.create(be, { model, layers: 2, hidden: H, embedding }, V, 7);
  // Larger weights than the ±0.08 init make the gradients big enough to compare in f32.
  const p = new Float32Array(m.layout.total).map((_, i) => uniform(5, 0, i) - 0.5);
  be.upload(m.params, p);
  const inputs = Int32Array.from({ length: T * B }, (_, i) => hash3(1, 0, i) % V);
  const targets = Int32Array.from({ length: T * B }, (_, i) => hash3(2, 0, i) % V);
  const h0 = new Float32Array(2 * B * H).map((_, i) => uniform(3, 0, i) - 0.5);
  const c0 = new Float32Array(2 * B * H).map((_, i) => uniform(4, 0, i) - 0.5);
  const state = m.newState(B);
  const reset = (s: RecurrentState): RecurrentState => {
    be.upload(s.h, h0);
    if (s.c) be.upload(s.c, c0);
    return s;
  };
  return { be, m, p, inputs, targets, state, reset };
}

for (const model of ['rnn', 'lstm', 'gru'] as const) {
  for (const embedding of [0, 3]) {
    test(`${model} ${embedding ? 'embedding' : 'one-hot'}: gradients match finite differences`, async () => {
      const { be, m, p, inputs, targets, state, reset } = setup(model, embedding);
      be.fill(m.grads, 0);
      await m.lossAndGrad(inputs, targets, T, B, reset(state));
      const grads = await be.download(m.grads);
      const eps = 1e-2;
      let checked = 0;
      for (const spec of m.layout.specs) {
        for (let j = 0; j < Math.min(spec.length, 8); j++) {
          const i = spec.offset + (hash3(9, spec.offset, j) % spec.length);
          const at = (v: number): Promise<number> => {
            const q = p.slice();
            q[i] = v;
            be.upload(m.params, q);
            return m.loss(inputs, targets, T, B, reset(state));
          };
          const num = ((await at(p[i] + eps)) - (await at(p[i] - eps))) / (2 * eps);
          const ana = grads[i];
          assert.ok(Math.abs(num - ana) <= 3e-4 + 1e-2 * Math.abs(num),
            `${spec.name}[${i - spec.offset}]: analytic ${ana}, numeric ${num}`);
          checked++;
        }
      }
      be.upload(m.params, p);
      assert.ok(checked > 40);
      // A gradient that is all zero would pass loosely-toleranced checks on flat spots.
      const nonzero = grads.filter((g) => Math.abs(g) > 1e-4).length;
      assert.ok(nonzero > grads.length / 2, `only ${nonzero} of ${grads.length} gradients are nonzero`);
    });
  }
}

test('dropout: gradients match finite differences with a fixed mask', async () => {
  const be = new JsBackend();
  const m = CharLM.create(be, { model: 'lstm', layers: 2, hidden: H, dropout: 0.3 }, V, 7);
  // Weights as large as above: at the init's ±0.08 the gradients are too small for the
  // tolerance to tell a gradient with the mask from one without.
  const p = new Float32Array(m.layout.total).map((_, i) => uniform(5, 0, i) - 0.5);
  be.upload(m.params, p);
  const inputs = Int32Array.from({ length: T * B }, (_, i) => hash3(1, 0, i) % V);
  const targets = Int32Array.from({ length: T * B }, (_, i) => hash3(2, 0, i) % V);
  const opts = { train: true, seed: 11, iteration: 4 };
  const state = m.newState(B);
  be.fill(m.grads, 0);
  await m.lossAndGrad(inputs, targets, T, B, state, opts);
  const grads = await be.download(m.grads);
  const eps = 1e-2;
  for (const name of ['rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.weight_hh_l0', 'rnn.weight_ih_l0', 'rnn.bias_hh_l0', 'decoder.weight']) {
    const spec = m.layout.byName.get(name)!;
    for (let j = 0; j < 6; j++) {
      const i = spec.offset + (hash3(8, j, 0) % spec.length);
      const at = (v: number): Promise<number> => {
        const q = p.slice();
        q[i] = v;
        be.upload(m.params, q);
        state.reset();
        return m.loss(inputs, targets, T, B, state, opts);
      };
      const num = ((await at(p[i] + eps)) - (await at(p[i] - eps))) / (2 * eps);
      assert.ok(Math.abs(num - grads[i]) <= 3e-4 + 1e-2 * Math.abs(num), `${name}: ${grads[i]} vs ${num}`);
    }
  }
});
