// Matrix-product throughput through the wasm backend itself, on 1 thread and on every core,
// for the products of LSTM training (batch 50, seq 50, H = 128 and 512) and 512³.
//
//   npm run build && node bench/gemm-threads.mjs [--threads 1,2]
import { cpus } from 'node:os';
import { loadWasmBackend } from '../dist/src/node/wasm.js';

const arg = process.argv.indexOf('--threads');
const counts = arg > 0 ? process.argv[arg + 1].split(',').map(Number) : [1, cpus().length];
const shapes = [];
for (const H of [128, 512]) {
  const G = 4 * H, N = 2500;
  shapes.push(
    [`H=${H} rec fwd  NT`, false, true, 50, G, H],
    [`H=${H} in proj  NT`, false, true, N, G, H],
    [`H=${H} rec bwd  NN`, false, false, 50, H, G],
    [`H=${H} wgrad    TN`, true, false, G, H, N],
    [`H=${H} sample   NT`, false, true, 1, G, H],
  );
}
shapes.push(['square        NN', false, false, 512, 512, 512]);

const rows = new Map();
for (const threads of counts) {
  const be = await loadWasmBackend({ threads });
  for (const [label, tA, tB, M, N, K] of shapes) {
    const slice = (n) => ({ buf: be.alloc(n), offset: 0, length: n });
    const a = slice(M * K), b = slice(K * N), c = slice(M * N);
    be.upload(a, Float32Array.from({ length: M * K }, () => Math.random() - 0.5));
    be.upload(b, Float32Array.from({ length: K * N }, () => Math.random() - 0.5));
    const flops = 2 * M * N * K;
    const reps = Math.max(3, Math.round(2e8 / flops));
    const times = [];
    for (let run = 0; run < 9; run++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) be.gemm(tA, tB, M, N, K, 1, a, b, 0, c);
      times.push((performance.now() - t0) / reps);
    }
    times.sort((x, y) => x - y);
    const gflops = flops / (times[4] / 1000) / 1e9;
    rows.set(label, { ...(rows.get(label) ?? {}), [threads]: gflops });
  }
  be.dispose();
}
console.log(`| product | M×N×K | ${counts.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ')} |`);
console.log(`|---|---|${counts.map(() => '---:').join('|')}|`);
for (const [label, tA, tB, M, N, K] of shapes) {
  void tA; void tB;
  const r = rows.get(label);
  console.log(`| ${label} | ${M}×${N}×${K} | ${counts.map((t) => r[t].toFixed(1)).join(' | ')} |`);
}
