// The wasm backend against the js reference: every kernel on random data with awkward
// shapes and offsets, for both builds (plain SIMD and relaxed SIMD), then whole training
// steps and sampled text. Kernels that do no transcendental math and no reordered sums
// are required to match bit for bit; the rest within a stated tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSameTraining, traceTraining } from './helpers/same-training.js';
import { checkGemm } from './helpers/gemm-check.js';
import { checkCells } from './helpers/cells-check.js';
import { LEAD, Twins, randoms, type Twin } from './helpers/twins.js';
import { relaxedSkip } from './helpers/relaxed.js';
import { slice, type Slice } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { hash3 } from '../src/backend/rng.js';
import { WasmBackend, WasmBuf } from '../src/backend/wasm/index.js';
import { loadWasmModule, type WasmFlavor } from '../src/node/wasm.js';
import { createBackend } from '../src/node/backend.js';
import { mayHaveGpu } from '../src/node/webgpu.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import { train } from '../src/train/loop.js';
import type { TrainOptions } from '../src/train/options.js';
import { sampleText } from '../src/sample/sample.js';
import { UserError } from '../src/errors.js';
import { resolveCorpusText } from '../src/node/datasets.js';

const flavors: [WasmFlavor, string | false][] = [['simd', false], ['relaxed', await relaxedSkip()]];
const backendOf = async (flavor: WasmFlavor): Promise<WasmBackend> =>
  WasmBackend.create((await loadWasmModule(flavor)).module);

const corpusText = (await resolveCorpusText('mobydick')).text.slice(0, 30_000);

const CELL_TOL = 2e-6; // f32 gates within 2.4 ulps (tight bounds: the accuracy test below), f32 arithmetic
// A fused step sums its products in another order than gemm: up to 260 terms of size ≤ 2, each
// sum off by a few ulps of its terms' total, which the gates pass on at most unchanged.
const STEP_TOL = 2e-5;

for (const [flavor, skip] of flavors) {
  const t = (name: string, fn: () => Promise<void>): void => { test(`wasm ${flavor}: ${name}`, { skip }, fn); };

  t('module flavour is the one asked for', async () => {
    assert.equal((await loadWasmModule(flavor)).flavor, flavor);
  });

  t('gemm: all transpose cases, alpha and beta, odd shapes and offsets; beta = 0 ignores NaN in C', async () => {
    const p = new Twins(await backendOf(flavor));
    const shapes = [[1, 1, 1], [3, 5, 7], [7, 3, 5], [5, 1, 9], [1, 17, 3], [17, 33, 65], [65, 17, 33],
      [33, 65, 17], [7, 129, 5], [50, 67, 128], [129, 3, 257]];
    for (const [M, N, K] of shapes) for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, 1], [-2, 0.25], [0.3, 0]]) {
        const a = p.f(M * K), b = p.f(K * N);
        const c = beta === 0 ? p.of(new Float32Array(M * N).fill(NaN)) : p.f(M * N);
        const A = await p.ref.download(a.ref), B = await p.ref.download(b.ref), C = await p.ref.download(c.ref);
        p.dut.gemm(tA, tB, M, N, K, alpha, a.dut, b.dut, beta, c.dut);
        const got = await p.dut.download(c.dut);
        const label = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K} α=${alpha} β=${beta}`;
        checkGemm(label, tA, tB, M, N, K, alpha, A, B, beta, C, got);
        // Nothing outside C may change.
        const whole = await p.dut.download(slice(c.dut.buf));
        const before = await p.ref.download(slice(c.ref.buf));
        for (let i = 0; i < whole.length; i++) {
          if (i < LEAD || i >= LEAD + M * N) assert.ok(Object.is(whole[i], before[i]) || (Number.isNaN(whole[i]) && Number.isNaN(before[i])), `${label}: wrote outside C at ${i}`);
        }
      }
    }
  });

  t('gemmPacked with a B packed once equals gemm bit for bit, across K and N blocks and ragged panels', async () => {
    const be = await backendOf(flavor);
    const p = new Twins(be);
    // K past one 256-row block, N past one 512-column block, N not a multiple of the 8-column panel.
    const shapes = [[2, 5, 7], [5, 17, 9], [17, 33, 65], [50, 67, 128], [129, 3, 257], [7, 300, 260], [9, 515, 33], [1, 9, 5]];
    for (const [M, N, K] of shapes) for (const tA of [false, true]) for (const tB of [false, true]) {
      const b = p.f(K * N), packed = p.f(be.packedLength(K, N));
      be.packB(tB, K, N, b.dut, packed.dut);
      const B = await be.download(b.dut);
      // The same packed B for products with different A, alpha and beta, as a sequence's steps.
      for (const [alpha, beta] of [[1, 0], [1, 1], [-0.5, 0.25]]) {
        const label = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K} α=${alpha} β=${beta}`;
        const a = p.f(M * K), c1 = p.f(M * N), c2 = p.of(await be.download(c1.dut));
        be.gemm(tA, tB, M, N, K, alpha, a.dut, b.dut, beta, c1.dut);
        be.gemmPacked(tA, tB, M, N, K, alpha, a.dut, b.dut, packed.dut, beta, c2.dut);
        const [want, got] = [await be.download(slice(c1.dut.buf)), await be.download(slice(c2.dut.buf))];
        for (let i = LEAD; i < LEAD + M * N; i++) assert.ok(Object.is(want[i], got[i]), `${label}: [${i - LEAD}] gemm ${want[i]} gemmPacked ${got[i]}`);
        checkGemm(label, tA, tB, M, N, K, alpha, await be.download(a.dut), B, beta, await p.ref.download(c1.ref), got.subarray(LEAD, LEAD + M * N));
      }
    }
  });

  t('addBias, sumRows, gatherCols, scatterAddCols, gatherRows, scatterAddRows match exactly', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const [N, G, V] of [[1, 1, 1], [3, 5, 2], [7, 17, 5], [5, 33, 3], [2, 65, 7], [33, 7, 17]]) {
      const out = p.f(N * G), b = p.f(G);
      p.run((be, s) => be.addBias(s(out), s(b), N, G));
      await p.same(out, `addBias ${N}×${G}`);
      const db = p.f(G), dout = p.f(N * G);
      p.run((be, s) => be.sumRows(s(db), s(dout), N, G));
      await p.same(db, `sumRows ${N}×${G}`);
      const db2 = p.f(G);
      p.run((be, s) => be.sumRows(s(db), s(dout), N, G, s(db2)));
      await p.same(db, `sumRows ${N}×${G} with a second output`);
      await p.same(db2, `sumRows ${N}×${G} second output`);
      const ids = p.ids(N, V), w = p.f(G * V), o2 = p.f(N * G);
      p.run((be, s) => be.gatherCols(s(o2), s(w), s(ids), N, G, V));
      await p.same(o2, `gatherCols ${N}×${G}×${V}`);
      const dw = p.f(G * V);
      p.run((be, s) => be.scatterAddCols(s(dw), s(dout), s(ids), N, G, V));
      await p.same(dw, `scatterAddCols ${N}×${G}×${V}`);
      const E = G, table = p.f(V * E), emb = p.f(N * E), dtable = p.f(V * E);
      p.run((be, s) => be.gatherRows(s(emb), s(table), s(ids), N, E));
      await p.same(emb, `gatherRows ${N}×${E}`);
      p.run((be, s) => be.scatterAddRows(s(dtable), s(dout), s(ids), N, E));
      await p.same(dtable, `scatterAddRows ${N}×${E}`);
    }
  });

  t('LSTM, GRU and tanh cells forward and backward, with states sharing one buffer as the layers do', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const [B, H] of [[1, 1], [3, 5], [2, 7], [1, 17], [3, 33], [5, 65]]) await checkCells(p, B, H, CELL_TOL, 0);
  });

  t('single-stream steps equal the input product, the recurrent product and the cell, for one-hot and dense input', async () => {
    const p = new Twins(await backendOf(flavor));
    // Hidden sizes that leave 1–3 units after the groups of four, inputs that leave k tails.
    for (const [H, In, oneHot] of [[1, 5, false], [3, 7, true], [13, 129, false], [17, 65, true], [33, 33, false], [130, 131, false]] as const) {
      const label = `H=${H} In=${In}${oneHot ? ' one-hot' : ''}`;
      const x = oneHot ? p.ids(1, In) : p.f(In, -2, 2), hPrev = p.f(H), cPrev = p.f(H, -2, 2), h = p.f(H);
      const r = p.ref, rs = (t: Twin): Slice => t.ref;
      for (const gates of [4, 3, 1]) {
        const G = gates * H, wih = p.f(G * In), whh = p.f(G * H), bih = p.f(G), bhh = p.f(G);
        // The reference runs the layer's separate calls; the backend under test, its one.
        const xi = p.f(G), hh = p.f(G), act = p.f(G), c = p.f(H);
        if (oneHot) { r.fill(rs(xi), 0); r.gatherCols(rs(xi), rs(wih), rs(x), 1, G, In); } else r.gemm(false, true, 1, G, In, 1, rs(x), rs(wih), 0, rs(xi));
        r.addBias(rs(xi), rs(bih), 1, G);
        r.gemm(false, true, 1, G, H, 1, rs(hPrev), rs(whh), 0, rs(hh));
        r.addBias(rs(hh), rs(bhh), 1, G);
        const w = [x.dut, oneHot, In, wih.dut, bih.dut, whh.dut, bhh.dut, hPrev.dut] as const;
        if (gates === 4) {
          r.gemm(false, true, 1, G, H, 1, rs(hPrev), rs(whh), 1, rs(xi));
          r.addBias(rs(xi), rs(bhh), 1, G);
          r.lstmStep(rs(xi), rs(cPrev), rs(act), rs(c), rs(h), 1, H);
          p.dut.lstmStepOne!(...w, cPrev.dut, act.dut, c.dut, h.dut, H);
          for (const [y, n] of [[act, 'act'], [c, 'c'], [h, 'h']] as const) await p.same(y, `lstmStepOne ${label} ${n}`, STEP_TOL);
        } else if (gates === 3) {
          r.gruStep(rs(xi), rs(hh), rs(hPrev), rs(act), rs(h), 1, H);
          p.dut.gruStepOne!(...w, act.dut, hh.dut, h.dut, H);
          for (const [y, n] of [[act, 'act'], [hh, 'hh'], [h, 'h']] as const) await p.same(y, `gruStepOne ${label} ${n}`, STEP_TOL);
        } else {
          r.gemm(false, true, 1, G, H, 1, rs(hPrev), rs(whh), 1, rs(xi));
          r.addBias(rs(xi), rs(bhh), 1, G);
          r.tanhForward(rs(xi), rs(h), H);
          p.dut.rnnStepOne!(...w, h.dut, H);
          await p.same(h, `rnnStepOne ${label} h`, STEP_TOL);
        }
      }
    }
  });

  // The vector exp, sigmoid and tanh (assembly/math.ts) through the cells, over [−30, 30] and
  // past saturation, with tails. ε = 2⁻²⁴, so an ulp is at most 2ε relative. A gate is within
  // 2.4 ulps of exact (measured over every 61st f32 up to |x| = 120, at most 3ε relative: σ
  // 1.8e-7, tanh 1.5e-7, 1 − tanh² 1.3e-7); the reference's one rounding adds half an ulp: 6ε. c = f·cPrev + i·g adds three roundings to
  // its two gates' errors, relative to the terms' sizes as the sum may cancel: 12ε. h = o·tanh(c)
  // has two gates and a rounding on top of tanh's sensitivity to c's error (1 − tanh² ≤ 1): 14ε.
  // Where the reference saturates to 0 or ±1 the result must be exactly that.
  t('cell gates are within a few ulps of exact over [−30, 30] and saturate exactly', async () => {
    const p = new Twins(await backendOf(flavor));
    const eps = 2 ** -24, B = 2, H = 1001, n = B * H;
    const span = (m: number, lo: number, hi: number, k: number): Float32Array => {
      const x = new Float32Array(m).map((_, i) => lo + (hi - lo) * ((i * k) % m) / (m - 1)); // shuffled grid
      x.set([0, -0, 1e-20, -1e-20, 60, -60, 1e4, -1e4, 1e38, -1e38], k % 97);
      return x;
    };
    const preData = span(4 * n, -30, 30, 7919), cPrevData = span(n, -30, 30, 613);
    const pre = p.of(preData), cPrev = p.of(cPrevData), act = p.f(4 * n), c = p.f(n), h = p.f(n);
    p.run((be, s) => be.lstmStep(s(pre), s(cPrev), s(act), s(c), s(h), B, H));
    const get = async (t: Twin): Promise<[Float32Array, Float32Array]> => [
      (await p.ref.download(slice(t.ref.buf))).subarray(LEAD, LEAD + t.n),
      (await p.dut.download(slice(t.dut.buf))).subarray(LEAD, LEAD + t.n)];
    const check = (label: string, i: number, want: number, got: number, bound: number): void => {
      const saturated = want === 0 || Math.abs(want) === 1;
      if (saturated ? !Object.is(got, want) && !(want === 0 && got === 0) : !(Math.abs(got - want) <= bound)) {
        assert.fail(`${label}[${i}]: js ${want} wasm ${got}, bound ${bound}`);
      }
    };
    const [aj, aw] = await get(act), [cj, cw] = await get(c), [hj, hw] = await get(h);
    const sech2 = (x: number): number => 1 / Math.cosh(x) ** 2;
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
      const r = b * 4 * H + j, u = b * H + j;
      for (let q = 0; q < 4; q++) check(`act gate ${q}`, u, aj[r + q * H], aw[r + q * H], 6 * eps * Math.abs(aj[r + q * H]));
      const [i, f, g, o] = [aj[r], aj[r + H], aj[r + 2 * H], aj[r + 3 * H]];
      const cBound = 12 * eps * (Math.abs(f * cPrevData[u]) + Math.abs(i * g));
      check('c', u, cj[u], cw[u], cBound);
      check('h', u, hj[u], hw[u], 14 * eps * Math.abs(hj[u]) + Math.abs(o) * sech2(cj[u]) * cBound);
    }

    // The backward's tanh(c) and 1 − tanh²(c), with the js forward's outputs on both sides: the
    // o gate's gradient dh·tanh(c)·o(1 − o) is a product, 5ε beyond tanh's; dc = dct·f sums
    // dc and dh·o·(1 − tanh²(c)), so relative to the terms' sizes.
    p.dut.upload(slice(act.dut.buf), await p.ref.download(slice(act.ref.buf)));
    p.dut.upload(slice(c.dut.buf), await p.ref.download(slice(c.ref.buf)));
    const dh = p.f(n), dc = p.f(n), dcIn = await p.ref.download(slice(dc.ref.buf)), dpre = p.f(4 * n);
    const dhData = (await p.ref.download(slice(dh.ref.buf))).subarray(LEAD, LEAD + n);
    p.run((be, s) => be.lstmStepBackward(s(act), s(c), s(cPrev), s(dh), s(dc), s(dpre), B, H));
    const [dj, dw] = await get(dpre), [dcj, dcw] = await get(dc);
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
      const r = b * 4 * H + j, u = b * H + j, f = aj[r + H], o = aj[r + 3 * H];
      check('dpre o', u, dj[r + 3 * H], dw[r + 3 * H], 11 * eps * Math.abs(dj[r + 3 * H]));
      const terms = Math.abs(dcIn[LEAD + u]) + Math.abs(dhData[u] * o) * sech2(cj[u]);
      check('dc', u, dcj[u], dcw[u], 10 * eps * Math.abs(f) * terms);
    }
  });

  t('dropout masks and the counter hash are bit-identical to the host generator', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const [seed, stream] of [[0, 0], [123, 65536], [4294967295, 2 ** 31 + 5], [7, 4294967295]]) {
      for (let i = 0; i < 2000; i++) {
        const index = i < 1000 ? i : (i * 2654435761) >>> 0;
        if (p.dut.hash3(seed, stream, index) !== hash3(seed, stream, index)) {
          assert.fail(`hash3(${seed}, ${stream}, ${index}): wasm ${p.dut.hash3(seed, stream, index)} js ${hash3(seed, stream, index)}`);
        }
      }
      // 0.3 and 0.7 keep 1/(1−p), which f32 cannot hold: the product must still round once from f64.
      for (const [n, prob] of [[1, 0.5], [7, 0.2], [1003, 0.3], [4099, 0.5], [65, 0.9], [258, 0.7], [33, 0]]) {
        const x = p.of(randoms(n, -3, 3).map((v, i) => [v, NaN, Infinity, -0, -Infinity, 3e38][i % 13 === 0 ? (i / 13) % 6 : 0])), mask = p.f(n);
        const out = p.f(n);
        p.run((be, s) => be.dropout(s(x), s(out), s(mask), prob, seed, stream));
        await p.same(mask, `dropout mask n=${n} p=${prob} (${seed}, ${stream})`);
        await p.same(out, `dropout out n=${n} p=${prob}`);
        await p.same(x, `dropout's input n=${n} p=${prob}, unchanged`);
        p.run((be, s) => be.dropout(s(x), s(x), s(mask), prob, seed, stream));
        await p.same(x, `dropout in place n=${n} p=${prob}`);
        const m = p.f(n);
        p.run((be, s) => be.mul(s(m), s(mask)));
        await p.same(m, `mul n=${n}`);
      }
    }
  });

  t('softmax cross-entropy and softmax', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const [N, V] of [[1, 1], [1, 2], [3, 5], [7, 65], [5, 97], [2, 300]]) {
      const logits = p.f(N * V, -8, 8), targets = p.ids(N, V), losses = p.f(N), dlogits = p.f(N * V);
      p.run((be, s) => be.softmaxXent(s(logits), s(targets), s(losses), s(dlogits), N, V, 1 / N));
      await p.same(losses, `softmaxXent losses ${N}×${V}`, 1e-6);
      await p.same(dlogits, `softmaxXent dlogits ${N}×${V}`, 1e-6);
      for (const temp of [1, 0.5, 1.7]) {
        const probs = p.f(N * V);
        p.run((be, s) => be.softmax(s(logits), s(probs), N, V, temp));
        await p.same(probs, `softmax ${N}×${V} T=${temp}`, 1e-6);
      }
    }
  });

  t('optimisers match exactly', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const n of [1, 2, 3, 5, 7, 17, 33, 65, 1001]) {
      const prm = p.f(n), g = p.f(n, -0.1, 0.1), cache = p.f(n, 0, 0.01);
      for (let it = 0; it < 3; it++) p.run((be, s) => be.rmsprop(s(prm), s(g), s(cache), 2e-3, 0.95, 1e-8));
      await p.same(prm, `rmsprop p n=${n}`);
      await p.same(cache, `rmsprop cache n=${n}`);
      const m = p.f(n, -0.01, 0.01), v = p.f(n, 0, 0.001);
      for (const step of [1, 2, 7]) p.run((be, s) => be.adam(s(prm), s(g), s(m), s(v), 1e-3, 0.9, 0.999, 1e-8, step));
      await p.same(prm, `adam p n=${n}`);
      await p.same(m, `adam m n=${n}`);
      await p.same(v, `adam v n=${n}`);
      for (let it = 0; it < 2; it++) p.run((be, s) => be.adagrad(s(prm), s(g), s(cache), 0.01, 1e-10));
      await p.same(prm, `adagrad p n=${n}`);
      await p.same(cache, `adagrad cache n=${n}`);
    }
  });

  t('sumSquares, clipByNorm, clamp, scale, fill, copy', async () => {
    const p = new Twins(await backendOf(flavor));
    for (const n of [1, 2, 3, 5, 7, 17, 33, 65, 1001, 100003]) {
      const x = p.f(n, -2, 2), out = p.f(1);
      p.run((be, s) => be.sumSquares(s(x), s(out)));
      await p.same(out, `sumSquares n=${n}`, 1e-7);
      // From here on both sides read the same norm, so the clip itself must match exactly.
      p.dut.upload(out.dut, await p.ref.download(out.ref));
      for (const maxNorm of [1e9, 0.5]) {
        p.run((be, s) => be.clipByNorm(s(x), s(out), maxNorm));
        await p.same(x, `clipByNorm n=${n} max=${maxNorm}`);
      }
      const y = p.f(n, -0.2, 0.2);
      p.run((be, s) => be.clamp(s(y), -0.1, 0.1));
      await p.same(y, `clamp n=${n}`);
      for (const alpha of [0.5, 0.3, -1 / 3]) {
        p.run((be, s) => be.scale(s(y), alpha));
        await p.same(y, `scale n=${n} α=${alpha}`);
      }
      p.run((be, s) => be.fill(s(y), 0.1));
      await p.same(y, `fill n=${n}`);
      const src = p.f(n), dst = p.f(n);
      p.run((be, s) => be.copy(s(dst), s(src)));
      await p.same(dst, `copy n=${n}`);
    }
    // Overlapping ranges of one buffer move as memmove does, both ways.
    for (const [from, to] of [[0, 3], [3, 0]]) {
      const buf = p.f(40);
      p.run((be, s) => be.copy({ buf: s(buf).buf, offset: s(buf).offset + to, length: 30 }, { buf: s(buf).buf, offset: s(buf).offset + from, length: 30 }));
      await p.same(buf, `overlapping copy ${from}→${to}`);
    }
    // Int buffers never come back through download; read the wasm one from its memory.
    const ints = slice(p.dut.allocInt(11), 3, 5);
    p.dut.fill(ints, 5);
    const ptr = (ints.buf as WasmBuf).ptr / 4;
    assert.deepEqual([...new Int32Array(p.dut.memory.buffer).subarray(ptr, ptr + 11)], [0, 0, 0, 5, 5, 5, 5, 5, 0, 0, 0]);
  });

  t('memory grows under live buffers, which keep their contents', async () => {
    const be = await backendOf(flavor);
    const a = slice(be.alloc(1000));
    const data = randoms(1000);
    be.upload(a, data);
    const big = slice(be.alloc(8 << 20)); // 32 MiB: beyond the initial memory
    be.fill(big, 1);
    assert.deepEqual(await be.download(a), data);
    assert.equal((await be.download(sliceOf(big, (8 << 20) - 3, 3)))[2], 1);
    assert.ok(be.bytesUsed > 32 << 20);
  });

  const models: [string, Partial<ModelConfig>, Partial<TrainOptions>][] = [
    ['lstm 2×16 one-hot, rmsprop', { model: 'lstm', layers: 2, hidden: 16, dropout: 0.2 }, {}],
    ['lstm 2×16 embedding 8, adam', { model: 'lstm', layers: 2, hidden: 16, dropout: 0.2, embedding: 8 }, { optimizer: 'adam' }],
    ['gru 2×16 one-hot, rmsprop', { model: 'gru', layers: 2, hidden: 16, dropout: 0.2 }, {}],
    ['gru 2×16 embedding 8, adagrad', { model: 'gru', layers: 2, hidden: 16, dropout: 0.2, embedding: 8 }, { optimizer: 'adagrad' }],
    ['rnn 2×16 one-hot, rmsprop', { model: 'rnn', layers: 2, hidden: 16, dropout: 0.2 }, {}],
    ['rnn 2×16 embedding 8, rmsprop with norm clipping', { model: 'rnn', layers: 2, hidden: 16, dropout: 0.2, embedding: 8 }, { clipNorm: 0.5 }],
  ];
  // Tolerances in helpers/same-training.ts; gradients within 1e-6 of the largest.
  for (const [name, config, opts] of models) {
    t(`three training iterations of a ${name} match js`, async () => {
      const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
      const ref = await traceTraining(new JsBackend(), config, corpus, opts);
      assertSameTraining(ref, await traceTraining(await backendOf(flavor), config, corpus, opts), 'wasm', 1e-6);
    });
  }

  // Batch-1 sampling takes the fused single-stream steps; the prime text, the sequence kernels.
  t('sampled text equals the js backend\'s (argmax and seeded temperature 1), for LSTM, GRU and RNN', async () => {
    const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
    for (const model of ['lstm', 'gru', 'rnn'] as const) {
      const js = CharLM.create(new JsBackend(), { model, layers: 2, hidden: 32 }, corpus.vocab.size, 3);
      for await (const _ of train(js, corpus, { maxIters: 40, batch: 10, seq: 25, lr: 5e-3, evalEvery: 1000 })) { /* train */ }
      const wasm = new CharLM(await backendOf(flavor), js.config, corpus.vocab.size);
      wasm.importParams(await js.exportParams());
      for (const opts of [{ argmax: true, prime: 'Call me' }, { temperature: 1, seed: 42 }, { temperature: 0.7, seed: 7, prime: 'The ' }]) {
        const o = { length: 300, ...opts };
        assert.equal(await sampleText(wasm, corpus.vocab, o), await sampleText(js, corpus.vocab, o), `${model} ${JSON.stringify(o)}`);
      }
    }
  });
}

function sliceOf(s: Slice, offset: number, length: number): Slice { return { buf: s.buf, offset: s.offset + offset, length }; }

// webgpu, and auto where a GPU may exist: test/webgpu-loader.test.ts.
test('createBackend: js, wasm and auto; unknown names are user errors', async () => {
  assert.equal((await createBackend('js')).name, 'js');
  assert.equal((await createBackend('wasm')).name, 'wasm');
  if (!mayHaveGpu()) assert.equal((await createBackend('auto')).name, 'wasm');
  await assert.rejects(createBackend('cuda'), (e: unknown) => e instanceof UserError && /unknown backend/.test(e.message));
});

test('a download resolves to the slice as the calls before it left it, whatever is called after', async () => {
  for (const be of [new JsBackend(), await backendOf('simd')]) {
    const x = slice(be.alloc(8));
    be.fill(x, 3);
    const asked = be.download(x);
    be.fill(x, 5);
    assert.deepEqual([...await asked], new Array(8).fill(3), be.name);
    assert.deepEqual([...await be.download(x)], new Array(8).fill(5), be.name);
  }
});

test('a buffer of another backend is refused', async () => {
  const [a, b] = [await backendOf('simd'), await backendOf('simd')];
  assert.throws(() => b.fill(slice(a.alloc(4)), 1), /does not belong/);
});
