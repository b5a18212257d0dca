// The wasm backend on several threads: every kernel that splits between threads must give the
// one-thread result bit for bit (each element is still computed by the same code over the same
// operands), training must be reproducible whatever the thread count, and worker threads must
// never keep a process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGemm } from './helpers/gemm-check.js';
import { relaxedSkip } from './helpers/relaxed.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { slice, sub, type Backend, type Slice } from '../src/backend/backend.js';
import { uniform } from '../src/backend/rng.js';
import { WasmBackend } from '../src/backend/wasm/index.js';
import { loadWasmModule, type WasmFlavor } from '../src/node/wasm.js';
import { spawnNodeWorker } from '../src/node/wasm-workers.js';
import { createBackend } from '../src/node/backend.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import { train } from '../src/train/loop.js';
import type { TrainOptions } from '../src/train/options.js';
import { resolveCorpusText } from '../src/node/datasets.js';
import { sampleTexts } from '../src/sample/sample.js';
import { samplerNet } from '../src/sample/device.js';
import { UserError } from '../src/errors.js';

const LEAD = 3; // data starts this many floats into each buffer: neither 0 nor a multiple of 4
const TAIL = 5;
const THREADS = [1, 2, 3];

let seedCounter = 5000;
function randoms(n: number, lo = -1, hi = 1): Float32Array {
  const s = seedCounter++;
  return new Float32Array(n).map((_, i) => lo + (hi - lo) * uniform(s, 3, i));
}


async function backends(flavor: WasmFlavor): Promise<WasmBackend[]> {
  const { module } = await loadWasmModule(flavor);
  return Promise.all(THREADS.map((threads) => WasmBackend.create(module, { threads, spawnWorker: spawnNodeWorker })));
}

/** The same data in every backend, LEAD floats into a buffer with guards after it. */
class Twins {
  constructor(readonly bes: WasmBackend[]) {}
  of(data: Float32Array | Int32Array): Slice[] {
    const whole = data instanceof Int32Array ? new Int32Array(LEAD + data.length + TAIL) : randoms(LEAD + data.length + TAIL, -9, 9);
    whole.set(data, LEAD);
    return this.bes.map((be) => {
      const buf = data instanceof Int32Array ? be.allocInt(whole.length) : be.alloc(whole.length);
      be.upload(slice(buf), whole);
      return slice(buf, LEAD, data.length);
    });
  }
  f(n: number, lo = -1, hi = 1): Slice[] { return this.of(randoms(n, lo, hi)); }
  /** Runs fn on every backend; asserts that each one split it when it has several threads. */
  run(label: string, fn: (be: WasmBackend, i: number) => void): void {
    this.bes.forEach((be, i) => {
      const before = be.splitCount;
      fn(be, i);
      if (be.threads > 1) assert.ok(be.splitCount > before, `${label}: ran on one thread with ${be.threads}`);
    });
  }
  /** The whole buffers, guards included, are identical bit for bit on every backend. */
  async same(s: Slice[], label: string): Promise<Float32Array> {
    const [first, ...rest] = await Promise.all(s.map((x, i) => this.bes[i].download(slice(x.buf))));
    rest.forEach((other, t) => {
      for (let i = 0; i < first.length; i++) {
        if (!Object.is(first[i], other[i]) && !(Number.isNaN(first[i]) && Number.isNaN(other[i]))) {
          assert.fail(`${label}: [${i - LEAD}] 1 thread ${first[i]}, ${THREADS[t + 1]} threads ${other[i]}`);
        }
      }
    });
    return first.subarray(LEAD, LEAD + s[0].length);
  }
}

const flavors: [WasmFlavor, string | false][] = [['simd', false], ['relaxed', await relaxedSkip()]];

for (const [flavor, skip] of flavors) {
  const t = (name: string, fn: () => Promise<void>): void => { test(`wasm ${flavor} threads: ${name}`, { skip }, fn); };

  t('gemm: every transpose case on awkward shapes equals the one-thread result and the reference', async () => {
    const p = new Twins(await backends(flavor));
    // Row splits (M ≥ N), column splits, a matrix-vector product, the model's own shapes, and
    // sizes that leave ragged register blocks in every share.
    const shapes = [[67, 45, 131], [37, 203, 53], [129, 257, 5], [301, 33, 21], [1, 1001, 131], [50, 512, 128],
      [50, 128, 512], [513, 35, 300], [65, 128, 250], [250, 65, 128]];
    for (const [M, N, K] of shapes) for (const tA of [false, true]) for (const tB of [false, true]) {
      for (const [alpha, beta] of [[1, 0], [1, 1], [-0.5, 0.25]]) {
        const label = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K} α=${alpha} β=${beta}`;
        const a = p.f(M * K), b = p.f(K * N);
        const c = beta === 0 ? p.of(new Float32Array(M * N).fill(NaN)) : p.f(M * N);
        const A = await p.bes[0].download(a[0]), B = await p.bes[0].download(b[0]), C = await p.bes[0].download(c[0]);
        p.run(label, (be, i) => be.gemm(tA, tB, M, N, K, alpha, a[i], b[i], beta, c[i]));
        const got = await p.same(c, label);
        checkGemm(label, tA, tB, M, N, K, alpha, A, B, beta, C, got);
      }
    }
  });

  t('packB and gemmPacked split by columns equal one thread and gemm', async () => {
    const p = new Twins(await backends(flavor));
    for (const [M, N, K] of [[50, 2048, 512], [50, 512, 2048], [37, 403, 301], [129, 1030, 65]]) for (const tB of [false, true]) {
      const label = `${tB ? 'NT' : 'NN'} ${M}×${N}×${K}`;
      const a = p.f(M * K), b = p.f(K * N), packed = p.f(p.bes[0].packedLength(K, N)), c = p.f(M * N);
      const want = p.of(await p.bes[0].download(c[0]));
      p.run(`packB ${label}`, (be, i) => be.packB(tB, K, N, b[i], packed[i]));
      await p.same(packed, `packB ${label}`);
      p.run(`gemmPacked ${label}`, (be, i) => be.gemmPacked(false, tB, M, N, K, 1, a[i], b[i], packed[i], 1, c[i]));
      const got = await p.same(c, `gemmPacked ${label}`);
      p.bes[0].gemm(false, tB, M, N, K, 1, a[0], b[0], 1, want[0]);
      const ref = await p.bes[0].download(want[0]);
      for (let i = 0; i < ref.length; i++) assert.ok(Object.is(ref[i], got[i]), `${label}: [${i}] gemm ${ref[i]} gemmPacked ${got[i]}`);
    }
  });

  t('cells, softmax cross-entropy, optimisers and elementwise kernels split by rows or elements match one thread', async () => {
    const p = new Twins(await backends(flavor));
    for (const [B, H] of [[50, 129], [37, 128], [11, 515]]) {
      const pre = p.f(B * 4 * H, -4, 4), cPrev = p.f(B * H, -2, 2), act = p.f(B * 4 * H), c = p.f(B * H), h = p.f(B * H);
      p.run('lstmStep', (be, i) => be.lstmStep(pre[i], cPrev[i], act[i], c[i], h[i], B, H));
      for (const [x, n] of [[act, 'act'], [c, 'c'], [h, 'h']] as const) await p.same(x, `lstmStep ${n} ${B}×${H}`);
      const dh = p.f(B * H), dc = p.f(B * H), dpre = p.f(B * 4 * H);
      p.run('lstmStepBackward', (be, i) => be.lstmStepBackward(act[i], c[i], cPrev[i], dh[i], dc[i], dpre[i], B, H));
      await p.same(dpre, `lstmStepBackward dpre ${B}×${H}`);
      await p.same(dc, `lstmStepBackward dc ${B}×${H}`);
      const xi = p.f(B * 3 * H, -3, 3), hh = p.f(B * 3 * H, -3, 3), gact = p.f(B * 3 * H), gh = p.f(B * H);
      p.run('gruStep', (be, i) => be.gruStep(xi[i], hh[i], cPrev[i], gact[i], gh[i], B, H));
      await p.same(gact, `gruStep act ${B}×${H}`);
      await p.same(gh, `gruStep h ${B}×${H}`);
      const dxi = p.f(B * 3 * H), dhh = p.f(B * 3 * H), dhPrev = p.f(B * H);
      p.run('gruStepBackward', (be, i) => be.gruStepBackward(gact[i], hh[i], cPrev[i], dh[i], dxi[i], dhh[i], dhPrev[i], B, H));
      for (const [x, n] of [[dxi, 'dxi'], [dhh, 'dhh'], [dhPrev, 'dhPrev']] as const) await p.same(x, `gruStepBackward ${n} ${B}×${H}`);
    }
    // The fused single-stream steps, split by hidden units: shares of 4 units and a ragged last one.
    for (const [H, In, oneHot] of [[130, 900, false], [515, 65, true], [256, 256, false]] as const) {
      const x = oneHot ? p.of(new Int32Array([In - 2])) : p.f(In, -2, 2), hPrev = p.f(H), cPrev = p.f(H, -2, 2);
      const c = p.f(H), h = p.f(H), label = `H=${H} In=${In}`;
      for (const gates of [4, 3, 1]) {
        const G = gates * H, wih = p.f(G * In), whh = p.f(G * H), bih = p.f(G), bhh = p.f(G), act = p.f(G), hh = p.f(G);
        const w = (i: number) => [x[i], oneHot, In, wih[i], bih[i], whh[i], bhh[i], hPrev[i]] as const;
        if (gates === 4) p.run(`lstmStepOne ${label}`, (be, i) => be.lstmStepOne(...w(i), cPrev[i], act[i], c[i], h[i], H));
        if (gates === 3) p.run(`gruStepOne ${label}`, (be, i) => be.gruStepOne(...w(i), act[i], hh[i], h[i], H));
        if (gates === 1) p.run(`rnnStepOne ${label}`, (be, i) => be.rnnStepOne(...w(i), h[i], H));
        for (const [y, n] of [[act, 'act'], [hh, 'hh'], [c, 'c'], [h, 'h']] as const) await p.same(y, `${gates}-gate step ${label} ${n}`);
      }
    }
    for (const [N, V] of [[2500, 65], [301, 97]]) {
      const logits = p.f(N * V, -8, 8), losses = p.f(N), dlogits = p.f(N * V);
      const targets = p.of(new Int32Array(N).map((_, i) => Math.min(V - 1, Math.floor(uniform(77, 1, i) * V))));
      p.run('softmaxXent', (be, i) => be.softmaxXent(logits[i], targets[i], losses[i], dlogits[i], N, V, 1 / N));
      await p.same(losses, `softmaxXent losses ${N}×${V}`);
      await p.same(dlogits, `softmaxXent dlogits ${N}×${V}`);
      const G = 4 * V, out = p.f(N * G), bias = p.f(G), w = p.f(G * V);
      p.run('addBias', (be, i) => be.addBias(out[i], bias[i], N, G));
      await p.same(out, `addBias ${N}×${G}`);
      p.run('gatherCols', (be, i) => be.gatherCols(out[i], w[i], targets[i], N, G, V));
      await p.same(out, `gatherCols ${N}×${G}×${V}`);
    }
    for (const n of [65_543, 200_003]) {
      const prm = p.f(n), g = p.f(n, -0.1, 0.1), cache = p.f(n, 0, 0.01), m = p.f(n, -0.01, 0.01), v = p.f(n, 0, 0.001);
      p.run('rmsprop', (be, i) => be.rmsprop(prm[i], g[i], cache[i], 2e-3, 0.95, 1e-8));
      p.run('adam', (be, i) => be.adam(prm[i], g[i], m[i], v[i], 1e-3, 0.9, 0.999, 1e-8, 3));
      p.run('adagrad', (be, i) => be.adagrad(prm[i], g[i], cache[i], 0.01, 1e-10));
      for (const [x, name] of [[prm, 'p'], [cache, 'cache'], [m, 'm'], [v, 'v']] as const) await p.same(x, `optimisers ${name} n=${n}`);
      const x = p.f(n, -2, 2), mask = p.f(n), y = p.f(n), sumsq = p.of(new Float32Array([n / 4]));
      p.run('dropout', (be, i) => be.dropout(x[i], y[i], mask[i], 0.3, 9, 77));
      p.run('dropout in place', (be, i) => be.dropout(x[i], x[i], mask[i], 0.4, 9, 78));
      p.run('mul', (be, i) => be.mul(x[i], mask[i]));
      p.run('clamp', (be, i) => be.clamp(x[i], -0.3, 0.4));
      p.run('scale', (be, i) => be.scale(x[i], -1 / 3));
      p.run('clipByNorm', (be, i) => be.clipByNorm(x[i], sumsq[i], 1));
      p.run('tanhForward', (be, i) => be.tanhForward(mask[i], y[i], n));
      p.run('tanhBackward', (be, i) => be.tanhBackward(y[i], x[i], mask[i], n));
      for (const [z, name] of [[x, 'x'], [y, 'y'], [mask, 'mask']] as const) await p.same(z, `elementwise ${name} n=${n}`);
    }
  });
}

const corpusText = (await resolveCorpusText('mobydick')).text.slice(0, 60_000);

const models: [string, Partial<ModelConfig>, Partial<TrainOptions>][] = [
  ['lstm 2×16 one-hot, rmsprop, batch 50 × 50', { model: 'lstm', layers: 2, hidden: 16 }, { batch: 50, seq: 50 }],
  ['lstm 2×64 embedding 16, dropout, adam', { model: 'lstm', layers: 2, hidden: 64, dropout: 0.3, embedding: 16 },
    { batch: 32, seq: 20, optimizer: 'adam' }],
  ['gru 2×48 one-hot, dropout, adagrad, norm clipping', { model: 'gru', layers: 2, hidden: 48, dropout: 0.2 },
    { batch: 40, seq: 16, optimizer: 'adagrad', clipNorm: 0.5 }],
  ['rnn 2×96 one-hot', { model: 'rnn', layers: 2, hidden: 96 }, { batch: 30, seq: 20 }],
];

for (const [name, config, opts] of models) {
  test(`three training iterations of a ${name} are bit-identical on 1, 2 and 3 threads`, async () => {
    const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
    const { module } = await loadWasmModule();
    const results: { losses: number[]; params: Float32Array; splits: number }[] = [];
    for (const threads of THREADS) {
      const be = await WasmBackend.create(module, { threads, spawnWorker: spawnNodeWorker });
      const model = CharLM.create(be, config, corpus.vocab.size, 5);
      const losses: number[] = [];
      for await (const e of train(model, corpus, { maxIters: 3, evalEvery: 3, seed: 9, ...opts })) {
        if (e.type === 'iteration') losses.push(e.loss, e.gradNorm);
        if (e.type === 'eval') losses.push(e.valLoss);
      }
      results.push({ losses, params: await be.download(model.params), splits: be.splitCount });
      be.dispose();
    }
    const [one, ...more] = results;
    assert.equal(one.losses.length, 7);
    more.forEach((r, t) => {
      assert.ok(r.splits > 0, `${THREADS[t + 1]} threads split no kernel`);
      assert.deepEqual(r.losses, one.losses, `losses on ${THREADS[t + 1]} threads`);
      for (let i = 0; i < one.params.length; i++) {
        if (!Object.is(one.params[i], r.params[i])) assert.fail(`parameter ${i}: 1 thread ${one.params[i]}, ${THREADS[t + 1]} threads ${r.params[i]}`);
      }
    });
  });
}

// The backend as one without sampleLoop and drawRows: sampling then takes the step-by-step path,
// downloading the probabilities and drawing on the host.
function hostPath(be: WasmBackend): Backend {
  return new Proxy(be, {
    get(target, key) {
      if (key === 'sampleLoop' || key === 'drawRows') return undefined;
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

// 258 units: the loop splits between threads (the RNN's step just reaches the size for a
// split) and a share ends on units that are not a multiple of four.
const samplers: [string, Partial<ModelConfig>][] = [
  ['lstm 2×258 one-hot', { model: 'lstm', layers: 2, hidden: 258 }],
  ['gru 2×258 embedding 16', { model: 'gru', layers: 2, hidden: 258, embedding: 16 }],
  ['rnn 3×258 one-hot', { model: 'rnn', layers: 3, hidden: 258 }],
  ['lstm 1×40 embedding 8 (too small to split)', { model: 'lstm', layers: 1, hidden: 40, embedding: 8 }],
];

test('sampling on the module (one loop for a single stream, drawRows for several) draws the host path\'s text bit for bit on 1, 2 and 3 threads', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const V = corpus.vocab.size;
  const { module } = await loadWasmModule();
  const bes = await Promise.all(THREADS.map((threads) => WasmBackend.create(module, { threads, spawnWorker: spawnNodeWorker })));
  const host = hostPath(await WasmBackend.create(module));
  const loops = bes.map((be) => {
    const calls = { n: 0 }, own = be.sampleLoop.bind(be);
    be.sampleLoop = (net) => { calls.n++; return own(net); };
    return calls;
  });
  for (const [name, config] of samplers) {
    const ref = CharLM.create(host, config, V, 11);
    const params = await ref.exportParams();
    const models = bes.map((be) => {
      const m = new CharLM(be, ref.config, V);
      m.importParams(params);
      return m;
    });
    for (const opts of [{ seed: 5 }, { temperature: 0.8, topK: 5, seed: 6, prime: 'The ' }, { argmax: true, prime: 'Call me' },
      { temperature: 1.5, seed: 8, count: 3 }, { topK: 2, seed: 9, count: 2, prime: 'a' }]) {
      const o = { length: 150, ...opts }, label = `${name} ${JSON.stringify(opts)}`;
      const want = await sampleTexts(ref, corpus.vocab, o);
      for (const [t, m] of models.entries()) {
        const [calls, splits] = [loops[t].n, bes[t].splitCount];
        assert.deepEqual(await sampleTexts(m, corpus.vocab, o), want, `${label} on ${THREADS[t]} thread(s)`);
        if ((o.count ?? 1) === 1) assert.ok(loops[t].n > calls, `${label}: no sampling loop`);
        const split = bes[t].threads > 1 && config.hidden === 258;
        if (split) assert.ok(bes[t].splitCount > splits, `${label}: ran on one thread with ${bes[t].threads}`);
      }
    }
  }
  for (const be of bes) be.dispose();
});

test('a sampling loop carries its state from call to call: 5 + 8 characters are 13 in one call, on 1, 2 and 3 threads', async () => {
  const { module } = await loadWasmModule();
  for (const threads of THREADS) {
    const be = await WasmBackend.create(module, { threads, spawnWorker: spawnNodeWorker });
    const model = CharLM.create(be, { model: 'lstm', layers: 2, hidden: 258 }, 65, 3);
    const ids = slice(be.allocInt(2)), drawn = slice(be.alloc(13));
    const run = async (name: string, parts: number[]): Promise<Float32Array[]> => {
      const state = model.scratchState(name, 1);
      const loop = await be.sampleLoop(samplerNet(model, state));
      assert.ok(loop);
      be.upload(sub(ids, 0, 1), new Int32Array([7]));
      let done = 0;
      for (const n of parts) {
        if (done > 0) be.copy(sub(ids, 0, 1), sub(ids, 1, 1));
        loop(sub(ids, 0, 1), sub(ids, 1, 1), sub(drawn, done, n), n, { temperature: 1, topK: 0, argmax: false, seed: 4, stream: 2, index: 100 + done });
        done += n;
      }
      return Promise.all([be.download(drawn), be.download(state.h), be.download(state.c!)]);
    };
    const [whole, split] = [await run('whole', [13]), await run('split', [5, 8])];
    for (const [k, what] of ['drawn', 'h', 'c'].entries()) assert.deepEqual(split[k], whole[k], `${what} on ${threads} thread(s)`);
    assert.ok(whole[1].some((v) => v !== 0));
    be.dispose();
  }
});

test('a failing share on any thread becomes an exception, and the pool keeps working', async () => {
  const { module } = await loadWasmModule();
  const be = await WasmBackend.create(module, { threads: 2, spawnWorker: spawnNodeWorker });
  const x = slice(be.alloc(1 << 17));
  // Share 1 starts 2¹⁷ · 2¹³ bytes (1 GiB) in: outside the memory, so it traps wherever it runs.
  const pool = (be as unknown as { pool: import('../src/backend/wasm/threads.js').KernelPool }).pool;
  for (let rep = 0; rep < 20; rep++) {
    assert.equal(pool.plan(1 << 18, 16, 1 << 17), 2);
    const ptr = (x.buf as import('../src/backend/wasm/index.js').WasmBuf).ptr;
    assert.throws(() => pool.begin('fill').arg(ptr, 1 << 13).arg(0).arg(1).run(1), /out of bounds|failed on a worker/);
  }
  be.fill(x, 2);
  const y = slice(be.alloc(x.length));
  be.copy(y, x);
  be.scale(y, 0.5);
  const got = await be.download(y);
  assert.ok(got.every((v) => v === 1));
  assert.ok(be.splitCount > 20);
});

test('threads: validated; 1 starts no worker; dispose returns to one thread and keeps working', async () => {
  const { module } = await loadWasmModule();
  for (const threads of [0, 1.5, -1, 5000]) {
    await assert.rejects(WasmBackend.create(module, { threads, spawnWorker: spawnNodeWorker }), UserError);
  }
  await assert.rejects(WasmBackend.create(module, { threads: 2 }), /spawnWorker/);
  const one = await WasmBackend.create(module, { threads: 1, spawnWorker: () => { throw new Error('no worker for 1 thread'); } });
  assert.equal(one.threads, 1);
  const be = await createBackend('wasm', { threads: 2 });
  assert.ok(be instanceof WasmBackend);
  assert.equal(be.threads, 2);
  const x = slice(be.alloc(1 << 17));
  be.fill(x, 3);
  be.scale(x, 2);
  assert.ok(be.splitCount > 0);
  be.dispose();
  assert.equal(be.threads, 1);
  const splits = be.splitCount;
  be.scale(x, 0.5);
  assert.equal(be.splitCount, splits);
  assert.ok((await be.download(x)).every((v) => v === 3));
  assert.equal((await createBackend('auto')).name, 'wasm');
});

test('worker threads never keep the process alive', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'charrnn-threads-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const url = (p: string): string => JSON.stringify(new URL(p, import.meta.url).href);
  const file = join(dir, 'exit.mjs');
  writeFileSync(file, `
    const { createBackend } = await import(${url('../src/node/backend.js')});
    const { slice } = await import(${url('../src/backend/backend.js')});
    const be = await createBackend('wasm', { threads: 3 });
    const a = slice(be.alloc(300 * 300)), c = slice(be.alloc(300 * 300));
    be.fill(a, 1);
    be.gemm(false, true, 300, 300, 300, 1, a, a, 0, c);
    console.log('threads', be.threads, 'splits', be.splitCount > 0);
  `);
  const start = Date.now();
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'threads 3 splits true');
  assert.ok(Date.now() - start < 10_000, `took ${Date.now() - start} ms`);
});

// The compiled test lives in dist/test/; the CLI entry is bin/charrnn.js at the package root.
const root = fileURLToPath(new URL('../../', import.meta.url));

test('charrnn train with worker threads exits as soon as training ends', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'charrnn-threads-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = Date.now();
  const r = spawnSync(process.execPath, ['bin/charrnn.js', 'train', 'mobydick', '--max-iters', '5', '--hidden', '32',
    '--batch', '8', '--seq', '16', '--backend', 'wasm', '--checkpoint-dir', dir, '--quiet'],
  { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - start < 30_000, `took ${Date.now() - start} ms`);
});
