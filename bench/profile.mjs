// Where a training iteration's time goes, kernel by kernel, on the wasm (or js) backend:
//   node bench/profile.mjs [--config S|M] [--threads N] [--iters 20] [--backend wasm|js]
// Every backend method is wrapped with a timer; the wasm kernels return only when their work is
// done (the calling thread joins the workers), so a call's wall time is the kernel's. Products
// are told apart by shape. What the kernels do not account for is the training loop's own
// JavaScript (batch fill, bookkeeping) and the wrapper's overhead (well under a microsecond).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CONFIGS, DATA, benchCorpus, benchModel, benchTrainOptions, interceptCalls } from './lib/common.mjs';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'S' },
    threads: { type: 'string' },
    iters: { type: 'string', default: '20' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const c = CONFIGS[values.config];
if (!c) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${values.config}`);
const iters = Number(values.iters);
const WARMUP = 5;

const root = process.cwd();
const lib = await import(pathToFileURL(resolve(root, 'dist/src/index.js')).href);
const { createBackend } = await import(pathToFileURL(resolve(root, 'dist/src/node/backend.js')).href);
const backend = await createBackend(values.backend, { threads: values.threads ? Number(values.threads) : undefined });

// name → { calls, secs, flops }; only the outermost call counts (a kernel's own helper methods
// are inside its time).
const spent = new Map();
let timing = false;
function account(key, secs, flops) {
  const e = spent.get(key) ?? { calls: 0, secs: 0, flops: 0 };
  e.calls++; e.secs += secs; e.flops += flops;
  spent.set(key, e);
}
interceptCalls(backend, (name, args, call) => {
  if (!timing) return call();
  const t0 = performance.now();
  const r = call();
  const secs = (performance.now() - t0) / 1000;
  if (name === 'gemm' || name === 'gemmPacked') {
    const [ta, tb, M, N, K] = args;
    account(`${name} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${M}×${N}×${K}`, secs, 2 * M * N * K);
  } else {
    account(name, secs, 0);
  }
  return r;
});

const corpus = benchCorpus(lib, resolve(root, DATA));
const model = benchModel(lib, backend, c, corpus.vocab.size);
let n = 0, iterSecs = 0;
const events = lib.train(model, corpus, benchTrainOptions(c, WARMUP + iters + 1))[Symbol.asyncIterator]();
while (n < WARMUP + iters) {
  const { value, done } = await events.next();
  if (done) break;
  if (value.type !== 'iteration') continue;
  n++;
  if (n === WARMUP) { timing = true; continue; }
  if (n > WARMUP) iterSecs += (c.batch * c.seq) / value.charsPerSec;
}
await events.return(undefined);

const per = (x) => x / iters;
const rows = [...spent].sort((a, b) => b[1].secs - a[1].secs);
const kernelSecs = rows.reduce((s, [, e]) => s + e.secs, 0);
const ms = (s) => (1000 * s).toFixed(2);
console.log(`config ${values.config} (LSTM ${c.layers}×${c.hidden}, batch ${c.batch} × seq ${c.seq}), ${backend.name}` +
  `${backend.threads ? `, ${backend.threads} thread(s)` : ''}${backend.flavor ? `, ${backend.flavor}` : ''}; ${iters} iterations after ${WARMUP} warm-up`);
console.log(`iteration ${ms(per(iterSecs))} ms (${Math.round(iters * c.batch * c.seq / iterSecs).toLocaleString('en-US')} chars/s), kernels ${ms(per(kernelSecs))} ms, the rest ${ms(per(iterSecs - kernelSecs))} ms\n`);
console.log('| kernel | calls/iter | ms/iter | share | GFLOP/s |');
console.log('|---|---:|---:|---:|---:|');
for (const [key, e] of rows) {
  if (per(e.secs) < 1e-5) continue;
  const gf = e.flops ? (e.flops / e.secs / 1e9).toFixed(1) : '';
  console.log(`| ${key} | ${per(e.calls)} | ${ms(per(e.secs))} | ${(100 * e.secs / iterSecs).toFixed(1)}% | ${gf} |`);
}
backend.dispose?.();
