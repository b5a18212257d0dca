// Where the GPU waits for the host between training iterations on the webgpu backend:
//   node bench/webgpu-idle.mjs [--config S|M|L|XL] [--iters 6] [--warmup 2]
// Trains the configuration through the library's train() loop and prints, per iteration, its
// wall time, dispatches, submits and read-backs, and the host's time from each read-back's
// answer to the next submit: time in which the GPU has been given nothing to do (the loop's
// clamp, optimiser step and turn of the event loop, the next batch, and the recording of the
// first submit's dispatches). On a CPU renderer the host shares the cores with the renderer's
// work, so only the host's side of it means anything there.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DATA, benchCorpus, benchModel, benchTraining, configNamed, median } from './lib/common.mjs';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'S' },
    iters: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '2' },
  },
});
const c = configNamed(values.config);
const iters = Number(values.iters), warmup = Number(values.warmup);

const root = process.cwd();
const load = (p) => import(pathToFileURL(resolve(root, p)).href);
const lib = await load('dist/src/index.js');
const { Recorder } = await load('dist/src/backend/webgpu/recorder.js');
const { loadWebGPUBackend } = await load('dist/src/node/webgpu.js');

// Each read-back's answer, and each submit of a recording, as they happen.
let answeredAt = null, idle = 0, reads = 0;
const submit = Recorder.prototype.submit;
Recorder.prototype.submit = function () {
  if (this.encoder && answeredAt !== null) {
    idle += performance.now() - answeredAt;
    answeredAt = null;
  }
  return submit.call(this);
};
const read = Recorder.prototype.read;
Recorder.prototype.read = async function (...args) {
  const out = await read.apply(this, args);
  reads++;
  answeredAt = performance.now();
  return out;
};

const backend = await loadWebGPUBackend({ tune: false });
const corpus = benchCorpus(lib, resolve(root, DATA));
const model = benchModel(lib, backend, c, corpus.vocab.size);
console.log(`config ${c.name} on ${backend.label}, untuned, ${iters} iterations after ${warmup} of warm-up`);
console.log('iteration | ms | dispatches | submits | read-backs | host ms from a read-back to the next submit');
const run = benchTraining(lib, model, corpus, c, warmup + iters + 1);
const rows = [];
for (let i = 0; i < warmup + iters; i++) {
  const before = { ...backend.stats }, t0 = performance.now();
  idle = 0; reads = 0;
  await run.next();
  const row = { ms: performance.now() - t0, dispatches: backend.stats.dispatches - before.dispatches,
    submits: backend.stats.submits - before.submits, reads, idle };
  if (i >= warmup) rows.push(row);
  console.log(`${i + 1}${i < warmup ? ' (warm-up)' : ''} | ${row.ms.toFixed(2)} | ${row.dispatches} | ${row.submits} | ${row.reads} | ${row.idle.toFixed(3)}`);
}
await run.end();
console.log(`median: ${median(rows.map((r) => r.ms)).toFixed(2)} ms per iteration, of which ${median(rows.map((r) => r.idle)).toFixed(3)} ms between a read-back and the next submit`);
process.exit(0);
