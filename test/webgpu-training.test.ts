// Training on the webgpu backend as on the js reference (Dawn over Mesa's CPU renderer where no
// GPU exists, as in CI): the dispatches an iteration costs, whole training runs, tuning, and how
// the recorder submits, reads back and compiles ahead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSameTraining, traceTraining } from './helpers/same-training.js';
import { Twins } from './helpers/twins.js';
import { slice, type Slice } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { WebGPUBackend } from '../src/backend/webgpu/index.js';
import type { StepKind, StepPlan } from '../src/backend/webgpu/kernels/step.js';
import { pickGemm, type GemmPlan } from '../src/backend/webgpu/kernels/gemm.js';
import { fastest, gemmPlans, stepPlans } from '../src/backend/webgpu/tuner.js';
import type { Slicing } from '../src/backend/webgpu/kernels/slices.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import type { TrainOptions } from '../src/train/options.js';
import { corpusText, dev, dispatchesPerIteration, limits, slicing, t } from './helpers/webgpu-device.js';

t('each time step of training costs two dispatches per layer (forward and backward, each fused)', async () => {
  const corpus = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const be = dev(), m = CharLM.create(be, { model, layers: 2, hidden: 8, dropout: 0.1 }, corpus.vocab.size, 1);
    const [a, b] = [await dispatchesPerIteration(m, 11), await dispatchesPerIteration(m, 12)];
    assert.equal(b - a, 2 * 2, `${model}: ${a} dispatches at T = 11, ${b} at T = 12`);
  }
});

const models: [string, Partial<ModelConfig>, Partial<TrainOptions>][] = [
  ['lstm 2×16 one-hot, rmsprop', { model: 'lstm', layers: 2, hidden: 16, dropout: 0.2 }, {}],
  ['lstm 2×16 embedding 8, adam', { model: 'lstm', layers: 2, hidden: 16, dropout: 0.2, embedding: 8 }, { optimizer: 'adam' }],
  ['gru 2×16 one-hot, adagrad', { model: 'gru', layers: 2, hidden: 16, dropout: 0.2 }, { optimizer: 'adagrad' }],
  ['gru 1×20 embedding 8, rmsprop', { model: 'gru', layers: 1, hidden: 20, embedding: 8 }, {}],
  ['rnn 2×16 embedding 8, rmsprop with norm clipping', { model: 'rnn', layers: 2, hidden: 16, dropout: 0.2, embedding: 8 }, { clipNorm: 0.5 }],
];
// As the wasm backend's test (tolerances in helpers/same-training.ts), with gradients within
// 1e-5 of the largest: the device's f32 transcendental functions are less exact than wasm's.
for (const [name, config, opts] of models) {
  t(`three training iterations and an evaluation of a ${name} match js`, async () => {
    const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
    const ref = await traceTraining(new JsBackend(), config, corpus, opts);
    assertSameTraining(ref, await traceTraining(dev(), config, corpus, opts), 'webgpu', 1e-5);
  });
}

// Tuning (the tune option, on by default on a GPU) times each step's and large product's plans
// (tuner.ts) at the first read-back after they ran, on scratch: the training it interrupts
// must go on as it would have, and later calls run on the plan timed fastest.
t('tuned: each step and product runs on the plan timed fastest, and training matches js', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const config: Partial<ModelConfig> = { model: 'lstm', layers: 1, hidden: 16 };
  // Thresholds 0: every step and product is large enough to tune (and to split by rule).
  const rules: Slicing = { steps: 2, stepMacs: 0, stepGroups: 0, products: 8, productMacs: 0, productGroups: 0 };
  const be = new WebGPUBackend(dev().device, { tune: true, slicing: rules });
  assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), 'webgpu tuned', 1e-5);
  const tuned = be.tunedPlans(), label = (p: StepPlan | GemmPlan): string => JSON.stringify(p);
  // The steps, the decoder and its weight gradient (77 rows: batch 7 × seq 11; vocabulary 66).
  for (const key of ['lstm 7×16', 'lstmBack 7×16', 'gemm NT 77×66×16', 'gemm TN 66×16×77']) assert.ok(tuned.has(key), `${key} tuned: ${[...tuned.keys()].join(', ')}`);
  const own = be as unknown as { stepPlan(kind: StepKind, B: number, H: number): StepPlan; gemmPlan(tA: boolean, tB: boolean, M: number, N: number, K: number): GemmPlan };
  for (const [key, plan] of tuned) {
    const step = /^(\w+) (\d+)×(\d+)$/.exec(key), gemm = /^gemm (\w)(\w) (\d+)×(\d+)×(\d+)$/.exec(key);
    if (step) {
      const [kind, B, H] = [step[1] as StepKind, Number(step[2]), Number(step[3])];
      assert.ok(stepPlans(kind, B, H, 120, rules, limits()).some((p) => label(p) === label(plan)), `${key}: a candidate`);
      assert.equal(label(own.stepPlan(kind, B, H)), label(plan), `${key}: runs on it`);
    } else {
      assert.ok(gemm, key);
      const [tA, tB, M, N, K] = [gemm[1] === 'T', gemm[2] === 'T', Number(gemm[3]), Number(gemm[4]), Number(gemm[5])];
      assert.ok(gemmPlans(M, N, K, 120, rules, limits()).some((p) => label(p) === label(plan)), `${key}: a candidate`);
      assert.equal(label(own.gemmPlan(tA, tB, M, N, K)), label(plan), `${key}: runs on it`);
    }
  }
});

t('tuning leaves out a plan the device refuses, and the device stays usable', async () => {
  const be = new WebGPUBackend(dev().device, { tune: true }), p = new Twins(be);
  const [M, N, K] = [40, 50, 30], a = p.f(M * K), b = p.f(K * N), c = p.f(M * N);
  // 64×64 threads in a workgroup: more than any device allows.
  const refused: GemmPlan = { tile: { name: 'huge', BM: 64, BN: 64, BK: 16, RM: 1, RN: 1 }, slices: 1, kc: K };
  const fine = pickGemm(M, N, K, 120, slicing(0), limits());
  const own = be as unknown as {
    recordGemmPlan(call: object, plan: GemmPlan): void;
    timePlans(plans: GemmPlan[], written: Slice[], record: (s: (w: Slice) => Slice) => (plan: GemmPlan) => void): Promise<GemmPlan>;
  };
  const call = { transA: false, transB: false, M, N, K, alpha: 1, A: a.dut, B: b.dut, beta: 0, biases: [] };
  const pick = await own.timePlans([refused, fine], [c.dut], (s) => (plan) => own.recordGemmPlan({ ...call, C: s(c.dut) }, plan));
  assert.equal(pick, fine);
  p.run((be, s) => be.gemm(false, false, M, N, K, 1, s(a), s(b), 0, s(c)));
  await p.same(c, 'a product after the refusal', 1e-5);
});

t('a held recording reaches the GPU whole, in one submit, as tuning times it', async () => {
  const be = new WebGPUBackend(dev().device, { submitEvery: 4 }), x = slice(be.alloc(64));
  const rec = (be as unknown as { rec: { hold(f: () => void): void } }).rec;
  const submits = async (f: () => void): Promise<number> => {
    await be.flush();
    const before = be.stats.submits;
    f();
    await be.flush();
    return be.stats.submits - before;
  };
  const fills = (): void => { for (let i = 0; i < 20; i++) be.fill(x, i); };
  assert.equal(await submits(fills), 5);
  assert.equal(await submits(() => rec.hold(fills)), 1);
  assert.equal((await be.download(x))[63], 19);
});

t('a download resolves to the slice as the calls before it left it, whatever is recorded after', async () => {
  const be = new WebGPUBackend(dev().device), x = slice(be.alloc(8));
  be.fill(x, 3);
  const asked = be.download(x);
  be.fill(x, 5);
  assert.deepEqual([...await asked], new Array(8).fill(3));
  assert.deepEqual([...await be.download(x)], new Array(8).fill(5));
});

t('after each read-back the GPU gets the first dispatches soon: submits after 4, 8, 16, 32, 64, then every 128', async () => {
  const be = new WebGPUBackend(dev().device), x = slice(be.alloc(64));
  // Not 0: a fill of zeros waits for the next call, to merge with it.
  const fills = (n: number): void => { for (let i = 1; i <= n; i++) be.fill(x, i); };
  for (const wait of [() => be.flush(), async () => { await be.download(x); }]) {
    await wait();
    const before = be.stats.submits;
    fills(3);
    assert.equal(be.stats.submits - before, 0);
    fills(1);
    assert.equal(be.stats.submits - before, 1, 'the 4th dispatch after a wait submits');
    fills(8 + 16 + 32 + 64 + 128 + 127);
    assert.equal(be.stats.submits - before, 6);
    fills(1);
    assert.equal(be.stats.submits - before, 7);
  }
  assert.equal((await be.download(x))[63], 1);
});

t('compiling a call makes its pipeline ahead, recording nothing; the call then finds it made', async () => {
  const be = new WebGPUBackend(dev().device), p = new Twins(be), [M, N, K] = [9, 20, 17];
  const a = p.f(M * K), b = p.f(K * N), c = p.f(M * N);
  const rec = (be as unknown as { rec: { compile(f: () => void): Promise<void>; pipelines: Map<string, unknown> } }).rec;
  const product = (): void => { be.gemm(true, false, M, N, K, 1, a.dut, b.dut, 0, c.dut); void be.flush(); };
  const [dispatches, made] = [be.stats.dispatches, rec.pipelines.size];
  await rec.compile(product);
  assert.equal(be.stats.dispatches, dispatches, 'nothing recorded');
  assert.equal(rec.pipelines.size, made + 1, 'one pipeline made');
  p.run((be, s) => be.gemm(true, false, M, N, K, 1, s(a), s(b), 0, s(c)));
  await p.same(c, 'the product after its pipeline was compiled ahead', 1e-5);
  assert.equal(rec.pipelines.size, made + 1, 'none made again');
});

test('tuning keeps the plan with the least time per run over the rounds, the rule\'s on a tie', async () => {
  // Fake runs of known cost on a fake clock: run i costs cost[i], plus a slow first run (the
  // compile) and, in one round, a stall that a least-of-rounds timing must ignore.
  const pick = async (cost: number[], stallOn = -1): Promise<{ best: number; runs: number[] }> => {
    let clock = 0, queued = 0, calls = 0;
    const runs = cost.map(() => 0);
    const { best, ms } = await fastest(cost.map((c, i) => () => { runs[i]++; queued += runs[i] === 1 ? 50 : c; if (i === stallOn && ++calls === 2) queued += 1000; }),
      async () => { clock += queued; queued = 0; }, () => clock);
    assert.deepEqual(ms.map((m) => +m.toFixed(9)), cost, 'each run\'s least time per run');
    return { best, runs };
  };
  assert.equal((await pick([0.3, 0.2, 0.25])).best, 1);
  assert.equal((await pick([0.3, 0.3, 0.4])).best, 0);
  assert.equal((await pick([0.3, 0.2, 0.25], 1)).best, 1);
  const { runs } = await pick([0.1, 0.5]);
  // The first also once alone, to size the rounds.
  assert.ok(runs[1] > 3 && runs[0] === runs[1] + 1, `each timed alike: ${runs.join(', ')}`);
});
