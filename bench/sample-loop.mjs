// Batch-1 sampling of config M through the backend's own loop (Backend.sampleLoop) against the
// step-by-step path (a forward step, softmax and read-back per character, the draw on the host),
// alternating run by run in one process so that the machine's swings fall on both alike:
//   node bench/sample-loop.mjs [--threads N] [--runs 7] [--length 2000]
// Both draw the same text; the script checks that before it times anything.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CONFIGS, DATA, benchCorpus, benchModel } from './lib/common.mjs';

const { values } = parseArgs({
  options: {
    threads: { type: 'string' },
    runs: { type: 'string', default: '7' },
    length: { type: 'string', default: '2000' },
  },
});
const runs = Number(values.runs), length = Number(values.length);

const root = process.cwd();
const lib = await import(pathToFileURL(resolve(root, 'dist/src/index.js')).href);
const { createBackend } = await import(pathToFileURL(resolve(root, 'dist/src/node/backend.js')).href);
const backend = await createBackend('wasm', { threads: values.threads ? Number(values.threads) : undefined });
// The same backend without sampleLoop and drawRows: sampling then goes step by step.
const stepwise = new Proxy(backend, {
  get(target, key) {
    if (key === 'sampleLoop' || key === 'drawRows') return undefined;
    const v = Reflect.get(target, key);
    return typeof v === 'function' ? v.bind(target) : v;
  },
});

const corpus = benchCorpus(lib, resolve(root, DATA));
const models = { loop: benchModel(lib, backend, CONFIGS.M, corpus.vocab.size), 'step by step': benchModel(lib, stepwise, CONFIGS.M, corpus.vocab.size) };
const texts = await Promise.all(Object.values(models).map((m) => lib.sampleText(m, corpus.vocab, { length: 300, seed: 1 })));
if (texts[0] !== texts[1]) throw new Error('the loop and the step-by-step path drew different text');

async function charsPerSec(model, seed) {
  const t0 = performance.now();
  for await (const _ of lib.sampleIds(model, corpus.vocab, { length, seed })) { /* draw */ }
  return length / ((performance.now() - t0) / 1000);
}
const speeds = { loop: [], 'step by step': [] };
for (const m of Object.values(models)) await charsPerSec(m, 0); // warm-up
for (let r = 0; r < runs; r++) for (const [name, m] of Object.entries(models)) speeds[name].push(await charsPerSec(m, r + 1));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`config M sampling, wasm on ${backend.threads} thread(s), ${runs} alternating runs of ${length} characters`);
for (const [name, xs] of Object.entries(speeds)) {
  console.log(`${name.padEnd(12)} median ${Math.round(median(xs)).toLocaleString('en-US')} chars/s (${xs.map((x) => Math.round(x)).join(' ')})`);
}
console.log(`ratio ${(median(speeds.loop) / median(speeds['step by step'])).toFixed(2)}×`);
backend.dispose();
