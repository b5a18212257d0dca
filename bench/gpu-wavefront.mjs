// What running a stack's layers as a wavefront would save on the GPU, measured before it is built:
//   node bench/gpu-wavefront.mjs [--config L,XL] [--rounds 7] [--options JSON]
// An LSTM stack runs layer after layer: L·T forward steps of B rows, then L·T backward steps,
// each a dispatch or two that L's size does not fill a large GPU with. Layer l's step t needs
// only layer l−1's step t and its own step t−1, so the steps on one diagonal (l + t the same)
// could share a dispatch: T + L − 1 steps of up to L·B rows each way. This times both on the
// backend's own kernels, with one W_hh and one W_ih for all rows. A wavefront would read each
// layer's own: L's five 4 MiB matrices fit the H200's 50 MiB of L2 cache, XL's five of 16 MiB
// do not, so XL's wavefront figures are a bound.
//   now, steps        L·T steps of B rows each way, as the layers run them where the sequence
//                     kernel does not
//   now, sequences    the same through lstmForward/lstmBackward: the sequence kernel where the
//                     backend runs it (persistent), else the steps
//   now, products     what a wavefront moves into its steps: the input products of layers
//                     1…L−1 and their input gradients, 2(L−1) products of T·B rows
//   wavefront, cells  T + L − 1 steps of L·B rows each way (the first and last L − 1 of a real
//                     wavefront hold fewer): a step kernel that takes the input product into
//                     its K would cost about this
//   wavefront         the same, with the (L−1)·B rows' input product (forward) and input
//                     gradient (backward) a dispatch of their own per diagonal
// Each measure is recorded whole between two waits for the GPU, so a host that records slower
// than the GPU runs shows too; the measures alternate over the rounds, medians printed.
// Left out: the biases and dropout, which a wavefront's step would apply to the input it reads
// instead of a dispatch per layer, and the weight gradients, which it leaves as they are.
// --options: WebGPUBackendOptions as JSON instead of the ones the product takes for this adapter.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CONFIGS, median } from './lib/common.mjs';

const { values } = parseArgs({
  options: { config: { type: 'string', default: 'L,XL' }, rounds: { type: 'string', default: '7' }, options: { type: 'string' } },
});
const names = values.config.toUpperCase().split(',');
for (const n of names) if (!CONFIGS[n]) throw new Error(`--config must name some of ${Object.keys(CONFIGS).join(', ')}, got ${values.config}`);
const rounds = Number(values.rounds);

const root = process.cwd();
const load = (p) => import(pathToFileURL(resolve(root, p)).href);
const { loadWebGPUBackend } = await load('dist/src/node/webgpu.js');
const { WebGPUBackend } = await load('dist/src/backend/webgpu/index.js');
const { sequenceSteps } = await load('dist/src/backend/webgpu/sequence-steps.js');
const base = await loadWebGPUBackend();
const be = values.options ? new WebGPUBackend(base.device, { label: base.label, ...JSON.parse(values.options) }) : base;
console.log(`on ${be.label}, tune ${be.tune}, persistent ${be.persistent}; median (least) of ${rounds} rounds, ms per iteration`);

const buf = (n) => ({ buf: be.alloc(n), offset: 0, length: n });
const limit = Math.min(be.device.limits.maxStorageBufferBindingSize, be.device.limits.maxBufferSize);
// `count` blocks of [R, w] in one buffer, or as many as the device binds in one buffer (a
// wavefront's are larger than any training makes), reused in turn.
function blocks(count, R, w) {
  const n = Math.max(2, Math.min(count, Math.floor(limit / (4 * R * w))));
  return { ...buf(n * R * w), n, R, w };
}
// Block t, or `rows` of its rows from row `from`.
const at = (s, t, from = 0, rows = s.R) => ({ buf: s.buf, offset: ((t % s.n) * s.R + from) * s.w, length: rows * s.w });

// A wavefront's n forward and n backward steps of R rows; given W_ih, each step also takes the
// input product (forward) and input gradient (backward) of its last `upper` rows.
function wavefrontOf(R, n, H, upper) {
  const G = 4 * H, w = { pre: blocks(n, R, G), act: blocks(n, R, G), hs: blocks(n + 1, R, H), cs: blocks(n + 1, R, H), dc: buf(R * H) };
  const xs = blocks(n, upper, H);
  return {
    forward(whh, wih) {
      for (let t = 0; t < n; t++) {
        if (wih) be.gemm(false, true, upper, G, H, 1, at(xs, t), wih, 0, at(w.pre, t, R - upper, upper));
        be.gemm(false, true, R, G, H, 1, at(w.hs, t), whh, 1, at(w.pre, t));
        be.lstmStep(at(w.pre, t), at(w.cs, t), at(w.act, t), at(w.cs, t + 1), at(w.hs, t + 1), R, H);
      }
    },
    // dh in hs's blocks 0…n−1, dpre in pre, as the layers reuse theirs.
    backward(whh, wih) {
      be.fill(w.dc, 0);
      for (let t = n - 1; t >= 0; t--) {
        be.lstmStepBackward(at(w.act, t), at(w.cs, t + 1), at(w.cs, t), at(w.hs, t), w.dc, at(w.pre, t), R, H);
        if (wih) be.gemm(false, false, upper, H, G, 1, at(w.pre, t, R - upper, upper), wih, 0, at(xs, t));
        if (t > 0) be.gemm(false, false, R, H, G, 1, at(w.pre, t), whh, 1, at(w.hs, t - 1));
      }
    },
  };
}

for (const name of names) {
  const { layers: L, hidden: H, batch: B, seq: T } = CONFIGS[name], G = 4 * H;
  console.log(`\nconfig ${name}: ${L}×${H}, batch ${B}, ${T} steps`);
  try {
    const whh = buf(G * H), wih = buf(G * H);
    // One layer's buffers as the layers hold them, in the sequence kernel's order (SEQUENCE_BUFS).
    const pre = buf(T * B * G), act = buf(T * B * G), hs = buf((T + 1) * B * H), cs = buf((T + 1) * B * H), dc = buf(B * H);
    const forward = [pre, hs, cs, act], backward = [act, cs, hs, dc, pre];
    const wave = wavefrontOf(L * B, T + L - 1, H, (L - 1) * B);
    const measures = {
      'now, steps': () => {
        for (let l = 0; l < L; l++) sequenceSteps(be, 'lstm', forward, whh, T, B, H);
        for (let l = 0; l < L; l++) {
          be.fill(dc, 0);
          sequenceSteps(be, 'lstmBack', backward, whh, T, B, H);
        }
      },
      'now, sequences': () => {
        for (let l = 0; l < L; l++) be.lstmForward(pre, whh, hs, cs, act, T, B, H) || sequenceSteps(be, 'lstm', forward, whh, T, B, H);
        for (let l = 0; l < L; l++) {
          be.fill(dc, 0);
          be.lstmBackward(act, cs, hs, dc, pre, whh, T, B, H) || sequenceSteps(be, 'lstmBack', backward, whh, T, B, H);
        }
      },
      'now, products': () => {
        const x = { ...hs, length: T * B * H };
        for (let l = 1; l < L; l++) be.gemm(false, true, T * B, G, H, 1, x, wih, 0, pre);
        for (let l = 1; l < L; l++) be.gemm(false, false, T * B, H, G, 1, pre, wih, 0, x);
      },
      'wavefront, cells': () => { wave.forward(whh); wave.backward(whh); },
      wavefront: () => { wave.forward(whh, wih); wave.backward(whh, wih); },
    };
    const entries = Object.entries(measures), ms = entries.map(() => []), dispatches = entries.map(() => 0);
    // Once each first: pipelines compile, and the read-back after tunes the shapes met and
    // decides how the sequences run.
    for (const [, run] of entries) run();
    await be.download({ buf: whh.buf, offset: 0, length: 1 });
    const order = entries.map((_, i) => i);
    for (let r = 0; r < rounds; r++) {
      for (const i of (r % 2 ? [...order].reverse() : order)) {
        await be.flush();
        const t0 = performance.now(), d0 = be.stats.dispatches;
        entries[i][1]();
        await be.flush();
        ms[i].push(performance.now() - t0);
        dispatches[i] = be.stats.dispatches - d0;
      }
    }
    // A sequence kernel's wait that gave up ends at once and cuts its dispatch short: the
    // read-back says so, and its times are then void.
    const held = await be.download({ buf: whh.buf, offset: 0, length: 1 }).then(() => true, (err) => {
      console.log(`  now, sequences: void, ${err.message.split('\n')[0]}`);
      return false;
    });
    const fmt = (i) => `${median(ms[i]).toFixed(2)} (${Math.min(...ms[i]).toFixed(2)})`;
    entries.forEach(([label], i) => console.log(`  ${label.padEnd(17)} ${fmt(i).padStart(18)} ms, ${dispatches[i]} dispatches`));
    const m = (label) => median(ms[entries.findIndex(([l]) => l === label)]);
    const before = Math.min(m('now, steps'), held ? m('now, sequences') : Infinity) + m('now, products');
    console.log(`  the faster of now's steps and sequences, plus its products: ${before.toFixed(2)} ms; wavefront ${m('wavefront').toFixed(2)} ms ` +
      `(${(before - m('wavefront')).toFixed(2)} ms saved per iteration), with the input in the step's K at best ${m('wavefront, cells').toFixed(2)} ms`);
    const plans = [...be.sequencePlans()].filter(([shape]) => shape.endsWith(` ${B}×${H}`)).map(([shape, how]) => `${shape}: ${how}`);
    if (plans.length > 0) console.log(`  sequences: ${plans.join('; ')}`);
  } catch (err) {
    console.log(`  not run: ${err.message.split('\n')[0]}`);
  }
}
process.exit(0);
