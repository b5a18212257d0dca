// The webgpu backend against the js reference, on Dawn over Mesa's CPU renderer where no GPU
// exists (CI): every WGSL kernel on random data with awkward shapes and offsets, whole
// training steps, sampling on the device, the Node loader and its errors, and the command
// line. Kernels without transcendental math or reordered sums must match bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertSameTraining, traceTraining } from './helpers/same-training.js';
import { checkGemm } from './helpers/gemm-check.js';
import { LEAD, Twins, randoms, type Pick, type Twin } from './helpers/twins.js';
import { slice, sub, type Backend, type Buf, type Slice } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { uniform, Stream } from '../src/backend/rng.js';
import { backendOptions, isSoftwareAdapter, WebGPUBackend, type WebGPUBackendOptions } from '../src/backend/webgpu/index.js';
import { CPU_RENDERER_SPIN } from '../src/backend/webgpu/device.js';
import { extraStepTiles, groupStepTile, pickStep, pickStepTile, sliceStep, stepTileFits, stepTileName, type StepKind, type StepPlan } from '../src/backend/webgpu/kernels/step.js';
import { doubledOf, tileFits } from '../src/backend/webgpu/kernels/tile.js';
import { doubleGemmTile, EXTRA_TILES, T128, groupGemmTile, isSkinny, pickGemm, pickTile, sliceGemm, type GemmPlan, type GemmTile } from '../src/backend/webgpu/kernels/gemm.js';
import { fastest, gemmPlans, stepPlans } from '../src/backend/webgpu/tuner.js';
import type { Slicing } from '../src/backend/webgpu/kernels/slices.js';
import { SEQUENCE_TAGS, sequenceExchangeWords, sequenceWidth } from '../src/backend/webgpu/kernels/sequence.js';
import { loadWebGPUBackend, tryHardwareWebGPU, mayHaveGpu } from '../src/node/webgpu.js';
import { createBackend } from '../src/node/backend.js';
import { tuningNote } from '../src/cli/train.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import { train } from '../src/train/loop.js';
import type { TrainOptions } from '../src/train/options.js';
import { sampleText, sampleTexts } from '../src/sample/sample.js';
import { UserError } from '../src/errors.js';
import { resolveCorpusText } from '../src/node/datasets.js';
import { vulkanBackend } from './helpers/vulkan.js';

// One device for the whole file: making one takes a fraction of a second on Mesa. Untuned, as
// on a CPU renderer, also where a GPU would tune: the tests count dispatches of known plans.
// With CHARRNN_TEST_VULKAN set, on Dawn's Vulkan backend instead (`npm run test:vulkan`), where
// finding no adapter fails the file: skipping every test would pass for a check not made.
const gpu: { be: WebGPUBackend } | { skip: string } = process.env.CHARRNN_TEST_VULKAN ? { be: await vulkanBackend() }
  : await loadWebGPUBackend({ tune: false })
    .then((be) => ({ be }), (e: unknown) => ({ skip: `no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}` }));
const skip = 'skip' in gpu ? gpu.skip : false;
const dev = (): WebGPUBackend => {
  if ('skip' in gpu) throw new Error(gpu.skip);
  return gpu.be;
};
const t = (name: string, fn: () => Promise<void>): void => { test(`webgpu: ${name}`, { skip }, fn); };
const corpusText = (await resolveCorpusText('mobydick')).text.slice(0, 30_000);

// f32 gate math on the device against the reference's f64-then-rounded: a few ulps of the
// exp the GPU provides. Measured on Mesa: under 3e-7 relative; the bound leaves room for GPUs.
const CELL_TOL = 2e-6;
// Reductions (softmax sums, column sums) summed in another order, in f32.
const SUM_TOL = 2e-6;

// Backends on the same device that pick their tiles for a GPU of another size: occupancy 1
// takes the largest tile for every product, Infinity the smallest, 10 the ones between.
// With slices > 0, every product (a step's too) whose tiles make fewer than slices × occupancy
// workgroups splits along K, whatever its size: in slices, or with groups > 1 between that many
// thread grids of a workgroup.
const slicing = (slices: number, groups = 0): Slicing =>
  ({ steps: slices, products: slices, stepMacs: 0, productMacs: 0, stepGroups: groups, productGroups: groups });
const sized = (occupancy: number, slices = 0, groups = 0): WebGPUBackend => new WebGPUBackend(dev().device, { occupancy, slicing: slicing(slices, groups) });
const limits = () => dev().tileLimits;
// The kernels a backend has made so far, by key (a key ends in _v01, _v10 or _v11 where it reads in vectors).
const kernelKeys = (be: WebGPUBackend): string[] => [...(be as unknown as { defs: Map<string, unknown> }).defs.keys()];
// A tile small enough to run twice in workgroup memory on 2 and 4 thread grids within Mesa's 32 KiB.
const SMALL_DOUBLE = doubleGemmTile({ name: 't16', BM: 16, BN: 16, BK: 8, RM: 2, RN: 2 });

t('gemm: all transpose cases, alpha and beta, odd shapes and offsets, every tile, whole or split along K; beta = 0 ignores NaN in C', async () => {
  // From a matrix-vector product (M = 1) to shapes that span several tiles of each size; split
  // along K (slices 4 at occupancy 10: into up to 4, the last one short; 1e9 at occupancy 1:
  // the largest tile in as many slices as K allows; or between 2 or 4 thread grids, whose
  // last K-steps run past K where it is short).
  const shapes = [[1, 1, 1], [3, 5, 7], [7, 3, 5], [5, 1, 9], [1, 17, 3], [1, 130, 40], [8, 257, 33], [9, 20, 17],
    [17, 33, 65], [65, 17, 33], [33, 65, 17], [50, 67, 128], [129, 3, 257], [200, 300, 19], [40, 50, 700]];
  let sliced = 0, grouped = 0, combined = 0;
  for (const [occupancy, slices, groups, both] of [[1, 0, 0], [10, 0, 0], [Infinity, 0, 0], [10, 4, 0], [1, 1e9, 0], [10, 4, 2], [1, 1e9, 4], [1, 1e9, 2, true]] as const) for (const [M, N, K] of shapes) for (const tA of [false, true]) for (const tB of [false, true]) {
    const be = sized(occupancy, slices, groups), p = new Twins(be);
    // `both`: thread grids and slices of them at once, as the GPU profiler may replay them.
    // (On the rule's tile where the device has the threads, else on the smallest, else whole.)
    const grids = (): GemmTile[] => [pickTile(M, N, occupancy), pickTile(M, N, Infinity)].map((t) => groupGemmTile(t, isSkinny(M) ? 1 : groups));
    const plan: GemmPlan = both
      ? sliceGemm(grids().find((t) => tileFits(t, limits())) ?? pickTile(M, N, occupancy), M, N, K, Infinity)
      : pickGemm(M, N, K, occupancy, slicing(slices, groups), limits());
    if (both) Object.assign(be, { gemmPlan: () => plan });
    if (plan.slices > 1) sliced++;
    if ((plan.tile.G ?? 1) > 1) grouped++;
    if (plan.slices > 1 && (plan.tile.G ?? 1) > 1) combined++;
    for (const [alpha, beta] of occupancy === 10 ? [[1, 0], [1, 1], [0.5, 1], [-2, 0.25], [0.3, 0]] : [[-2, 0.25]]) {
      const a = p.f(M * K), b = p.f(K * N);
      const c = beta === 0 ? p.of(new Float32Array(M * N).fill(NaN)) : p.f(M * N);
      const A = await p.ref.download(a.ref), B = await p.ref.download(b.ref), C = await p.ref.download(c.ref);
      p.dut.gemm(tA, tB, M, N, K, alpha, a.dut, b.dut, beta, c.dut);
      const label = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K} α=${alpha} β=${beta} occupancy ${occupancy} slices ×${slices} ${plan.tile.name}`;
      checkGemm(label, tA, tB, M, N, K, alpha, A, B, beta, C, await p.dut.download(c.dut));
      const whole = await p.dut.download(slice(c.dut.buf)), before = await p.ref.download(slice(c.ref.buf));
      for (let i = 0; i < whole.length; i++) {
        if (i < LEAD || i >= LEAD + M * N) assert.ok(Object.is(whole[i], before[i]) || (Number.isNaN(whole[i]) && Number.isNaN(before[i])), `${label}: wrote outside C at ${i}`);
      }
    }
  }
  assert.ok(sliced >= 20, `${sliced} sliced products`);
  assert.ok(grouped >= 20, `${grouped} products split between thread grids`);
  assert.ok(combined >= 12, `${combined} products on thread grids in slices`);
  // The slices' sums live in one scratch buffer, at most 2^24 values: a large output splits
  // into fewer slices, or none.
  const many = slicing(1e9);
  assert.equal(pickGemm(25600, 4096, 1024, 120, many, limits()).slices, 1);
  assert.equal(pickGemm(4096, 1024, 25600, 120, many, limits()).slices, 4);
  assert.equal(pickStep('lstm', 1024, 1024, 120, many, limits()).slices, 4);
  // Thread grids only where the device has the threads and workgroup memory: else slices.
  const large = { threads: 1024, sharedBytes: 32768 }, small = { threads: 256, sharedBytes: 16384 };
  assert.equal(pickGemm(4096, 1024, 25600, 120, slicing(1e9, 4), large).tile.name, 't64·4');
  assert.equal(pickGemm(4096, 1024, 25600, 120, slicing(1e9, 4), small).slices, 4);
  assert.equal(pickStep('lstm', 1024, 1024, 120, slicing(1e9, 2), large).tile.G, 2);
  assert.equal(pickStep('lstm', 1024, 1024, 120, slicing(1e9, 2), small).slices, 4);
  // K = 0 and alpha = 0 only scale C.
  const p = new Twins(dev()), c = p.f(12);
  p.run((be, s) => be.gemm(false, true, 3, 4, 0, 1, s(p.f(1)), s(p.f(1)), 0.5, s(c)));
  await p.same(c, 'gemm K=0 β=0.5');
});

t('addBias, gatherCols, gatherRows, scatterAddRows exactly; sumRows and scatterAddCols (a product) within rounding', async () => {
  const p = new Twins(dev());
  for (const [N, G, V] of [[1, 1, 1], [3, 5, 2], [7, 17, 5], [5, 33, 3], [2, 65, 7], [33, 7, 17], [300, 40, 9]]) {
    const out = p.f(N * G), b = p.f(G);
    p.run((be, s) => be.addBias(s(out), s(b), N, G));
    await p.same(out, `addBias ${N}×${G}`);
    const db = p.f(G), dout = p.f(N * G);
    p.run((be, s) => be.sumRows(s(db), s(dout), N, G));
    await p.same(db, `sumRows ${N}×${G}`, SUM_TOL * Math.sqrt(N));
    // Two outputs, in one buffer (a layer's two bias gradients) and in two.
    const both = p.f(3 * G), db2 = p.f(G);
    p.run((be, s) => be.sumRows(sub(s(both), 0, G), s(dout), N, G, sub(s(both), 2 * G, G)));
    p.run((be, s) => be.sumRows(s(db), s(dout), N, G, s(db2)));
    await p.same(both, `sumRows ${N}×${G} into two slices of one buffer`, SUM_TOL * Math.sqrt(N));
    await p.same(db, `sumRows ${N}×${G} into two buffers, first`, SUM_TOL * Math.sqrt(N));
    await p.same(db2, `sumRows ${N}×${G} into two buffers, second`, SUM_TOL * Math.sqrt(N));
    const ids = p.ids(N, V), w = p.f(G * V), o2 = p.f(N * G);
    p.run((be, s) => be.gatherCols(s(o2), s(w), s(ids), N, G, V));
    await p.same(o2, `gatherCols ${N}×${G}×${V}`);
    const dw = p.f(G * V);
    p.run((be, s) => be.scatterAddCols(s(dw), s(dout), s(ids), N, G, V));
    await p.same(dw, `scatterAddCols ${N}×${G}×${V}`, SUM_TOL * Math.sqrt(N));
    const E = G, table = p.f(V * E), emb = p.f(N * E), dtable = p.f(V * E);
    p.run((be, s) => be.gatherRows(s(emb), s(table), s(ids), N, E));
    await p.same(emb, `gatherRows ${N}×${E}`);
    p.run((be, s) => be.scatterAddRows(s(dtable), s(dout), s(ids), N, E));
    await p.same(dtable, `scatterAddRows ${N}×${E}`);
  }
});

t('LSTM, GRU and tanh cells forward and backward, with states sharing one buffer as the layers do', async () => {
  const p = new Twins(dev());
  for (const [B, H] of [[1, 1], [3, 5], [2, 7], [1, 17], [3, 33], [5, 65], [4, 300]]) {
    const pre = p.f(B * 4 * H, -6, 6), cs = p.f(2 * B * H, -2, 2); // c[t] and c[t+1] in one buffer
    const cPrev = (s: (x: Twin) => ReturnType<typeof sub>) => sub(s(cs), 0, B * H);
    const cNext = (s: (x: Twin) => ReturnType<typeof sub>) => sub(s(cs), B * H, B * H);
    const act = p.f(B * 4 * H), h = p.f(B * H);
    p.run((be, s) => be.lstmStep(s(pre), cPrev(s), s(act), cNext(s), s(h), B, H));
    for (const [x, n] of [[act, 'act'], [cs, 'c'], [h, 'h']] as const) await p.same(x, `lstmStep ${n} ${B}×${H}`, CELL_TOL);
    await p.sync(act);
    await p.sync(cs);
    const dh = p.f(B * H), dc = p.f(B * H), dpre = p.f(B * 4 * H);
    p.run((be, s) => be.lstmStepBackward(s(act), cNext(s), cPrev(s), s(dh), s(dc), s(dpre), B, H));
    await p.same(dpre, `lstmStepBackward dpre ${B}×${H}`, CELL_TOL);
    await p.same(dc, `lstmStepBackward dc ${B}×${H}`, CELL_TOL);

    const xi = p.f(B * 3 * H, -3, 3), hh = p.f(B * 3 * H, -3, 3), hPrev = p.f(B * H);
    const gact = p.f(B * 3 * H), gh = p.f(B * H);
    p.run((be, s) => be.gruStep(s(xi), s(hh), s(hPrev), s(gact), s(gh), B, H));
    await p.same(gact, `gruStep act ${B}×${H}`, CELL_TOL);
    await p.same(gh, `gruStep h ${B}×${H}`, CELL_TOL);
    await p.sync(gact);
    const dxi = p.f(B * 3 * H), dhh = p.f(B * 3 * H), dhs = p.f(2 * B * H); // dh[t−1] and dh[t] in one buffer
    p.run((be, s) => be.gruStepBackward(s(gact), s(hh), s(hPrev), sub(s(dhs), B * H, B * H), s(dxi), s(dhh), sub(s(dhs), 0, B * H), B, H));
    for (const [x, n] of [[dxi, 'dxi'], [dhh, 'dhh'], [dhs, 'dhPrev']] as const) await p.same(x, `gruStepBackward ${n} ${B}×${H}`, CELL_TOL);

    const n = B * H, y = p.f(n, -4, 4), th = p.f(n);
    p.run((be, s) => be.tanhForward(s(y), s(th), n));
    await p.same(th, `tanhForward ${n}`, CELL_TOL);
    p.run((be, s) => be.tanhForward(s(y), s(y), n));
    await p.same(y, `tanhForward in place ${n}`, CELL_TOL);
    const hy = p.f(n), dy = p.f(n), dp = p.f(n);
    p.run((be, s) => be.tanhBackward(s(hy), s(dy), s(dp), n));
    await p.same(dp, `tanhBackward ${n}`, 2 ** -22);
  }
});

// WGSL lets exp(x) be off by 3 + 2·|x| ulps, so a gate σ(x) for x ≪ 0 may be too: the bound
// below is that plus the reference's rounding and the gate's own arithmetic.
// Each step as the layers record it (src/model/*.ts): the recurrent product, then the cell.
// The reference runs them one after the other; the webgpu backend runs each pair as one
// dispatch, on every tile, with the states of all steps in one buffer as the layers keep them.
t('recurrent steps fused with their product equal the product then the cell, on every tile, whole or split along K', async () => {
  // Whole, a step asks for once or twice the workgroups of a product (stepOccupancy): with
  // B = 33 and H = 70, these reach every tile of both lists either way. Split (slicing.steps
  // > 0, here at any size), it runs on the largest tile in K slices, two dispatches: at
  // occupancy Infinity in as many slices as K allows, the last one short of a whole K-step;
  // H = 260 gives the ungated steps' long K-steps room for two slices. Or, with groups, on its
  // whole tile with K split between 2 or 4 thread grids, in one dispatch. Or both at once, on the
  // plans the GPU profiler replays (bench/gpu-profile.mjs; `both`): grids, and slices of them.
  const sliced = new Set<StepKind>(), grouped = new Set<StepKind>(), combined = new Set<StepKind>();
  // `extra` n: the n-th tile that only tuning picks (tuner.ts), else the rule's whole tile; with
  // `double`, its tiles twice in workgroup memory; on `groups` grids where it fits, whole or
  // (factor 1) in as many slices as K allows; with `vec`, reading h and W_hh in vectors of 4
  // where the layout allows (at offsets of 4: W_hh where H is a multiple of 4, h never, as its
  // buffer holds the step's output too).
  const configs: [number, number, number, (true | { extra?: number; double?: boolean; vec?: boolean })?][] = [[1, 0, 0], [3, 0, 0], [5, 0, 0], [8, 0, 0], [12, 0, 0], [Infinity, 0, 0],
    [8, 2, 0], [Infinity, 1, 0], [3, 2, 2], [Infinity, 1, 4], [1, 1, 2, true], [8, 1, 4, true],
    [120, 0, 0, { extra: 0 }], [120, 1, 2, { extra: 0 }], [120, 0, 2, { extra: 1 }], [120, 1, 0, { extra: 1 }], [120, 0, 0, { extra: 2 }],
    [1, 0, 0, { double: true }], [8, 1, 2, { double: true }], [120, 0, 0, { extra: 0, double: true }], [3, 1, 0, { double: true }],
    [120, 0, 0, { vec: true }], [1, 1, 0, { vec: true }], [3, 0, 0, { vec: true, double: true }]];
  const extras = new Set<string>(), doubled = new Set<StepKind>(), vectors = new Set<string>();
  for (const [occupancy, factor, groups, force] of configs) for (const [B, H] of [[1, 5], [3, 17], [33, 70], [5, 260]]) {
    const vec = typeof force === 'object' && force.vec === true;
    const be = sized(occupancy, factor, groups), p = new Twins(be, vec ? 4 : undefined);
    const planOf = (kind: StepKind): StepPlan => {
      if (force === true) {
        // On the rule's tile where the device has the threads, else on the smallest, else whole.
        const tiles = [occupancy, Infinity].map((o) => groupStepTile(pickStepTile(kind, B, H, o), groups));
        return sliceStep(kind, tiles.find((t) => stepTileFits(kind, t, limits())) ?? pickStepTile(kind, B, H, occupancy), B, H, Infinity);
      }
      if (force === undefined) return pickStep(kind, B, H, occupancy, slicing(factor, groups), limits());
      const all = extraStepTiles(kind), base = force.extra === undefined ? pickStepTile(kind, B, H, occupancy) : all[force.extra % all.length];
      if (force.extra !== undefined && !force.double) extras.add(`${kind} ${stepTileName(base)}`);
      const t = force.double && stepTileFits(kind, doubledOf(base), limits()) ? doubledOf(base) : base, g = groupStepTile(t, groups);
      return { ...sliceStep(kind, stepTileFits(kind, g, limits()) ? g : t, B, H, factor > 0 ? Infinity : 0), vec };
    };
    if (force !== undefined) Object.assign(be, { stepPlan: planOf }); // as tuning or the profiler runs a plan
    const fused = async (label: string, kind: StepKind, run: (be: Backend, s: Pick) => void): Promise<void> => {
      const before = be.stats.dispatches;
      p.run(run);
      const { slices, tile } = planOf(kind);
      if (slices > 1) sliced.add(kind);
      if ((tile.G ?? 1) > 1) grouped.add(kind);
      if (slices > 1 && (tile.G ?? 1) > 1) combined.add(kind);
      if (tile.double) doubled.add(kind);
      assert.equal(be.stats.dispatches - before, slices > 1 ? 2 : 1, `${label}: dispatches`);
    };
    const tag = `B=${B} H=${H} occupancy ${occupancy} slices ×${factor} groups ${groups}`;
    // The products sum K terms of magnitude below 1 in another order (by tile, by slice): the
    // difference grows with K, and what the cell computes from them inherits it.
    const tol = (K: number): number => CELL_TOL + K * 2 ** -22;
    const hs = p.f(2 * B * H), whh4 = p.f(4 * H * H, -0.3, 0.3), pre = p.f(B * 4 * H, -2, 2), cs = p.f(2 * B * H);
    const act = p.f(B * 4 * H), h = (s: Pick): Slice => sub(s(hs), 0, B * H), hNext = (s: Pick): Slice => sub(s(hs), B * H, B * H);
    await fused(`lstm ${tag}`, 'lstm', (be, s) => {
      be.gemm(false, true, B, 4 * H, H, 1, h(s), s(whh4), 1, s(pre));
      be.lstmStep(s(pre), sub(s(cs), 0, B * H), s(act), sub(s(cs), B * H, B * H), hNext(s), B, H);
    });
    for (const [x, n] of [[pre, 'pre'], [act, 'act'], [cs, 'c'], [hs, 'h']] as const) await p.same(x, `lstm ${n} ${tag}`, tol(H));
    const dhs = p.f(2 * B * H), dc = p.f(B * H), dpre = p.f(2 * B * 4 * H);
    await fused(`lstmBack ${tag}`, 'lstmBack', (be, s) => {
      be.gemm(false, false, B, H, 4 * H, 1, sub(s(dpre), B * 4 * H, B * 4 * H), s(whh4), 1, sub(s(dhs), 0, B * H));
      be.lstmStepBackward(s(act), sub(s(cs), B * H, B * H), sub(s(cs), 0, B * H), sub(s(dhs), 0, B * H), s(dc), sub(s(dpre), 0, B * 4 * H), B, H);
    });
    for (const [x, n] of [[dhs, 'dh'], [dc, 'dc'], [dpre, 'dpre']] as const) await p.same(x, `lstmBack ${n} ${tag}`, tol(4 * H));

    const whh3 = p.f(3 * H * H, -0.3, 0.3), bhh = p.f(3 * H), xi = p.f(B * 3 * H, -2, 2), hh = p.f(B * 3 * H), gact = p.f(B * 3 * H);
    await fused(`gru ${tag}`, 'gru', (be, s) => {
      be.gemm(false, true, B, 3 * H, H, 1, h(s), s(whh3), 0, s(hh));
      be.addBias(s(hh), s(bhh), B, 3 * H);
      be.gruStep(s(xi), s(hh), h(s), s(gact), hNext(s), B, H);
    });
    for (const [x, n] of [[hh, 'hh'], [gact, 'act'], [hs, 'h']] as const) await p.same(x, `gru ${n} ${tag}`, tol(H));
    const dhh = p.f(2 * B * 3 * H), dxi = p.f(B * 3 * H), ghs = p.f(3 * B * H);
    await fused(`gruBack ${tag}`, 'gruBack', (be, s) => {
      be.gemm(false, false, B, H, 3 * H, 1, sub(s(dhh), B * 3 * H, B * 3 * H), s(whh3), 1, sub(s(ghs), B * H, B * H));
      be.gruStepBackward(s(gact), s(hh), h(s), sub(s(ghs), B * H, B * H), s(dxi), sub(s(dhh), 0, B * 3 * H), sub(s(ghs), 0, B * H), B, H);
    });
    for (const [x, n] of [[dhh, 'dhh'], [dxi, 'dxi'], [ghs, 'dh']] as const) await p.same(x, `gruBack ${n} ${tag}`, tol(3 * H));

    const whh1 = p.f(H * H, -0.3, 0.3), rpre = p.f(2 * B * H, -2, 2), rdh = p.f(2 * B * H);
    await fused(`rnn ${tag}`, 'rnn', (be, s) => {
      be.gemm(false, true, B, H, H, 1, h(s), s(whh1), 1, sub(s(rpre), 0, B * H));
      be.tanhForward(sub(s(rpre), 0, B * H), hNext(s), B * H);
    });
    for (const [x, n] of [[rpre, 'pre'], [hs, 'h']] as const) await p.same(x, `rnn ${n} ${tag}`, tol(H));
    await fused(`rnnBack ${tag}`, 'rnnBack', (be, s) => {
      be.gemm(false, false, B, H, H, 1, sub(s(rpre), B * H, B * H), s(whh1), 1, sub(s(rdh), 0, B * H));
      be.tanhBackward(h(s), sub(s(rdh), 0, B * H), sub(s(rpre), 0, B * H), B * H);
    });
    for (const [x, n] of [[rpre, 'dpre'], [rdh, 'dh']] as const) await p.same(x, `rnnBack ${n} ${tag}`, tol(H));
    for (const key of kernelKeys(be)) if (/_v\d\d$/.test(key)) vectors.add(key.replace(/^step(Slice)?(\w+?)\d.*(_v\d\d)$/, '$2$3'));
  }
  assert.deepEqual([...sliced].sort(), ['gru', 'gruBack', 'lstm', 'lstmBack', 'rnn', 'rnnBack'], 'every step ran in slices');
  assert.deepEqual([...grouped].sort(), ['gru', 'gruBack', 'lstm', 'lstmBack', 'rnn', 'rnnBack'], 'every step ran split between thread grids');
  assert.deepEqual([...combined].sort(), ['gru', 'gruBack', 'lstm', 'lstmBack', 'rnn', 'rnnBack'], 'every step ran on thread grids in slices');
  assert.equal(extras.size, 14, `every tile only tuning picks ran: ${[...extras].join(', ')}`);
  assert.deepEqual([...doubled].sort(), ['gru', 'gruBack', 'lstm', 'lstmBack', 'rnn', 'rnnBack'], 'every step ran with its tiles twice in workgroup memory');
  assert.deepEqual([...vectors].sort(), ['gruBack_v01', 'gru_v01', 'lstmBack_v01', 'lstm_v01', 'rnnBack_v01', 'rnn_v01'], 'every step read W_hh in vectors');
});

t('gemm on the tiles only tuning picks, whole and in K slices, all transpose cases, ragged shapes', async () => {
  // Those no rule picks; and each tile (the rules' too) twice in workgroup memory, where it
  // fits; and a small one so, on 2 and 4 thread grids (the steps' tiles so are too large for
  // some devices, Mesa's 32 KiB among them).
  const doubled = [pickTile(64, 64, 1), pickTile(64, 64, Infinity), ...EXTRA_TILES].map(doubleGemmTile);
  const tiles = [...EXTRA_TILES, ...doubled, groupGemmTile(SMALL_DOUBLE, 2), groupGemmTile(SMALL_DOUBLE, 4)].filter((t) => tileFits(t, limits()));
  assert.ok(tiles.filter((t) => t.double).length >= 7, `${tiles.map((t) => t.name).join(', ')}`);
  let n = 0;
  for (const tile of tiles) for (const [M, N, K] of [[3, 5, 7], [129, 65, 33], [130, 257, 70]]) for (const tA of [false, true]) for (const tB of [false, true]) {
    for (const plan of [sliceGemm(tile, M, N, K, 0), sliceGemm(tile, M, N, K, Infinity)]) {
      const be = sized(120), p = new Twins(be), a = p.f(M * K), b = p.f(K * N), c = p.f(M * N);
      Object.assign(be, { gemmPlan: () => plan }); // as tuning or the profiler runs a plan
      const A = await p.ref.download(a.ref), B = await p.ref.download(b.ref), C = await p.ref.download(c.ref);
      p.dut.gemm(tA, tB, M, N, K, 0.5, a.dut, b.dut, 1, c.dut);
      checkGemm(`${tile.name} ÷${plan.slices} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K}`, tA, tB, M, N, K, 0.5, A, B, 1, C, await p.dut.download(c.dut));
      n += plan.slices > 1 ? 1 : 0;
    }
  }
  assert.ok(n >= 10, `${n} in slices`);
});

// A plan with vec reads A and B in vectors of 4 where a call's layout allows (gemmVec): offsets
// and rows (K, or M for a transposed A, N for a plain B) multiples of 4; elsewhere as floats.
t('gemm reading its operands in vectors of 4: all transpose cases, single and double tiles, grids and slices; floats where not aligned', async () => {
  const tiles = [pickTile(64, 64, 1), doubleGemmTile(pickTile(64, 64, 1)), T128, groupGemmTile(SMALL_DOUBLE, 2), groupGemmTile(SMALL_DOUBLE, 4)];
  const ran = new Set<string>();
  for (const tile of tiles) for (const [M, N, K] of [[132, 68, 36], [130, 257, 70], [12, 260, 6]]) for (const tA of [false, true]) for (const tB of [false, true]) {
    for (const [lead, slices] of [[4, 0], [4, Infinity], [3, 0]] as const) {
      const be = sized(120), p = new Twins(be, lead), a = p.f(M * K), b = p.f(K * N), c = p.f(M * N), bias = p.f(N);
      const plan = { ...sliceGemm(tile, M, N, K, slices), vec: true };
      Object.assign(be, { gemmPlan: () => plan });
      const label = `${tile.name}·v4 ÷${plan.slices} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K} at ${lead}`;
      const before = new Set(kernelKeys(be));
      p.run((be, s) => { be.gemm(tA, tB, M, N, K, 0.5, s(a), s(b), 1, s(c)); be.addBias(s(c), s(bias), M, N); });
      await p.same(c, label, 1e-6 + K * 2 ** -22);
      for (const key of kernelKeys(be)) if (!before.has(key)) ran.add(`${key.replace(/^gemm(Slice)?/, '')} ${lead}`);
    }
  }
  // Both operands in vectors, at offsets of 4 for every transpose case; one where only one's
  // rows are a multiple of 4 (12×260×6: K = 6); neither at offsets of 3.
  for (const tt of ['falsefalse', 'falsetrue', 'truefalse', 'truetrue']) assert.ok([...ran].some((k) => k.startsWith(tt) && k.endsWith('_v11 4')), `${tt}: ${[...ran].join(', ')}`);
  assert.ok([...ran].some((k) => /_v(10|01) 4$/.test(k)), 'one operand in vectors');
  assert.ok(![...ran].some((k) => /_v\d\d 3$/.test(k)), 'vectors at an offset of 3');
});

t('biases (and a fill with zeros before a gather) run in the dispatch of the product or gather they follow', async () => {
  // A product split along K adds them where it adds the slices (the second backend), or where
  // the thread grids' sums meet (the third).
  for (const [be, slices, groups] of [[dev(), 0, 0], [sized(120, 64), 64, 0], [sized(120, 64, 2), 64, 2]] as const) {
    const p = new Twins(be);
    const count = async (label: string, n: number, run: (be: Backend, s: Pick) => void): Promise<void> => {
      const before = be.stats.dispatches;
      p.run(run);
      await be.flush();
      assert.equal(be.stats.dispatches - before, n, `${label}: dispatches`);
    };
    for (const [M, N, K] of [[1, 65, 16], [7, 33, 9], [50, 130, 17], [50, 130, 300]]) {
      const a = p.f(M * K), w = p.f(N * K), c = p.f(M * N), b1 = p.f(N), b2 = p.f(N);
      const plan = pickGemm(M, N, K, 120, slicing(slices, groups), limits()), split = plan.slices > 1;
      if (slices > 0) assert.equal(split || plan.tile.G === groups, K === 300, `${M}×${N}×${K} split`);
      await count('gemm', split ? 2 : 1, (be, s) => { be.gemm(false, true, M, N, K, 1, s(a), s(w), 0, s(c)); be.addBias(s(c), s(b1), M, N); be.addBias(s(c), s(b2), M, N); });
      await p.same(c, `gemm + 2 biases ${M}×${N}×${K}${split ? ' in slices' : ''}`, 1e-6 + K * 2 ** -22);
      const ids = p.ids(M, K), o = p.f(M * N), wt = p.f(N * K);
      await count('zeros + gather', 1, (be, s) => { be.fill(s(o), 0); be.gatherCols(s(o), s(wt), s(ids), M, N, K); be.addBias(s(o), s(b1), M, N); be.addBias(s(o), s(b2), M, N); });
      await p.same(o, `zeros, gatherCols, 2 biases ${M}×${N}×${K}`);
      await count('gather', 1, (be, s) => { be.gatherCols(s(o), s(wt), s(ids), M, N, K); be.addBias(s(o), s(b1), M, N); });
      await p.same(o, `gatherCols += and a bias ${M}×${N}×${K}`);
      // Not folded: zeros over part of out only (unless that is all of it), a third bias.
      await count('partial zeros + gather', M === 1 ? 2 : 3, (be, s) => { be.fill(sub(s(o), 0, N), 0); be.gatherCols(s(o), s(wt), s(ids), M, N, K); be.addBias(s(o), s(b1), M, N); be.addBias(s(o), s(b2), M, N); be.addBias(s(o), s(b1), M, N); });
      await p.same(o, `partial zeros, gatherCols, 3 biases ${M}×${N}×${K}`);
    }
  }
});

// The dispatches of one training iteration of m, batch 3 × T.
async function dispatchesPerIteration(m: CharLM, T: number): Promise<number> {
  const be = m.backend as WebGPUBackend, B = 3, x = Int32Array.from({ length: T * B }, (_, i) => i % m.vocabSize), st = m.newState(B);
  const before = be.stats.dispatches;
  be.fill(m.grads, 0);
  await m.lossAndGrad(x, x, T, B, st, { train: true, seed: 1 });
  return be.stats.dispatches - before;
}

t('each time step of training costs two dispatches per layer (forward and backward, each fused)', async () => {
  const corpus = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const be = dev(), m = CharLM.create(be, { model, layers: 2, hidden: 8, dropout: 0.1 }, corpus.vocab.size, 1);
    const [a, b] = [await dispatchesPerIteration(m, 11), await dispatchesPerIteration(m, 12)];
    assert.equal(b - a, 2 * 2, `${model}: ${a} dispatches at T = 11, ${b} at T = 12`);
  }
});

// A layer's forward and backward in a dispatch each (persistent; kernels/sequence.ts). On a CPU
// renderer, which may run workgroups one after another, only where one workgroup holds every
// unit of its rows (hidden ≤ 16 forward, ≤ 32 backward on the rule's tiles for these shapes), in
// dispatches of 8 steps; on a GPU its workgroups of the same rows exchange h (backward, the
// gates' gradients) through the exchange buffer, once the first read-back's probe finds them all
// resident.
const cpuRenderer = (): boolean => (dev() as unknown as { samplerGroups: number }).samplerGroups === 1;
const persistentOn = (o: WebGPUBackendOptions = {}): WebGPUBackend =>
  new WebGPUBackend(dev().device, { persistent: true, ...(cpuRenderer() ? { samplerGroups: 1, samplerSteps: 8 } : {}), ...o });
type SequenceKernelState = { def: { key: string }; X: number; Y: number };
type SequenceState = { kind: StepKind; use: boolean | null; kernels: SequenceKernelState[]; kernel: SequenceKernelState };
const sequenceMap = (be: WebGPUBackend): Map<string, SequenceState> => (be as unknown as { sequences: Map<string, SequenceState> }).sequences;
const sequencesOf = (be: WebGPUBackend): SequenceState[] => [...sequenceMap(be).values()];
const sequencesRun = (be: WebGPUBackend): string[] => [...be.sequencePlans().values()];

t('persistent: an LSTM\'s, a GRU\'s and an RNN\'s forward and backward over the sequence, a dispatch each, train as js does (ragged sizes, several batch tiles, 2 layers, candidate tiles)', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const shapes = cpuRenderer() ? [[13, 20], [16, 7]] : [[13, 20], [100, 7], [300, 33]];
  for (const model of ['lstm', 'gru', 'rnn'] as const) for (const [hidden, batch] of shapes) {
    const config: Partial<ModelConfig> = { model, layers: 2, hidden, dropout: 0.2 }, be = persistentOn();
    const ref = await traceTraining(new JsBackend(), config, corpus, { batch });
    assertSameTraining(ref, await traceTraining(be, config, corpus, { batch }), `persistent ${model} ${hidden}×${batch}`, 1e-5);
    // Training (batch × 11) and evaluation shapes, forward and backward, each run in the sequence kernel.
    const run = sequencesRun(be);
    assert.ok(run.length >= 2 && run.every((k) => k.startsWith(`sequence_${model}`)), `${model} ${hidden}×${batch}: ${run}`);
    assert.ok(run.some((k) => k.startsWith(`sequence_${model}Back`)), `${model} ${hidden}×${batch}: ${run}`);
    const tiles = Math.max(...sequencesOf(be).map((s) => s.kernels.length));
    assert.ok(tiles >= 4, `${tiles} tiles`);
    // Where the step tile leaves several batch tiles (training, batch 20), taller tiles on fewer workgroups too.
    const several = sequencesOf(be).filter((s) => s.kernels[0].Y > 1);
    if (batch >= 20) assert.ok(several.length >= 2 && several.every((s) => s.kernels.some((k) => k.Y < s.kernels[0].Y)), 'no taller tile');
    // The LSTM on every candidate; the GRU and RNN, whose kernels differ from it only in the
    // cell, on every third and the last (longer K-steps, 2 and 4 grids, taller tiles, doubled).
    for (let g = 1; g < tiles; g++) {
      if (model !== 'lstm' && g % 3 !== 0 && g !== tiles - 1) continue;
      for (const s of sequencesOf(be)) s.kernel = s.kernels[Math.min(g, s.kernels.length - 1)];
      assertSameTraining(ref, await traceTraining(be, config, corpus, { batch }), `persistent ${model} ${hidden}×${batch} ${sequencesOf(be)[0].kernel.def.key}`, 1e-5);
    }
  }
});

// Where llvmpipe renders (Mesa's OpenGL ES), its threads run workgroups at once, so a batch
// tile's workgroups exchange values there as on a GPU: 2 of them, forward where a tile holds
// half of the units (16 of an LSTM's or GRU's 32; 32 of an RNN's 64), backward the same at 64.
// A thread's waits give up within CPU_RENDERER_SPIN turns of their loops in all (so before
// llvmpipe's own limit ends the kernel's loops unseen), and so does one whose partner another
// program holds off the cores for long enough: the run then goes on, as js trains, on the
// steps. So each case trains until its sequence kept the exchange through a whole run, in up to
// RUNS runs (with two other programs busy on both cores, 3 were the most it took in 24 cases),
// then with waits that may turn their loops once in all until it loses it: a wait answered at
// its first poll turns no loop, and a run in which nearly every wait was (one GRU backward
// here) keeps it.
const RUNS = 10;
const onLlvmpipe = (): boolean => /llvmpipe/i.test(dev().label);
// The runs `done` took until it answered yes (at most RUNS).
async function runsUntil(done: (run: string) => Promise<boolean>, never: string): Promise<number> {
  let run = 0, yes = false;
  while (!yes && run < RUNS) yes = await done(`run ${++run}`);
  assert.ok(yes, `${never} in none of ${RUNS} runs`);
  return run;
}
test('webgpu: persistent on llvmpipe: 2 workgroups of the same rows exchange h forward and the gates\' gradients backward through whole training runs, as js trains', { skip }, async (ctx) => {
  if (!onLlvmpipe()) return void ctx.skip('llvmpipe only: SwiftShader does not run workgroups that wait on one another at once, and on a GPU the test above exchanges between up to 19');
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const cases = [['lstm', 32, false], ['lstm', 64, true], ['gru', 32, false], ['gru', 64, true], ['rnn', 64, false], ['rnn', 64, true]] as const;
  const took: string[] = [];
  for (const [model, hidden, back] of cases) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden }, who = `${model} ${hidden} ${back ? 'backward' : 'forward'}`;
    const ref = await traceTraining(new JsBackend(), config, corpus, { batch: 4 });
    // This direction's sequences after a run on a backend whose waits may turn `spin` times in all, each on 2 workgroups.
    const trained = async (spin: number, run: string): Promise<SequenceState[]> => {
      const be = new WebGPUBackend(dev().device, { persistent: true, samplerGroups: 2, samplerSteps: 8, spin });
      assertSameTraining(ref, await traceTraining(be, config, corpus, { batch: 4 }), `${who}, ${run}`, 1e-5);
      const mine = sequencesOf(be).filter((q) => q.kind.endsWith('Back') === back);
      assert.ok(mine.length > 0 && mine.every((q) => q.kernel.X === 2), `${who}: workgroups per batch tile ${mine.map((q) => q.kernel.X)}`);
      return mine;
    };
    const runs = await runsUntil(async (run) => (await trained(CPU_RENDERER_SPIN, run)).every((q) => q.use === true),
      `${who}: the sequence kept the exchange between its workgroups (their waits gave up)`);
    // With waits that may turn once in all, one gives up: the flag is read, and the run goes on on the steps.
    const lost = await runsUntil(async (run) => (await trained(1, `spin 1, ${run}`)).every((q) => q.use === false),
      `${who}: with spin 1 the sequence lost the exchange`);
    took.push(`${who} ${runs}/${lost}`);
  }
  ctx.diagnostic(`runs until the exchange held / until it was lost with spin 1: ${took.join(', ')}`);
});

t('persistent: a layer\'s forward and backward are one dispatch each, whatever T', async () => {
  const corpus = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const make = (be: WebGPUBackend): CharLM => CharLM.create(be, { model, layers: 2, hidden: 8 }, corpus.vocab.size, 1);
    const m = make(persistentOn({ samplerSteps: 1000 })), steps = make(dev());
    await dispatchesPerIteration(m, 11);
    const [a, b, c] = [await dispatchesPerIteration(m, 11), await dispatchesPerIteration(m, 12), await dispatchesPerIteration(steps, 11)];
    assert.equal(b, a, `${model}: ${a} dispatches at T = 11, ${b} at T = 12`);
    // Step by step: 2 layers × (11 forward + 11 backward, the last without its product) … here 2 × 2.
    assert.ok(a <= c - 2 * 2 * 10, `${model}: ${a} dispatches, ${c} step by step`);
  }
});

t('persistent with tune: the sequence kernel runs where timed faster than the steps, and training matches js', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden: 16 }, be = persistentOn({ tune: true });
    assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), `persistent ${model} tuned`, 1e-5);
    const run = sequencesRun(be);
    assert.ok(run.length >= 2 && run.every((k) => k === 'steps' || k.startsWith(`sequence_${model}`)), `decided: ${run}`);
    // Each decision as timed: the steps and every candidate, the one kept the fastest.
    const times = be.sequenceTimes();
    assert.equal(times.size, run.length);
    for (const [shape, timed] of times) {
      const kept = be.sequencePlans().get(shape)!, least = Math.min(...timed.values());
      assert.equal(timed.size, 1 + sequenceMap(be).get(shape)!.kernels.length);
      assert.ok([...timed.values()].every((ms) => ms > 0 && Number.isFinite(ms)), `${shape}: ${[...timed]}`);
      assert.equal(timed.get(kept), least, `${shape}: kept ${kept}, timed ${[...timed]}`);
    }
  }
});

t('persistent: where a sequence kernel\'s wait gave up, the read-back says so, that sequence runs its steps from then on, and training runs the lost work again as js trains', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  type Live = SequenceState & { ex: Buf; B: number; H: number };
  // Per method: the argument its kernel writes garbage into when it loses step (made NaN here).
  const spoilt = { lstmForward: 2, lstmBackward: 4, gruForward: 2, gruBackward: 5, rnnForward: 1, rnnBackward: 2 } as const;
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden: 16, dropout: 0.1 }, be = persistentOn();
    // The forward's second run in the kernel (iteration 2) and the backward's third (iteration 2
    // run again) lose step: what they wrote is spoilt, and the flag set as a wait that gives up sets it.
    for (const [dir, nth] of [['Forward', 2], ['Backward', 3]] as const) {
      const name = `${model}${dir}` as keyof typeof spoilt, inner = be as unknown as Record<string, (...a: unknown[]) => boolean>;
      const run = inner[name].bind(be);
      let runs = 0;
      inner[name] = (...a: unknown[]): boolean => {
        if (!run(...a)) return false;
        if (++runs !== nth) return true;
        // The one shape of each direction (evaluation's is training's).
        const seq = (sequencesOf(be) as Live[]).find((q) => q.kind === (dir === 'Forward' ? model : `${model}Back`))!;
        const out = a[spoilt[name]] as Slice, skip = dir === 'Forward' ? seq.B * seq.H : 0;
        be.fill(sub(out, skip, out.length - skip), NaN);
        be.upload(slice(seq.ex, sequenceExchangeWords(seq.B, sequenceWidth(seq.kind, seq.H)) - 1, 1), Int32Array.of(1));
        return true;
      };
    }
    assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), `persistent ${model}, work lost`, 1e-5);
    // Training's shapes (evaluation's is the same) ran in the kernel until they lost step.
    assert.deepEqual([...be.sequencePlans().values()], ['steps', 'steps'], `${model}: ${[...be.sequencePlans()]}`);
  }
});

t('persistent with tune: a candidate whose waits give up while timed is left out, and the others are timed again', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const config: Partial<ModelConfig> = { model: 'lstm', layers: 1, hidden: 16 }, be = persistentOn({ tune: true });
  // Before the backward's decision, a candidate whose steps wait for a step 8 ahead, which
  // never comes before them.
  type Decide = (seq: SequenceState & { kind: string }, ...rest: unknown[]) => Promise<void>;
  const inner = be as unknown as { decideSequence: Decide };
  const decide = inner.decideSequence.bind(be), broken: string[] = [];
  inner.decideSequence = async (seq, ...rest) => {
    if (seq.kind === 'lstmBack') {
      const good = seq.kernels[0], def = good.def as unknown as { key: string; code: string };
      const code = def.code.replace(`want = tagOf(s + ${SEQUENCE_TAGS - 1}u)`, 'want = tagOf(s + 7u)');
      assert.notEqual(code, def.code);
      seq.kernels.splice(1, 0, { ...good, def: { ...def, key: `${def.key}_broken`, code } as unknown as { key: string } });
      broken.push(`${def.key}_broken`);
    }
    return decide(seq, ...rest);
  };
  assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), 'persistent tuned, a candidate broken', 1e-5);
  assert.ok(broken.length > 0, 'no backward sequence decided');
  assert.ok([...be.sequenceTimes().keys()].some((shape) => shape.startsWith('lstmBack')), 'the backward timed');
  for (const [shape, timed] of be.sequenceTimes()) {
    assert.ok(broken.every((k) => !timed.has(k)), `${shape}: ${[...timed.keys()]}`);
    assert.notEqual(be.sequencePlans().get(shape), 'undecided');
    if (shape.startsWith('lstmBack')) assert.ok(timed.size >= 3, `${shape}: the steps and the other candidates timed: ${[...timed.keys()]}`);
  }
});

t('gates saturate exactly and stay within the ulps WGSL allows over [−30, 30] and far beyond', async () => {
  const p = new Twins(dev());
  const B = 2, H = 1001, n = B * H;
  const pre = new Float32Array(4 * n).map((_, i) => -30 + 60 * ((i * 7919) % (4 * n)) / (4 * n - 1));
  pre.set([0, -0, 1e-20, -1e-20, 60, -60, 1e4, -1e4, 1e38, -1e38, 0.2499, -0.2501, 0.25], 11);
  const x = p.of(pre), cPrev = p.f(n, -30, 30), act = p.f(4 * n), c = p.f(n), h = p.f(n);
  p.run((be, s) => be.lstmStep(s(x), s(cPrev), s(act), s(c), s(h), B, H));
  const want = await p.ref.download(act.ref), got = await p.dut.download(act.dut);
  for (let i = 0; i < want.length; i++) {
    const saturated = want[i] === 0 || Math.abs(want[i]) === 1;
    const ulps = 6 + 2 * Math.min(Math.abs(pre[i]), 88);
    if (saturated ? got[i] !== want[i] : !(Math.abs(got[i] - want[i]) <= ulps * 2 ** -24 * Math.abs(want[i]) + 1e-30)) {
      assert.fail(`gate ${i} of pre-activation ${pre[i]}: js ${want[i]} webgpu ${got[i]}`);
    }
  }
  await p.same(h, 'h', CELL_TOL);
});

t('dropout masks are bit-identical to the host generator; mul exact', async () => {
  const p = new Twins(dev());
  for (const [seed, stream] of [[0, 0], [123, 65536], [4294967295, 2 ** 31 + 5], [7, 4294967295]]) {
    for (const [n, prob] of [[1, 0.5], [7, 0.2], [1003, 0.2], [4099, 0.5], [65, 0.9], [300, 0.3], [300, 0.7]]) {
      const x = p.f(n), mask = p.f(n), out = p.f(n);
      p.run((be, s) => be.dropout(s(x), s(out), s(mask), prob, seed, stream));
      await p.same(mask, `dropout mask n=${n} p=${prob} (${seed}, ${stream})`);
      // x·keep in f32 on the GPU, rounded once from f64 on the host.
      await p.same(out, `dropout out n=${n} p=${prob}`, 2 ** -23);
      await p.same(x, `dropout's input n=${n}, unchanged`);
      p.run((be, s) => be.dropout(s(x), s(x), s(mask), prob, seed, stream));
      await p.same(x, `dropout in place n=${n} p=${prob}`, 2 ** -23);
      const m = p.f(n);
      p.run((be, s) => be.mul(s(m), s(mask)));
      await p.same(m, `mul n=${n}`);
    }
  }
  // p = f32(0.3) exactly on the 24-bit grid: u = p must be kept, as the host's u < p says.
  const grid = 5033165 / 16777216, x = p.f(40000), mask = p.f(40000);
  p.run((be, s) => be.dropout(s(x), s(x), s(mask), grid, 1, 2));
  await p.same(mask, 'dropout at p on the 24-bit grid');
});

t('softmax cross-entropy and softmax within rounding', async () => {
  const p = new Twins(dev());
  for (const [N, V] of [[1, 1], [1, 2], [3, 5], [7, 65], [5, 97], [2, 300], [70, 3]]) {
    const logits = p.f(N * V, -8, 8), targets = p.ids(N, V), losses = p.f(N), dlogits = p.f(N * V);
    p.run((be, s) => be.softmaxXent(s(logits), s(targets), s(losses), s(dlogits), N, V, 1 / N));
    await p.same(losses, `softmaxXent losses ${N}×${V}`, SUM_TOL);
    await p.same(dlogits, `softmaxXent dlogits ${N}×${V}`, SUM_TOL);
    for (const temp of [1, 0.5, 1.7]) {
      const probs = p.f(N * V);
      p.run((be, s) => be.softmax(s(logits), s(probs), N, V, temp));
      await p.same(probs, `softmax ${N}×${V} T=${temp}`, SUM_TOL);
    }
  }
});

t('optimisers within f32 rounding of the f64 reference', async () => {
  const p = new Twins(dev());
  for (const n of [1, 2, 3, 5, 7, 17, 33, 65, 1001]) {
    const prm = p.f(n), g = p.f(n, -0.1, 0.1), cache = p.f(n, 0, 0.01);
    for (let it = 0; it < 3; it++) p.run((be, s) => be.rmsprop(s(prm), s(g), s(cache), 2e-3, 0.95, 1e-8));
    await p.same(prm, `rmsprop p n=${n}`, 1e-6);
    await p.same(cache, `rmsprop cache n=${n}`, 1e-6);
    const m = p.f(n, -0.01, 0.01), v = p.f(n, 0, 0.001);
    for (const step of [1, 2, 7]) p.run((be, s) => be.adam(s(prm), s(g), s(m), s(v), 1e-3, 0.9, 0.999, 1e-8, step));
    await p.same(prm, `adam p n=${n}`, 1e-6);
    await p.same(m, `adam m n=${n}`, 1e-6);
    await p.same(v, `adam v n=${n}`, 1e-6);
    for (let it = 0; it < 2; it++) p.run((be, s) => be.adagrad(s(prm), s(g), s(cache), 0.01, 1e-10));
    await p.same(prm, `adagrad p n=${n}`, 1e-6);
    await p.same(cache, `adagrad cache n=${n}`, 1e-6);
  }
});

t('sumSquares, clipByNorm, clamp, scale, fill, copy (overlapping too), int fill and copy', async () => {
  const p = new Twins(dev());
  for (const n of [1, 2, 3, 5, 7, 17, 33, 65, 1001, 100003]) {
    const x = p.f(n, -2, 2), out = p.f(1);
    p.run((be, s) => be.sumSquares(s(x), s(out)));
    await p.same(out, `sumSquares n=${n}`, 1e-6);
    await p.sync(out);
    for (const maxNorm of [1e9, 0.5]) {
      p.run((be, s) => be.clipByNorm(s(x), s(out), maxNorm));
      await p.same(x, `clipByNorm n=${n} max=${maxNorm}`, 2 ** -23);
    }
    const y = p.f(n, -0.2, 0.2);
    p.run((be, s) => be.clamp(s(y), -0.1, 0.1));
    await p.same(y, `clamp n=${n}`);
    for (const alpha of [0.5, -2]) {
      p.run((be, s) => be.scale(s(y), alpha));
      await p.same(y, `scale n=${n} α=${alpha}`);
    }
    p.run((be, s) => be.scale(s(y), 0.3));
    await p.same(y, `scale n=${n} α=0.3`, 2 ** -23);
    p.run((be, s) => be.fill(s(y), 0.1));
    await p.same(y, `fill n=${n}`);
    const src = p.f(n), dst = p.f(n);
    p.run((be, s) => be.copy(s(dst), s(src)));
    await p.same(dst, `copy n=${n}`);
  }
  for (const [from, to] of [[0, 3], [3, 0], [0, 29]]) {
    const buf = p.f(40);
    p.run((be, s) => be.copy(sub(s(buf), to, 11 + (to === 29 ? 0 : 19)), sub(s(buf), from, 11 + (to === 29 ? 0 : 19))));
    await p.same(buf, `copy ${from}→${to} within one buffer`);
  }
  // Copies that depend on each other (read what an earlier one wrote, write what it read) run
  // in order; independent ones share a dispatch.
  const q = p.f(64), r = p.f(64);
  const chain = (be: Backend, s: Pick): void => {
    const at = (t: Twin, o: number, n: number): Slice => sub(s(t), o, n);
    be.copy(at(r, 0, 8), at(q, 0, 8)); be.copy(at(r, 8, 8), at(q, 8, 8)); // independent
    be.copy(at(q, 16, 8), at(r, 0, 8)); // reads what the first wrote
    be.copy(at(r, 4, 8), at(q, 40, 8)); // writes over part of what the first wrote
    be.copy(at(q, 0, 8), at(q, 48, 8)); // writes over what the first read
    be.copy(at(r, 32, 20), at(r, 40, 20)); // overlapping, within one buffer
  };
  p.run(chain);
  await p.same(q, 'copy chain q');
  await p.same(r, 'copy chain r');
  // Int buffers never come back through download: read them through a gather.
  const ids = p.ids(9, 5), table = p.of(Float32Array.from({ length: 5 }, (_, i) => i)), got = p.f(9);
  p.run((be, s) => { be.fill(sub(s(ids), 2, 4), 3); be.copy(sub(s(ids), 6, 3), sub(s(ids), 0, 3)); be.gatherRows(s(got), s(table), s(ids), 9, 1); });
  await p.same(got, 'int fill and copy');
});

// The host sampler's draw, on probabilities from the reference softmax.
function hostDraw(probs: Float32Array, V: number, u: number, topK: number): { id: number; cdf: number[] } {
  const order = Array.from({ length: V }, (_, i) => i);
  if (topK > 0 && topK < V) order.sort((a, b) => probs[b] - probs[a] || a - b);
  const k = topK > 0 && topK < V ? topK : V;
  let total = 0;
  for (let i = 0; i < k; i++) total += probs[order[i]];
  const cdf: number[] = [];
  let acc = 0, id = -1;
  for (let i = 0; i < k; i++) {
    acc += k === V ? probs[order[i]] : probs[order[i]] / total;
    cdf.push(acc);
    if (id < 0 && u < acc) id = order[i];
  }
  return { id: id < 0 ? order[k - 1] : id, cdf };
}

t('drawRows draws what the host sampler draws from the same logits (temperature, top-k, argmax)', async () => {
  const be = dev(), js = new JsBackend();
  for (const [N, V] of [[1, 1], [1, 2], [37, 65], [20, 300], [5, 7]]) {
    const data = randoms(N * V, -4, 4);
    const logits = slice(be.alloc(N * V + 2), 2), ids = slice(be.allocInt(N + 1), 1), drawn = slice(be.alloc(N + 3), 3);
    be.upload(logits, data);
    const jl = slice(js.alloc(N * V)), jp = slice(js.alloc(N * V));
    js.upload(jl, data);
    for (const o of [{ temperature: 1, topK: 0, argmax: false }, { temperature: 0.6, topK: 0, argmax: false },
      { temperature: 1.3, topK: 3, argmax: false }, { temperature: 1, topK: 1, argmax: false }, { temperature: 1, topK: 0, argmax: true }]) {
      const seed = 77, index = 1000;
      be.drawRows(logits, ids, drawn, N, V, { ...o, seed, stream: Stream.sample, index });
      const got = await be.download(drawn);
      js.softmax(jl, jp, N, V, o.temperature);
      const probs = await js.download(jp);
      for (let n = 0; n < N; n++) {
        const row = probs.subarray(n * V, (n + 1) * V), u = uniform(seed, Stream.sample, index + n);
        const want = o.argmax ? hostDraw(row, V, 0, 1) : hostDraw(row, V, u, o.topK);
        // A different id is allowed only where u sits on a CDF boundary within f32 rounding.
        if (got[n] !== want.id && !want.cdf.some((c) => Math.abs(c - u) < 1e-6)) {
          assert.fail(`${JSON.stringify(o)} ${N}×${V} row ${n}: webgpu ${got[n]} host ${want.id} (u ${u})`);
        }
      }
    }
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

t('text sampled on the device equals the js backend\'s (argmax, temperatures, top-k, prime, several streams), in few dispatches', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const js = CharLM.create(new JsBackend(), { model: 'lstm', layers: 2, hidden: 32 }, corpus.vocab.size, 3);
  for await (const _ of train(js, corpus, { maxIters: 40, batch: 10, seq: 25, lr: 5e-3, evalEvery: 1000 })) { /* train */ }
  const be = dev();
  const model = new CharLM(be, js.config, corpus.vocab.size);
  model.importParams(await js.exportParams());
  const submits = be.stats.submits;
  for (const opts of [{ argmax: true, prime: 'Call me' }, { temperature: 1, seed: 42 }, { temperature: 0.7, seed: 7, prime: 'The ' },
    { topK: 5, seed: 3 }]) {
    const o = { length: 300, ...opts };
    assert.equal(await sampleText(model, corpus.vocab, o), await sampleText(js, corpus.vocab, o), JSON.stringify(o));
  }
  // 1,200 characters came back in a few dozen submits, not one (or more) per character.
  assert.ok(be.stats.submits - submits < 150, `${be.stats.submits - submits} submits`);
  // One stream is sampled by the backend's loop: one dispatch for many characters (8 on a CPU
  // renderer), not the nine kernels a character of this model takes one by one.
  const d0 = be.stats.dispatches;
  await sampleText(model, corpus.vocab, { length: 201, seed: 1 });
  assert.ok((be.stats.dispatches - d0) / 200 <= 0.25, `${(be.stats.dispatches - d0) / 200} dispatches per character`);
  const texts = async (m: CharLM): Promise<string[]> => sampleTexts(m, corpus.vocab, { length: 100, count: 3, seed: 11, temperature: 0.9 });
  assert.deepEqual(await texts(model), await texts(js));
});

// The backend's sampling loops as made so far: workgroups, flag word; null where lost or never made.
type SamplerLoop = { groups: number; waiting: { ex: Buf; word: number } };
const samplerLoops = (be: WebGPUBackend): Promise<(SamplerLoop | null)[]> =>
  Promise.all((be as unknown as { samplers: Map<string, Promise<SamplerLoop | null>> }).samplers.values());

// Sampling's loop (kernels/sampler.ts) against the js backend's layers, decoder and draw, on
// untrained models of every shape it generates code for. A hidden size above what one workgroup
// holds needs several, which a CPU renderer is not given (samplerGroups 1): there sampling falls
// back to a kernel per operation, and must still agree.
t('sampling\'s loop draws what the js backend draws: LSTM, GRU and RNN, one-hot and embedded input, 1–3 layers, ragged sizes', async () => {
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  const configs: Partial<ModelConfig>[] = [
    { model: 'lstm', layers: 1, hidden: 7 }, { model: 'lstm', layers: 3, hidden: 20, embedding: 5 },
    { model: 'gru', layers: 2, hidden: 33 }, { model: 'gru', layers: 1, hidden: 12, embedding: 40 },
    { model: 'rnn', layers: 2, hidden: 18 }, { model: 'rnn', layers: 1, hidden: 300 }];
  const be = dev();
  for (const [k, config] of configs.entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 10 + k);
    const model = new CharLM(be, js.config, vocab.size);
    model.importParams(await js.exportParams());
    for (const o of [{ length: 120, seed: k, temperature: 0.8 }, { length: 60, seed: 50 + k, topK: 4, prime: 'the ' }]) {
      const d0 = be.stats.dispatches;
      const text = await sampleText(model, vocab, o);
      const perChar = (be.stats.dispatches - d0) / o.length;
      assert.equal(text, await sampleText(js, vocab, o), `${JSON.stringify(config)} ${JSON.stringify(o)}`);
      if (js.config.hidden <= 256 && !o.prime) assert.ok(perChar < 0.5, `${JSON.stringify(config)}: ${perChar} dispatches per character`);
    }
  }
});

t('sampling\'s loop: where its wait gave up, the read-back says so, and sampling goes on step by step from where the lost stretch began, drawing what the loop would have', async () => {
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  for (const [k, config] of ([{ model: 'lstm', layers: 2, hidden: 24 }, { model: 'gru', layers: 1, hidden: 20 }, { model: 'rnn', layers: 2, hidden: 16 }] as const).entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 20 + k);
    // Weights well above their initial size, so that the state a stretch starts from shows in its draws.
    js.backend.upload(js.params, (await js.backend.download(js.params)).map((v) => 6 * v));
    const be = new WebGPUBackend(dev().device, cpuRenderer() ? { samplerGroups: 1, samplerSteps: 8 } : {});
    const model = new CharLM(be, js.config, vocab.size);
    model.importParams(await js.exportParams());
    // The loop's second stretch loses step: the state it leaves is spoilt, and the flag set as a
    // wait that gives up sets it.
    const make = be.sampleLoop.bind(be);
    let calls = 0;
    be.sampleLoop = async (net) => {
      const loop = await make(net), made = await samplerLoops(be);
      return loop && ((first, last, drawn, n, o) => {
        loop(first, last, drawn, n, o);
        if (++calls !== 2) return;
        be.fill(net.h, NaN);
        for (const l of made) if (l) be.upload(slice(l.waiting.ex, l.waiting.word, 1), Int32Array.of(1));
      });
    };
    const o = { length: 300, seed: 5, temperature: 0.9 };
    assert.equal(await sampleText(model, vocab, o), await sampleText(js, vocab, o), config.model);
    assert.ok(calls >= 3, `${config.model}: ${calls} stretches in the loop`);
    // The loop is not used again: the next sample is drawn step by step, and still alike.
    assert.deepEqual(await samplerLoops(be), [null]);
    const o2 = { length: 50, seed: 6, prime: 'the ' }, before = calls;
    assert.equal(await sampleText(model, vocab, o2), await sampleText(js, vocab, o2), config.model);
    assert.equal(calls, before);
  }
});

// On llvmpipe, as the sequence kernel's test above: sampling's loop on 2 workgroups, which pass
// each layer's h to each other, draws what js draws; with waits that may turn once in all it
// loses step (in a run or a few), and sampling goes on a kernel per operation, still drawing
// what js draws.
test('webgpu: sampling\'s loop on llvmpipe: 2 workgroups pass h to each other and draw what js draws', { skip }, async (ctx) => {
  if (!onLlvmpipe()) return void ctx.skip('llvmpipe only, as the persistent test on llvmpipe');
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  const took: string[] = [];
  for (const [k, config] of ([{ model: 'lstm', layers: 2, hidden: 24 }, { model: 'gru', layers: 1, hidden: 20 }, { model: 'rnn', layers: 2, hidden: 16 }] as const).entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 30 + k);
    js.backend.upload(js.params, (await js.backend.download(js.params)).map((v) => 6 * v));
    const o = { length: 300, seed: 7, temperature: 0.9 }, want = await sampleText(js, vocab, o);
    // The loop after a sample on a backend whose waits may turn `spin` times in all: its workgroups, or null where it lost step.
    const sampled = async (spin: number, run: string): Promise<SamplerLoop | null> => {
      const be = new WebGPUBackend(dev().device, { samplerGroups: 2, samplerSteps: 8, spin });
      const model = new CharLM(be, js.config, vocab.size);
      model.importParams(await js.exportParams());
      assert.equal(await sampleText(model, vocab, o), want, `${config.model}, ${run}`);
      const loops = await samplerLoops(be);
      assert.equal(loops.length, 1);
      return loops[0];
    };
    const runs = await runsUntil(async (run) => (await sampled(CPU_RENDERER_SPIN, run))?.groups === 2,
      `${config.model}: the loop kept 2 workgroups through the sample`);
    const lost = await runsUntil(async (run) => (await sampled(1, `spin 1, ${run}`)) === null,
      `${config.model}: with spin 1 the loop lost step`);
    took.push(`${config.model} ${runs}/${lost}`);
  }
  ctx.diagnostic(`runs until the loop held on 2 workgroups / until it lost step with spin 1: ${took.join(', ')}`);
});

t('a buffer of another backend or of the wrong type is refused; too large a buffer is a user error', async () => {
  const be = dev(), other = new JsBackend();
  assert.throws(() => be.fill(slice(other.alloc(4)), 1), /does not belong/);
  assert.throws(() => be.mul(slice(be.allocInt(4)), slice(be.alloc(4))), /expected an f32 buffer/);
  assert.throws(() => be.gatherRows(slice(be.alloc(4)), slice(be.alloc(4)), slice(be.alloc(4)), 4, 1), /expected an i32 buffer/);
  assert.throws(() => be.alloc(2 ** 40), (e: unknown) => e instanceof UserError && /MiB/.test(e.message));
  await assert.rejects(be.download(slice(be.allocInt(4))), /expected an f32 buffer/);
});

// ---- the Node loader ----------------------------------------------------------------------

type FakeAdapter = { info: Record<string, unknown>; limits: Record<string, number> };
const fakeDawn = (adapter: FakeAdapter | null) => async (): Promise<unknown> => ({ create: () => ({ requestAdapter: async () => adapter }) });

test('webgpu loader: no adapter, or no webgpu package, is one clear user error', async () => {
  await assert.rejects(loadWebGPUBackend({ importDawn: fakeDawn(null) }),
    (e: unknown) => e instanceof UserError && /^no WebGPU adapter found/.test(e.message) && !e.message.includes('\n'));
  const missing = Object.assign(new Error("Cannot find package 'webgpu' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  await assert.rejects(loadWebGPUBackend({ importDawn: () => Promise.reject(missing) }),
    (e: unknown) => e instanceof UserError && /npm install webgpu/.test(e.message));
  await assert.rejects(loadWebGPUBackend({ importDawn: async () => ({}) }), (e: unknown) => e instanceof UserError);
});

test('webgpu loader: auto takes only a hardware GPU; CPU renderers are recognised', async () => {
  const soft = { info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' }, limits: {} };
  assert.equal(isSoftwareAdapter(soft as unknown as GPUAdapter), true);
  assert.equal(isSoftwareAdapter({ info: { vendor: 'google', architecture: '', device: 'SwiftShader Device', description: '' } } as unknown as GPUAdapter), true);
  const h200 = { info: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: '' } } as unknown as GPUAdapter;
  assert.equal(isSoftwareAdapter(h200), false);
  // Tuning (timing plans on the device) and the sequence kernels where timed faster, on a GPU, not on a CPU renderer.
  assert.equal(backendOptions(h200).tune, true);
  assert.equal(backendOptions(h200).persistent, true);
  assert.equal(backendOptions(soft as unknown as GPUAdapter).tune, false);
  assert.equal(backendOptions(soft as unknown as GPUAdapter).persistent, false);
  // Waits bounded within llvmpipe's limit on its loops' turns; on a GPU only each wait's own 2²⁰ polls.
  assert.equal(backendOptions(soft as unknown as GPUAdapter).spin, CPU_RENDERER_SPIN);
  assert.ok(CPU_RENDERER_SPIN < 65_535);
  assert.equal(backendOptions(h200).spin, undefined);
  await assert.rejects(loadWebGPUBackend({ importDawn: fakeDawn(soft), hardwareOnly: true }), /no hardware GPU/);
  assert.equal(await tryHardwareWebGPU({ importDawn: fakeDawn(soft) }), null);
  if (!mayHaveGpu()) assert.equal((await createBackend('auto')).name, 'wasm');
});

test('a device below WebGPU\'s default limits (compatibility mode\'s) is refused with a user error', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 128, maxStorageBuffersPerShaderStage: 4 };
  assert.throws(() => new WebGPUBackend({ limits } as unknown as GPUDevice, { label: 'tiny' }),
    (e: unknown) => e instanceof UserError && /tiny.*128 threads per workgroup.*requestBackendDevice/.test(e.message));
});

test('createBackend("webgpu") is the webgpu backend, on Mesa where there is no GPU; tune passes through', { skip }, async () => {
  const be = await createBackend('webgpu');
  assert.equal(be.name, 'webgpu');
  assert.ok(be instanceof WebGPUBackend);
  if (!mayHaveGpu()) assert.equal(be.tune, false, 'a CPU renderer\'s default');
  for (const tune of [true, false]) {
    const own = await createBackend('webgpu', { tune });
    assert.ok(own instanceof WebGPUBackend && own.tune === tune, `tune: ${tune}`);
  }
});

// ---- the command line ---------------------------------------------------------------------

t('charrnn train says before a tuned first iteration that it tunes, and how not to', async () => {
  const tuned = new WebGPUBackend(dev().device, { tune: true, label: 'the GPU' });
  assert.match(tuningNote(tuned) ?? '', /first iteration also times the kernel plans of each large step and product on the GPU \(--no-tune keeps fixed plans\)/);
  const persistent = new WebGPUBackend(dev().device, { tune: true, persistent: true, label: 'the GPU' });
  assert.match(tuningNote(persistent) ?? '', /kernel plans .*, and each layer's sequence in one dispatch against its steps, on the GPU \(--no-tune/);
  assert.equal(tuningNote(new WebGPUBackend(dev().device, { tune: false })), null);
  assert.equal(tuningNote(new JsBackend()), null);
});

const BIN = resolve('bin/charrnn.js');
function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('charrnn train and sample with --backend webgpu; without an adapter one clear line', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'charrnn-webgpu-'));
  try {
    await writeFile(join(dir, 'input.txt'), corpusText.slice(0, 8000));
    const tr = await cli(['train', 'input.txt', '--backend', 'webgpu', '--no-tune', '--hidden', '16', '--batch', '4', '--seq', '16',
      '--max-iters', '20', '--eval-every', '10', '--json'], dir);
    assert.equal(tr.code, 0, tr.stderr);
    const events = tr.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; backend?: string; loss?: number });
    assert.equal(events[0].backend, 'webgpu');
    const losses = events.filter((e) => e.type === 'iteration').map((e) => e.loss!);
    assert.equal(losses.length, 20);
    assert.ok(losses[19] < losses[0], `loss ${losses[0]} → ${losses[19]}`);
    const args = ['sample', 'cv/latest.safetensors', '--length', '200', '--seed', '4', '-t', '0.8'];
    const gpuText = await cli([...args, '--backend', 'webgpu'], dir), jsText = await cli([...args, '--backend', 'js'], dir);
    assert.equal(gpuText.code, 0, gpuText.stderr);
    assert.equal([...gpuText.stdout.trimEnd()].length, 200);
    assert.equal(gpuText.stdout, jsText.stdout);
    const evalArgs = ['eval', 'cv/latest.safetensors', '--json', '--backend'];
    const [gpuEval, jsEval] = await Promise.all([cli([...evalArgs, 'webgpu', '--no-tune'], dir), cli([...evalArgs, 'js'], dir)]);
    assert.equal(gpuEval.code, 0, gpuEval.stderr);
    const loss = (r: { stdout: string }): number => (JSON.parse(r.stdout) as { loss: number }).loss;
    assert.ok(Math.abs(loss(gpuEval) - loss(jsEval)) < 1e-5 * loss(jsEval), `eval ${loss(gpuEval)} against js ${loss(jsEval)}`);

    // EGL with no display platform it can open, and Vulkan with no driver: Dawn finds no
    // adapter (and says so itself), on a machine with a GPU too.
    const hidden = { ...process.env, EGL_PLATFORM: 'none-such', VK_DRIVER_FILES: '/none-such.json', VK_ICD_FILENAMES: '/none-such.json' };
    const none = await cli(args.concat('--backend', 'webgpu'), dir, hidden);
    assert.equal(none.code, 1);
    assert.match(none.stderr.trimEnd().split('\n').at(-1)!, /^charrnn: no WebGPU adapter found/);
    assert.doesNotMatch(none.stderr, /UserError|\.js:\d+/);
    assert.equal(none.stdout, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
