// Our side of one measurement, in its own process so that /usr/bin/time sees only it:
// training speed through the library's own train() loop, or sampling speed through sampleIds().
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchCorpus, benchModel, benchTraining, readSpec, report, notRun, timeIterations } from './lib/common.mjs';
import { planLines } from './lib/webgpu-plans.mjs';

const spec = readSpec();
const root = process.cwd();
const indexJs = resolve(root, 'dist/src/index.js');
if (!existsSync(indexJs)) notRun('dist/src/index.js is missing: build first (npx tsc -p .)');
const lib = await import(pathToFileURL(indexJs).href);

const { backend, backendNote } = await openBackend(spec.backend);
const corpus = benchCorpus(lib, spec.data);
const c = spec.config;
const model = benchModel(lib, backend, c, corpus.vocab.size);
// What a backend says of itself (a kernel flavour, a thread count) goes into the table's label.
const detail = Object.fromEntries(['flavor', 'threads'].filter((k) => ['string', 'number'].includes(typeof backend[k])).map((k) => [k, backend[k]]));
// The webgpu backend names its GPU, which goes into the table's header.
const device = backend.name === 'webgpu' ? { device: backend.label } : {};
const info = { impl: 'ours', backend: backend.name, ...detail, ...device, backendNote, vocab: corpus.vocab.size, params: model.layout.total };

if (spec.measure === 'train') {
  const run = benchTraining(lib, model, corpus, c, spec.warmup + spec.iters + 1);
  let lastLoss = NaN;
  // Timed on the wall clock from one iteration event to the next, as a user's run goes: batch
  // fill, forward, backward, read-backs, clamp, optimiser step and the loop's turn of the
  // event loop (where a GPU may still be running the optimiser step).
  const t = await timeIterations(async () => { lastLoss = (await run.next()).loss; }, spec);
  await run.end();
  report({ ...info, measure: 'train', secsPerIter: t.median, n: t.n, warmup: t.warmup, secs: t.secs, firstSecs: t.first, lastLoss, ...await plansOf(backend) });
} else if (spec.measure === 'sample') {
  let seed = 1;
  const generate = async (length) => {
    let n = 0;
    for await (const ids of lib.sampleIds(model, corpus.vocab, { length, seed: seed++ })) n += ids.length;
    if (n !== length) throw new Error(`sampled ${n} characters, expected ${length}`);
  };
  await generate(spec.warmupLength);
  const t = await timeIterations(() => generate(spec.length), { ...spec, warmup: 0 });
  report({ ...info, measure: 'sample', secsPerRun: t.median, length: spec.length, n: t.n, warmup: 1, secs: t.secs });
} else {
  throw new Error(`unknown measure ${spec.measure}`);
}

// On webgpu, what tuning kept on this GPU and how each layer's sequence ran: the figures'
// explanation, which the table prints beneath it.
async function plansOf(be) {
  if (be.name !== 'webgpu') return {};
  const { planLabel } = await import(pathToFileURL(resolve(root, 'dist/src/backend/webgpu/tuner.js')).href);
  return { plans: planLines(be, planLabel, c.seq) };
}

// 'wasm' lives in the Node-only entry (it compiles WebAssembly and starts workers); until
// that entry exists the measurement is refused rather than silently run on js. 'webgpu'
// comes from the same place and needs a hardware GPU: a CPU renderer (Mesa's llvmpipe) only
// serves a --quick smoke run, whose numbers mean nothing anyway.
async function openBackend(name) {
  if (name === 'js') return { backend: new lib.JsBackend(), backendNote: '' };
  if (name === 'webgpu') {
    const { loadWebGPUBackend } = await import(pathToFileURL(resolve(root, 'dist/src/node/webgpu.js')).href);
    try {
      return { backend: await loadWebGPUBackend({ hardwareOnly: !spec.smoke }), backendNote: '' };
    } catch (e) {
      notRun(e instanceof Error ? e.message : String(e));
    }
  }
  const entry = resolve(root, 'dist/src/node/backend.js');
  let why;
  if (!existsSync(entry)) why = 'the wasm backend is not built (dist/src/node/backend.js is missing)';
  else {
    try {
      const mod = await import(pathToFileURL(entry).href);
      if (typeof mod.createBackend !== 'function') why = 'the wasm backend is not built (dist/src/node/backend.js has no createBackend)';
      else return { backend: await mod.createBackend('wasm'), backendNote: '' };
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      why = /wasm backend/.test(msg) ? msg : `the wasm backend failed to start: ${msg}`;
    }
  }
  if (name === 'auto') return { backend: new lib.JsBackend(), backendNote: `auto fell back to js: ${why}` };
  notRun(why);
}

// A backend's worker threads would otherwise keep the process (and its RSS) alive.
process.exit(0);
