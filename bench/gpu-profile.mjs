// Where a training iteration's time goes on the webgpu backend, and which tiles suit this GPU:
//   node bench/gpu-profile.mjs [--config S,M,L,XL|all] [--sample] [--reps 10] [--iters 10]
// GPU work is asynchronous, so a call's host time says nothing. This records the backend calls
// of one training iteration, then replays each group of them `reps` times between two flushes:
// a recurrent product with the cell step that fuses into it, a product on its own, or every
// call of one other kernel. The products and fused steps are replayed under each tile the
// backend can pick for their shape, also split along K into 2, 4, … slices (÷n), steps also
// between thread grids of each workgroup (·n), and under every plan tuning may time (tuner.ts);
// the table marks the variant the backend runs (*) and the fastest.
// --sample does the same for sampling config M (batch 1), per character drawn; where the
// backend samples in its own loop (one dispatch per chunk), it prints the time per character.
// Replays run on whatever the buffers hold by then: the timing, not the values, is the point.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CONFIGS, DATA, benchCorpus, benchModel, benchTrainOptions, interceptCalls, median } from './lib/common.mjs';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'all' },
    reps: { type: 'string', default: '10' },
    iters: { type: 'string', default: '10' },
    sample: { type: 'boolean', default: false },
  },
});
const names = values.config.toLowerCase() === 'all' ? ['S', 'M', 'L', 'XL'] : values.config.toUpperCase().split(',');
for (const n of names) if (!CONFIGS[n]) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')} or all, got ${values.config}`);
const reps = Number(values.reps), iters = Number(values.iters);

const root = process.cwd();
const load = (p) => import(pathToFileURL(resolve(root, p)).href);
const lib = await load('dist/src/index.js');
const { loadWebGPUBackend } = await load('dist/src/node/webgpu.js');
const { pickTile, sliceGemm } = await load('dist/src/backend/webgpu/kernels/gemm.js');
const { groupStepTile, pickStepTile, sliceStep, stepTileFits } = await load('dist/src/backend/webgpu/kernels/step.js');
const { gemmPlans, planLabel, stepPlans } = await load('dist/src/backend/webgpu/tuner.js');
const backend = await loadWebGPUBackend();
const corpus = benchCorpus(lib, resolve(root, DATA));

// The methods that fuse with the product recorded just before them, and their step kind.
const STEPS = { lstmStep: 'lstm', lstmStepBackward: 'lstmBack', gruStep: 'gru', gruStepBackward: 'gruBack' };
const SKIP = new Set(['upload', 'download', 'flush', 'alloc', 'allocInt']);

let calls = null; // [name, args] while recording
interceptCalls(backend, (name, args, call) => {
  if (calls && !SKIP.has(name)) calls.push([name, args]);
  return call();
});

const gemmLabel = ([tA, tB, M, N, K]) => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K}`;
const SLICES = [1, 2, 4, 8, 16, 32];

// A variant is set up by `use` (and undone by `done`): the plan (tile and slices) of a step or
// product is the backend's stepPlan or gemmPlan, replaced for the replay.
const usePlan = (method, plan) => {
  const own = backend[method];
  return { use: () => { backend[method] = () => plan; }, done: () => { backend[method] = own; } };
};

/** A product's variants: each tile, whole and in as many of SLICES as its K allows, and every plan tuning may time. */
function gemmVariants([, , M, N, K]) {
  const v = new Map();
  const put = (plan) => { if (!v.has(planLabel(plan))) v.set(planLabel(plan), usePlan('gemmPlan', plan)); };
  for (const occ of OCCUPANCIES) {
    const tile = pickTile(M, N, occ), tiles = Math.ceil(M / tile.BM) * Math.ceil(N / tile.BN);
    for (const want of tile.name === 'skinny' ? [1] : SLICES) put(sliceGemm(tile, M, N, K, want * tiles));
  }
  for (const plan of gemmPlans(M, N, K, backend.occupancy, backend.slicing, backend.tileLimits)) put(plan);
  return v;
}
/**
 * A step's variants: each tile, on 1, 2 or 4 thread grids (·n), whole and in as many of SLICES
 * as its K allows, and every plan tuning may time.
 */
function stepVariants(kind, B, H) {
  const v = new Map();
  const put = (plan) => { if (!v.has(planLabel(plan))) v.set(planLabel(plan), usePlan('stepPlan', plan)); };
  for (const occ of OCCUPANCIES) {
    const t = pickStepTile(kind, B, H, occ), tiles = Math.ceil(B / t.BM) * Math.ceil(H / t.BU);
    for (const G of [1, 2, 4]) {
      const g = groupStepTile(t, G);
      if (stepTileFits(kind, g, backend.tileLimits)) for (const want of SLICES) put(sliceStep(kind, g, B, H, want * tiles));
    }
  }
  for (const plan of stepPlans(kind, B, H, backend.occupancy, backend.slicing, backend.tileLimits)) put(plan);
  return v;
}

/** The iteration's calls in groups: { key, instances: [[name, args][]], variants?(), chosen? }. */
function groupsOf(list) {
  const groups = new Map();
  const add = (key, instance, variants, chosen, flops) => {
    const g = groups.get(key) ?? { key, instances: [], variants, chosen, flops: 0 };
    g.instances.push(instance); g.flops += flops;
    groups.set(key, g);
  };
  for (let i = 0; i < list.length; i++) {
    const [name, args] = list[i];
    const next = list[i + 1];
    if (name === 'gemm' && next && STEPS[next[0]]) {
      const kind = STEPS[next[0]], [B, H] = next[1].slice(-2);
      add(`${next[0]} + gemm ${gemmLabel(args)}`, [list[i], next], () => stepVariants(kind, B, H),
        planLabel(backend.stepPlan(kind, B, H)), 2 * args[2] * args[3] * args[4]);
      i++;
    } else if (name === 'gemm') {
      add(`gemm ${gemmLabel(args)}`, [list[i]], () => gemmVariants(args), planLabel(backend.gemmPlan(args[0], args[1], args[2], args[3], args[4])), 2 * args[2] * args[3] * args[4]);
    } else {
      add(name, [list[i]], null, null, 0);
    }
  }
  return [...groups.values()];
}

async function timeGroup(g) {
  const replay = () => { for (const inst of g.instances) for (const [name, args] of inst) backend[name](...args); };
  replay();
  await backend.flush();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) replay();
  await backend.flush();
  return (performance.now() - t0) / 1000 / reps;
}

/** Replays the groups of `list` and prints where the time goes, per `units` (iterations or characters). */
async function report(list, title, measured, units, chars) {
  const rows = [];
  for (const g of groupsOf(list)) {
    const chosen = g.chosen;
    const timed = [];
    for (const [tile, { use, done }] of g.variants ? g.variants() : new Map([[null, { use() {}, done() {} }]])) {
      use();
      timed.push({ tile, s: (await timeGroup(g)) / units });
      done();
    }
    const mine = timed.find((v) => v.tile === chosen) ?? timed[0];
    const best = timed.reduce((a, b) => (b.s < a.s ? b : a));
    rows.push({ key: g.key, calls: g.instances.length / units, s: mine.s, flops: g.flops / units, timed, chosen, best });
  }
  rows.sort((a, b) => b.s - a.s);
  const total = rows.reduce((s, r) => s + r.s, 0);
  const unit = units === 1 ? 'iter' : 'char';
  const t = (s) => (units === 1 ? `${(1000 * s).toFixed(3)} ms` : `${(1e6 * s).toFixed(1)} µs`);
  console.log(`\n${title} on ${backend.label}: ${t(measured)} per ${unit} (${Math.round(chars / measured).toLocaleString('en-US')} chars/s); ` +
    `groups replayed alone add up to ${t(total)}`);
  console.log(`| group | calls/${unit} | time/${unit} | share | GFLOP/s | tiles (time/${unit}; * = picked) |`);
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const gf = r.flops ? (r.flops / r.s / 1e9).toFixed(0) : '';
    const tiles = r.timed.length > 1 || r.chosen ? r.timed.map((v) => `${v.tile}${v.tile === r.chosen ? '*' : ''} ${t(v.s)}${v === r.best && v.tile !== r.chosen ? ' (best)' : ''}`).join(', ') : '';
    console.log(`| ${r.key} | ${+r.calls.toFixed(2)} | ${t(r.s)} | ${(100 * r.s / measured).toFixed(1)}% | ${gf} | ${tiles} |`);
  }
}

const OCCUPANCIES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144, Infinity];

for (const name of names) {
  const c = CONFIGS[name];
  const model = benchModel(lib, backend, c, corpus.vocab.size);
  const events = lib.train(model, corpus, benchTrainOptions(c, iters + 3))[Symbol.asyncIterator]();
  const secs = [];
  let n = 0, list = [];
  for (;;) {
    const { value, done } = await events.next();
    if (done) break;
    if (value.type !== 'iteration') continue;
    n++;
    if (n === 2) calls = list; // record the third iteration
    if (n === 3) calls = null;
    if (n > 3) secs.push((c.batch * c.seq) / value.charsPerSec);
    if (n >= iters + 3) break;
  }
  await events.return(undefined);
  await report(list, `config ${name} (LSTM ${c.layers}×${c.hidden}, batch ${c.batch} × seq ${c.seq})`, median(secs), 1, c.batch * c.seq);
  console.log(`recorder: ${JSON.stringify(backend.stats)}`);
}
if (values.sample) {
  const c = CONFIGS.M, steps = 400;
  const model = benchModel(lib, backend, c, corpus.vocab.size);
  const run = async (length, seed) => { for await (const ids of lib.sampleIds(model, corpus.vocab, { length, seed })) void ids; };
  await run(200, 1);
  const secs = [], d0 = backend.stats.dispatches;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await run(steps + 1, 2 + r);
    secs.push((performance.now() - t0) / 1000 / steps);
  }
  const title = `sampling config M (LSTM ${c.layers}×${c.hidden}, batch 1)`;
  if (backend.stats.dispatches - d0 < 3 * steps) {
    // One dispatch draws a whole chunk of characters: there are no kernels to replay one by one.
    console.log(`\n${title} on ${backend.label}: ${(1e6 * median(secs)).toFixed(1)} µs per char (${Math.round(1 / median(secs)).toLocaleString('en-US')} chars/s), in sampling's loop (kernels/sampler.ts)`);
  } else {
    const list = [];
    calls = list;
    await run(steps + 1, 9);
    calls = null;
    await report(list, title, median(secs), steps, 1);
  }
}
process.exit(0);
