// The webgpu backend under several sets of options, side by side in one process on one device:
//   node bench/webgpu-options.mjs [--config S|M|L|XL] [--iters 10] [--warmup 3] OPTIONS...
// OPTIONS are WebGPUBackendOptions as JSON ('{}': the constructor's defaults, untuned), e.g.
//   node bench/webgpu-options.mjs --config L '{}' '{"tune":true}' '{"slicing":{"stepGroups":2}}'
// Each set trains its own model of the configuration; their iterations alternate (in turn
// reversed every other round), so that whatever else the machine does falls on all alike.
// Prints each set's median and least time per iteration after the warm-up (which holds any
// tuning), its first iteration's time, its last loss, the plans tuning picked, and how each
// layer's sequence runs (persistent), with the steps' time and the fastest sequence kernels' as
// tuning timed them.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DATA, benchCorpus, benchModel, benchTraining, configNamed, median } from './lib/common.mjs';
import { planLines } from './lib/webgpu-plans.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string', default: 'S' },
    iters: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
  },
});
const c = configNamed(values.config);
const iters = Number(values.iters), warmup = Number(values.warmup);
const sets = positionals.length > 0 ? positionals : ['{}', '{"tune":true}'];

const root = process.cwd();
const load = (p) => import(pathToFileURL(resolve(root, p)).href);
const lib = await load('dist/src/index.js');
const { WebGPUBackend } = await load('dist/src/backend/webgpu/index.js');
const { loadWebGPUBackend } = await load('dist/src/node/webgpu.js');
const { planLabel } = await load('dist/src/backend/webgpu/tuner.js');
const base = await loadWebGPUBackend();
const corpus = benchCorpus(lib, resolve(root, DATA));
console.log(`config ${c.name} on ${base.label} (workgroups of up to ${base.tileLimits.threads} threads and ${base.tileLimits.sharedBytes} bytes of workgroup memory), ${iters} iterations after ${warmup} of warm-up`);

const runs = sets.map((set) => {
  const backend = new WebGPUBackend(base.device, { label: base.label, ...JSON.parse(set) });
  const model = benchModel(lib, backend, c, corpus.vocab.size);
  return { set, backend, run: benchTraining(lib, model, corpus, c, warmup + iters + 1), times: [], first: NaN, loss: NaN };
});
const iteration = async (r) => {
  const t0 = performance.now();
  r.loss = (await r.run.next()).loss;
  return performance.now() - t0;
};
for (let i = 0; i < warmup + iters; i++) {
  for (const r of i % 2 ? runs : [...runs].reverse()) {
    const ms = await iteration(r);
    if (i === 0) r.first = ms;
    if (i >= warmup) r.times.push(ms);
  }
}
for (const r of runs) {
  console.log(`${r.set}: median ${median(r.times).toFixed(2)} ms, least ${Math.min(...r.times).toFixed(2)} ms per iteration (the first, compiling and any tuning: ${(r.first / 1000).toFixed(2)} s), last loss ${r.loss}`);
  for (const line of planLines(r.backend, planLabel, c.seq)) console.log(`  ${line}`);
}
process.exit(0);
