// Every backend against PyTorch: logits, loss, every parameter gradient and the final
// state of 2-layer RNN, LSTM and GRU models equal torch.nn's (fixtures made by
// test/fixtures/make_parity.py) within 1e-5 of each tensor's largest magnitude.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JsBackend } from '../src/backend/js/index.js';
import type { Backend } from '../src/backend/backend.js';
import { loadWasmBackend } from '../src/node/wasm.js';
import { CharLM } from '../src/model/charlm.js';
import type { CellType } from '../src/model/config.js';

interface Case {
  name: string; model: CellType; layers: number; hidden: number; embedding: number; vocab: number;
  T: number; B: number; inputs: number[]; targets: number[];
  params: Record<string, number[]>; logits: number[]; loss: number; grads: Record<string, number[]>;
  h0?: number[]; c0?: number[]; h_n: number[]; c_n?: number[];
}

const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/parity.json', import.meta.url), 'utf8')) as { cases: Case[] };

function close(name: string, actual: ArrayLike<number>, expected: number[]): void {
  assert.equal(actual.length, expected.length, `${name}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= 1e-5 * scale, `${name}[${i}]: ${actual[i]} vs torch ${expected[i]} (error ${err.toExponential(2)}, tensor scale ${scale.toExponential(2)})`);
  }
}

assert.equal(fixtures.cases.length, 9);
const backends: [string, () => Promise<Backend>][] = [
  ['js', async () => new JsBackend()],
  ['wasm simd', () => loadWasmBackend({ flavor: 'simd' })],
  ['wasm relaxed', () => loadWasmBackend({ flavor: 'relaxed' })],
];

for (const [backend, make] of backends) for (const c of fixtures.cases) {
  test(`${backend}: ${c.name} matches PyTorch`, async () => {
    const be = await make();
    const m = new CharLM(be, { model: c.model, layers: c.layers, hidden: c.hidden, embedding: c.embedding, dropout: 0 }, c.vocab);
    m.importParams(new Map(Object.entries(c.params).map(([k, v]) => [k, Float32Array.from(v)])));
    const initial = () => {
      const state = m.newState(c.B);
      if (c.h0) be.upload(state.h, Float32Array.from(c.h0));
      if (c.c0) be.upload(state.c!, Float32Array.from(c.c0));
      return state;
    };
    const inputs = Int32Array.from(c.inputs);
    close('logits', await be.download(m.logits(inputs, c.T, c.B, initial())), c.logits);
    const state = initial();
    be.fill(m.grads, 0);
    const loss = await m.lossAndGrad(inputs, Int32Array.from(c.targets), c.T, c.B, state);
    assert.ok(Math.abs(loss - c.loss) <= 1e-5 * c.loss, `loss ${loss} vs torch ${c.loss}`);
    close('h_n', await be.download(state.h), c.h_n);
    if (c.c_n) close('c_n', await be.download(state.c!), c.c_n);
    const grads = await be.download(m.grads);
    assert.deepEqual(Object.keys(c.grads).sort(), m.layout.specs.map((s) => s.name).sort());
    for (const s of m.layout.specs) close(`d ${s.name}`, grads.subarray(s.offset, s.offset + s.length), c.grads[s.name]);
  });
}
