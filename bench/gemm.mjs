// Correctness check and throughput benchmark for assembly/gemm.ts.
//
//   node bench/gemm.mjs                    compile plain-SIMD and relaxed-SIMD builds, check, time
//   node bench/gemm.mjs a.wasm [b.wasm]    use prebuilt modules instead
//   options: --check-only, --bench-only, --quick (fewer runs), --only=REGEX (shape labels)
//
// Relaxed SIMD is still behind a flag in Node 20, and V8 only honours the flag if it is set
// before the first relaxed module is compiled.
import v8 from 'node:v8';
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const files = args.filter((a) => !a.startsWith('--'));
const only = new RegExp(args.find((a) => a.startsWith('--only='))?.slice(7) ?? '');

function build() {
  const dir = mkdtempSync(join(tmpdir(), 'gemm-'));
  const asc = join(root, 'node_modules/.bin/asc');
  const common = ['--enable', 'simd', '-O3', '--runtime', 'stub', '--importMemory', '--noAssert'];
  const out = [];
  for (const [name, extra] of [['simd', []], ['relaxed', ['--enable', 'relaxed-simd']]]) {
    const file = join(dir, `gemm-${name}.wasm`);
    execFileSync(asc, [join(root, 'assembly/gemm.ts'), ...common, ...extra, '-o', file], { stdio: 'inherit' });
    out.push({ name, bytes: readFileSync(file) });
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const builds = files.length
  ? files.map((f) => ({ name: f.replace(/^.*\//, ''), bytes: readFileSync(f) }))
  : build();

// Enough for the largest benchmark shape (TN 2048×512×2500) plus scratch.
const memory = new WebAssembly.Memory({ initial: 1600 });
const heapBase = 65536;

function instantiate(bytes) {
  const mod = new WebAssembly.Module(bytes);
  return new WebAssembly.Instance(mod, { env: { memory } }).exports;
}

// Bump allocator over the shared Memory; 64-byte alignment matches the cache line.
let top = heapBase;
function alloc(floats) {
  const p = top;
  top = (top + floats * 4 + 63) & ~63;
  if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
  return p;
}
const f32 = (p, n) => new Float32Array(memory.buffer, p, n);

let seed = 12345;
function rand() {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return (seed / 4294967296) * 2 - 1;
}

// op(A) stored [K,M] when transposed, [M,K] otherwise; likewise op(B) is [N,K] or [K,N]; the
// row strides default to the contiguous ones.
function reference(tA, tB, M, N, K, alpha, A, B, beta, C, lda = tA ? M : K, ldb = tB ? K : N, ldc = N) {
  const out = new Float64Array(M * N);
  let scale = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0, m = 0;
      for (let k = 0; k < K; k++) {
        const x = tA ? A[k * lda + i] : A[i * lda + k];
        const y = tB ? B[j * ldb + k] : B[k * ldb + j];
        s += x * y;
        m += Math.abs(x * y);
      }
      const c0 = beta === 0 ? 0 : beta * C[i * ldc + j];
      out[i * N + j] = alpha * s + c0;
      scale = Math.max(scale, Math.abs(alpha) * m + Math.abs(c0));
    }
  }
  return { out, scale };
}

function checkOne(g, tA, tB, M, N, K, alpha, beta) {
  top = heapBase;
  const pa = alloc(M * K), pb = alloc(K * N), pc = alloc(M * N);
  const pk = alloc(Math.ceil(g.gemmScratchBytes(M, N, K) / 4));
  const A = f32(pa, M * K), B = f32(pb, K * N), C = f32(pc, M * N);
  for (let i = 0; i < A.length; i++) A[i] = rand();
  for (let i = 0; i < B.length; i++) B[i] = rand();
  // beta == 0 must overwrite C without reading it, so NaN there must not survive.
  for (let i = 0; i < C.length; i++) C[i] = beta === 0 ? NaN : rand();
  const C0 = Float32Array.from(C);
  const { out, scale } = reference(tA, tB, M, N, K, alpha, A, B, beta, C0);
  g.gemm(tA, tB, M, N, K, alpha, pa, pb, beta, pc, pk);
  const Cr = f32(pc, M * N);
  let err = 0;
  for (let i = 0; i < M * N; i++) {
    const e = Math.abs(Cr[i] - out[i]);
    err = Math.max(err, Number.isNaN(e) ? Infinity : e);
  }
  return err / Math.max(scale, 1e-30);
}

// gemmLd on sub-matrices: every stored row is `pad` floats longer than the product needs, and
// the padding of C holds a sentinel that must survive.
function checkOneLd(g, tA, tB, M, N, K, alpha, beta, pad) {
  top = heapBase;
  const ra = tA ? K : M, ca = tA ? M : K, rb = tB ? N : K, cb = tB ? K : N;
  const lda = ca + pad, ldb = cb + pad, ldc = N + pad;
  const pa = alloc(ra * lda), pb = alloc(rb * ldb), pc = alloc(M * ldc);
  const pk = alloc(Math.ceil(g.gemmScratchBytes(M, N, K) / 4));
  const A = f32(pa, ra * lda), B = f32(pb, rb * ldb), C = f32(pc, M * ldc);
  for (let i = 0; i < A.length; i++) A[i] = rand();
  for (let i = 0; i < B.length; i++) B[i] = rand();
  for (let i = 0; i < C.length; i++) C[i] = i % ldc >= N ? 777 : beta === 0 ? NaN : rand();
  const C0 = Float32Array.from(C);
  const { out, scale } = reference(tA, tB, M, N, K, alpha, A, B, beta, C0, lda, ldb, ldc);
  g.gemmLd(tA, tB, M, N, K, alpha, pa, lda, pb, ldb, beta, pc, ldc, pk);
  const Cr = f32(pc, M * ldc);
  let err = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < ldc; j++) {
      const got = Cr[i * ldc + j];
      const e = j < N ? Math.abs(got - out[i * N + j]) : got === 777 ? 0 : Infinity;
      err = Math.max(err, Number.isNaN(e) ? Infinity : e);
    }
  }
  return err / Math.max(scale, 1e-30);
}

function check(g, name) {
  const ab = [[1, 0], [0.5, 1], [-1.5, 0.25], [2, 0], [1, 1], [0, 0.5]];
  const worst = [0, 0, 0, 0], worstLd = [0, 0, 0, 0];
  let cases = 0, t = 0;
  const sizes = [];
  for (let i = 1; i <= 33; i++) sizes.push(i);
  let rot = 0;
  for (let tc = 0; tc < 4; tc++) {
    const tA = tc >> 1, tB = tc & 1;
    const run = (M, N, K) => {
      const [alpha, beta] = ab[rot++ % ab.length];
      const e = checkOne(g, tA, tB, M, N, K, alpha, beta);
      worst[tc] = Math.max(worst[tc], e);
      cases++;
    };
    // Every M and N in 1..33 with K cycling through 1..33 covers all tile remainders.
    for (const M of sizes) for (const N of sizes) run(M, N, sizes[(M * 7 + N * 3 + tc) % 33]);
    for (const K of sizes) run(sizes[K % 33], sizes[(K * 5) % 33], K);
    // Shapes that cross the K, M and N block sizes and the matrix-vector paths.
    for (const [M, N, K] of [[1, 1, 1], [1, 37, 300], [1, 513, 129], [1, 65, 7], [2, 3, 600],
      [130, 67, 300], [257, 9, 513], [7, 2100, 33], [121, 2049, 257], [50, 512, 128]]) run(M, N, K);
    for (const [M, N, K] of [[1, 1, 1], [1, 37, 30], [1, 40, 9], [5, 9, 3], [13, 17, 33], [33, 31, 29],
      [130, 67, 300], [6, 2100, 9]]) {
      for (const pad of [1, 3, 8]) {
        const [alpha, beta] = ab[rot++ % ab.length];
        worstLd[tc] = Math.max(worstLd[tc], checkOneLd(g, tA, tB, M, N, K, alpha, beta, pad));
        cases++;
      }
    }
  }
  const names = ['NN', 'NT', 'TN', 'TT'];
  console.log(`${name}: ${cases} cases, max error relative to Σ|alpha·a·b|+|beta·c|: ` +
    worst.map((w, i) => `${names[i]} ${w.toExponential(2)}`).join(', ') +
    '; gemmLd with padded strides: ' + worstLd.map((w, i) => `${names[i]} ${w.toExponential(2)}`).join(', '));
  return Math.max(...worst, ...worstLd) < 1e-5;
}

const H = [128, 512], Bt = 50, T = 50, V = 65;
const shapes = [];
for (const h of H) {
  shapes.push(
    [`H=${h} rec fwd   NT`, 0, 1, Bt, 4 * h, h],
    [`H=${h} in proj   NT`, 0, 1, T * Bt, 4 * h, h],
    [`H=${h} rec bwd   NN`, 0, 0, Bt, h, 4 * h],
    [`H=${h} wgrad     TN`, 1, 0, 4 * h, h, T * Bt],
    [`H=${h} in bwd    NN`, 0, 0, T * Bt, h, 4 * h],
    [`H=${h} decoder   NT`, 0, 1, T * Bt, V, h],
    [`H=${h} sample    NT`, 0, 1, 1, 4 * h, h],
    [`H=${h} sample dec NT`, 0, 1, 1, V, h],
    [`H=${h} sample    NN`, 0, 0, 1, 4 * h, h],
  );
}
shapes.push(['square         NN', 0, 0, 512, 512, 512], ['square         TT', 1, 1, 512, 512, 512]);

function bench(g, tA, tB, M, N, K, runs) {
  top = heapBase;
  const pa = alloc(M * K), pb = alloc(K * N), pc = alloc(M * N);
  const pk = alloc(Math.ceil(g.gemmScratchBytes(M, N, K) / 4));
  const A = f32(pa, M * K), B = f32(pb, K * N);
  for (let i = 0; i < A.length; i++) A[i] = rand();
  for (let i = 0; i < B.length; i++) B[i] = rand();
  f32(pc, M * N).fill(0);
  const flops = 2 * M * N * K;
  // Each timed run repeats the product for ~20 ms so that timer resolution does not matter.
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) g.gemm(tA, tB, M, N, K, 1, pa, pb, 0, pc, pk);
    const dt = performance.now() - t0;
    if (dt > 20) break;
    reps = Math.ceil(reps * Math.min(10, 25 / Math.max(dt, 0.5)));
  }
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) g.gemm(tA, tB, M, N, K, 1, pa, pb, 0, pc, pk);
    rates.push((flops * reps) / ((performance.now() - t0) * 1e6));
  }
  rates.sort((x, y) => x - y);
  return rates[rates.length >> 1];
}

const insts = builds.map((b) => ({ name: b.name, g: instantiate(b.bytes) }));
let ok = true;
if (!flags.has('--bench-only')) for (const { name, g } of insts) ok = check(g, name) && ok;
if (!flags.has('--check-only')) {
  const runs = flags.has('--quick') ? 3 : 9;
  console.log(`\nGFLOP/s, median of ${runs} runs, one thread`);
  console.log('shape                 M     N     K ' + insts.map((i) => i.name.padStart(10)).join(''));
  for (const [label, tA, tB, M, N, K] of shapes.filter((s) => only.test(s[0]))) {
    const cols = insts.map(({ g }) => bench(g, tA, tB, M, N, K, runs).toFixed(1).padStart(10));
    console.log(`${label.padEnd(18)}${String(M).padStart(5)} ${String(N).padStart(5)} ${String(K).padStart(5)} ${cols.join('')}`);
  }
}
process.exitCode = ok ? 0 : 1;
