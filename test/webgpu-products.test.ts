// The webgpu backend's matrix products against the js reference, on Dawn over Mesa's CPU
// renderer where no GPU exists (CI): every tile, whole or split along K, on awkward shapes and
// offsets; the recurrent steps fused with their product; biases in the product's dispatch.
import assert from 'node:assert/strict';
import { checkGemm } from './helpers/gemm-check.js';
import { LEAD, Twins, type Pick } from './helpers/twins.js';
import { slice, sub, type Backend, type Slice } from '../src/backend/backend.js';
import { extraStepTiles, groupStepTile, pickStep, pickStepTile, sliceStep, stepTileFits, stepTileName, type StepKind, type StepPlan } from '../src/backend/webgpu/kernels/step.js';
import { doubledOf, tileFits } from '../src/backend/webgpu/kernels/tile.js';
import { doubleGemmTile, EXTRA_TILES, T128, groupGemmTile, isSkinny, pickGemm, pickTile, sliceGemm, type GemmPlan, type GemmTile } from '../src/backend/webgpu/kernels/gemm.js';
import { CELL_TOL, dev, kernelKeys, limits, sized, slicing, t } from './helpers/webgpu-device.js';

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
