// The webgpu backend's other kernels against the js reference, on Dawn over Mesa's CPU renderer
// where no GPU exists (CI): gathers and sums, the cells, dropout, softmax, optimisers, the
// elementwise kernels, the draw, and buffers it must refuse. Kernels without transcendental
// math or reordered sums must match bit for bit.
import assert from 'node:assert/strict';
import { checkCells } from './helpers/cells-check.js';
import { Twins, randoms, type Pick, type Twin } from './helpers/twins.js';
import { slice, sub, type Backend, type Slice } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { uniform, Stream } from '../src/backend/rng.js';
import { UserError } from '../src/errors.js';
import { CELL_TOL, SUM_TOL, dev, t } from './helpers/webgpu-device.js';

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
  // tanh's backward within 2 ulps: the device may fuse (1 − h²)·dh's multiply and add.
  for (const [B, H] of [[1, 1], [3, 5], [2, 7], [1, 17], [3, 33], [5, 65], [4, 300]]) await checkCells(p, B, H, CELL_TOL, 2 ** -22);
});

// WGSL lets exp(x) be off by 3 + 2·|x| ulps, so a gate σ(x) for x ≪ 0 may be too: the bound
// below is that plus the reference's rounding and the gate's own arithmetic.
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

t('a buffer of another backend or of the wrong type is refused; too large a buffer is a user error', async () => {
  const be = dev(), other = new JsBackend();
  assert.throws(() => be.fill(slice(other.alloc(4)), 1), /does not belong/);
  assert.throws(() => be.mul(slice(be.allocInt(4)), slice(be.alloc(4))), /expected an f32 buffer/);
  assert.throws(() => be.gatherRows(slice(be.alloc(4)), slice(be.alloc(4)), slice(be.alloc(4)), 4, 1), /expected an i32 buffer/);
  assert.throws(() => be.alloc(2 ** 40), (e: unknown) => e instanceof UserError && /MiB/.test(e.message));
  await assert.rejects(be.download(slice(be.allocInt(4))), /expected an f32 buffer/);
});
