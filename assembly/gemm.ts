// Single-precision matrix product for the WebAssembly SIMD backend.
//
// C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, row-major, contiguous; all pointers are byte
// addresses in linear memory; `pack` points to a scratch area of at least gemmScratchBytes(M,N,K)
// bytes. beta == 0 overwrites C without reading it, so NaN garbage in C cannot leak through.
// gemmLd is the same product on sub-matrices: lda, ldb and ldc are the row strides, in floats, of
// the stored A, B and C, which lets callers split one product between threads by columns of C
// (the only split that needs no reduction for every transpose case) or work on slices in place.
//
// Layout follows the usual Goto/BLIS scheme: op(A) and op(B) are copied into panels that the
// micro-kernel reads strictly sequentially, which lets all four transpose cases share one
// kernel. The kernel keeps a 4×8 block of C in 8 f32x4 accumulators. V8 reserves one of the 16
// x86 vector registers and hoists every load of a k step ahead of its multiply-adds, so a step
// needs accumulators + 2 vectors of B + one broadcast per row live at once: 4×8 needs 14 and
// runs at the 128-bit FMA ceiling, while 6×8 needs 20 and spills a third of its accumulators
// to the stack on every step (measured about half the throughput).
// The module runs on imported (later shared) memory with the stub runtime, so nothing here may
// allocate: every buffer comes from the caller's scratch area.
import { dot1, fma, hsum } from './simd';

// Rows and columns of the register block.
const MR = 4;
const NR = 8;
// A KC×NR panel of B (8 KiB) stays in L1 while the KC×MC block of A (128 KiB) streams from L2.
const KC = 256;
const MC = 128;
// The packed KC×NC panel of B (512 KiB) stays in this machine's 1 MiB L2 next to the block of
// A; 2048 spilled it to L3 and measured a few percent slower on the 4H-wide products.
const NC = 512;
// Columns of c that one pass of the matrix-vector product keeps in L1.
const GEMV_STRIP = 1024;

@inline function roundUp(x: i32, m: i32): i32 {
  return (x + m - 1) / m * m;
}

@inline function min32(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

export function gemmScratchBytes(M: i32, N: i32, K: i32): i32 {
  const kc = min32(K, KC);
  const nc = roundUp(min32(N, NC), NR);
  const mc = roundUp(min32(M, MC), MR);
  // +MR·NR for the edge-tile buffer, +16 floats so the start can be aligned to 64 bytes
  return (kc * nc + kc * mc + MR * NR + 16) << 2;
}

export function gemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, a: usize,
  b: usize, beta: f32, c: usize, pack: usize): void {
  gemmLd(transA, transB, M, N, K, alpha, a, transA ? M : K, b, transB ? K : N, beta, c, N, pack);
}

export function gemmLd(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, a: usize,
  lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32, pack: usize): void {
  if (trivial(M, N, K, alpha, beta, c, ldc)) return;
  // A single row of op(A) is contiguous unless it is a strided column of a stored A, so
  // matrix-vector products skip packing: they are bound by reading B once, and packing would
  // read it twice.
  if (M == 1 && (!transA || lda == 1)) {
    if (transB) gemvT(N, K, alpha, a, b, ldb, beta, c);
    else gemvN(N, K, alpha, a, b, ldb, beta, c);
    return;
  }
  blocks(transA, transB, M, N, K, alpha, a, lda, b, ldb, 0, 0, 0, beta, c, ldc, pack);
}

// Products with nothing to multiply: C is only scaled by beta (or left alone when empty).
@inline function trivial(M: i32, N: i32, K: i32, alpha: f32, beta: f32, c: usize, ldc: i32): bool {
  if (M <= 0 || N <= 0) return true;
  if (K > 0 && alpha != 0) return false;
  for (let i = 0; i < M; i++) scaleC(N, beta, c + (<usize>i * <usize>ldc << 2));
  return true;
}

// The panels of op(B)[K,N] that gemm packs, packed once for many products with the same B (a
// layer's W_hh at every step of a sequence): for each block of KC rows of K from row pc, the
// 8-column panels one after another, the panel of column j at float pc·Npad + j·kc, Npad = N
// rounded up to 8. This packs columns [j0, j0+n) of it (threads split the columns; j0 is a
// multiple of 8) into dst, the start of the whole packed B.
export function packB(transB: i32, K: i32, N: i32, b: usize, ldb: i32, dst: usize, j0: i32, n: i32): void {
  const npad = roundUp(N, NR);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min32(KC, K - pc);
    for (let jc = j0; jc < j0 + n; jc += NC) {
      const nc = min32(NC, j0 + n - jc);
      const at = dst + (<usize>(pc * npad + jc * kc) << 2);
      if (transB) packBT(b, ldb, pc, jc, kc, nc, at);
      else packBN(b, ldb, pc, jc, kc, nc, at);
    }
  }
}

export function packedBFloats(K: i32, N: i32): i32 {
  return K * roundUp(N, NR);
}

// gemmLd with op(B) taken from packB's panels: columns [j0, j0+N) of a packed B of Npad columns,
// into C's columns from c (the caller offsets c by j0). Same blocks, same kernel, same sums:
// the result is gemm's bit for bit.
export function gemmPacked(transA: i32, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32,
  packed: usize, j0: i32, npad: i32, beta: f32, c: usize, ldc: i32, pack: usize): void {
  if (trivial(M, N, K, alpha, beta, c, ldc)) return;
  blocks(transA, 0, M, N, K, alpha, a, lda, 0, 0, packed, j0, npad, beta, c, ldc, pack);
}

// The blocked product. B's panels are packed here from b, or with packed ≠ 0 read from there.
@inline function blocks(transA: i32, transB: i32, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32,
  b: usize, ldb: i32, packed: usize, j0: i32, npad: i32, beta: f32, c: usize, ldc: i32, pack: usize): void {
  const base = (pack + 63) & ~(<usize>63);
  const kcMax = min32(K, KC);
  const pB = base;
  const pA = pB + (<usize>(kcMax * roundUp(min32(N, NC), NR)) << 2);
  const tmp = pA + (<usize>(kcMax * roundUp(min32(M, MC), MR)) << 2);
  const ldcB = <usize>ldc << 2;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min32(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min32(KC, K - pc);
      let panels = pB;
      if (packed != 0) panels = packed + (<usize>(pc * npad + (j0 + jc) * kc) << 2);
      else if (transB) packBT(b, ldb, pc, jc, kc, nc, pB);
      else packBN(b, ldb, pc, jc, kc, nc, pB);
      // beta applies once; later K blocks accumulate onto what the first one wrote
      const betaK: f32 = pc == 0 ? beta : 1;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min32(MC, M - ic);
        if (transA) packAT(a, lda, ic, pc, mc, kc, alpha, pA);
        else packAN(a, lda, ic, pc, mc, kc, alpha, pA);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min32(NR, nc - jr);
          const pb = panels + (<usize>(jr * kc) << 2);
          const cj = c + <usize>ic * ldcB + (<usize>(jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min32(MR, mc - ir);
            const pa = pA + (<usize>(ir * kc) << 2);
            const cij = cj + <usize>ir * ldcB;
            if (mr == MR && nr == NR) {
              kernel(kc, pa, pb, cij, ldcB, betaK);
            } else {
              // Padded panels are zero-filled, so the full kernel is still correct; only the
              // valid corner of its result is merged into C.
              if (nr <= 4) kernel4x4(kc, pa, pb, tmp, NR << 2);
              else kernel(kc, pa, pb, tmp, NR << 2, 0);
              mergeEdge(mr, nr, tmp, cij, ldcB, betaK);
            }
          }
        }
      }
    }
  }
}

function scaleC(n: i32, beta: f32, c: usize): void {
  const end = c + (<usize>n << 2);
  if (beta == 0) {
    memory.fill(c, 0, end - c);
  } else if (beta != 1) {
    const bv = f32x4.splat(beta);
    let p = c;
    for (; p + 16 <= end; p += 16) v128.store(p, f32x4.mul(v128.load(p), bv));
    for (; p < end; p += 4) store<f32>(p, load<f32>(p) * beta);
  }
}

// Writes C[4×8] = acc + beta·C from a KC×4 panel of A (alpha already applied) and a KC×8 panel of B.
function kernel(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, beta: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load32_splat(pa);
    c00 = fma(x, b0, c00); c01 = fma(x, b1, c01);
    x = v128.load32_splat(pa, 4);
    c10 = fma(x, b0, c10); c11 = fma(x, b1, c11);
    x = v128.load32_splat(pa, 8);
    c20 = fma(x, b0, c20); c21 = fma(x, b1, c21);
    x = v128.load32_splat(pa, 12);
    c30 = fma(x, b0, c30); c31 = fma(x, b1, c31);
    pa += MR << 2;
    pb += NR << 2;
  }
  if (beta == 0) {
    v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
    v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
    v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
    v128.store(c, c30); v128.store(c, c31, 16);
  } else {
    const bv = f32x4.splat(beta);
    v128.store(c, fma(v128.load(c), bv, c00)); v128.store(c, fma(v128.load(c, 16), bv, c01), 16); c += ldc;
    v128.store(c, fma(v128.load(c), bv, c10)); v128.store(c, fma(v128.load(c, 16), bv, c11), 16); c += ldc;
    v128.store(c, fma(v128.load(c), bv, c20)); v128.store(c, fma(v128.load(c, 16), bv, c21), 16); c += ldc;
    v128.store(c, fma(v128.load(c), bv, c30)); v128.store(c, fma(v128.load(c, 16), bv, c31), 16);
  }
}

// The 4×4 left half of kernel(), for the last panel of B when at most 4 of its columns are real:
// it halves the wasted work on narrow products such as the 65-column decoder.
function kernel4x4(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    c0 = fma(v128.load32_splat(pa), b0, c0);
    c1 = fma(v128.load32_splat(pa, 4), b0, c1);
    c2 = fma(v128.load32_splat(pa, 8), b0, c2);
    c3 = fma(v128.load32_splat(pa, 12), b0, c3);
    pa += MR << 2;
    pb += NR << 2;
  }
  v128.store(c, c0); c += ldc;
  v128.store(c, c1); c += ldc;
  v128.store(c, c2); c += ldc;
  v128.store(c, c3);
}

function mergeEdge(mr: i32, nr: i32, tmp: usize, c: usize, ldc: usize, beta: f32): void {
  for (let i = 0; i < mr; i++) {
    const t = tmp + (<usize>(i * NR) << 2);
    const ci = c + <usize>i * ldc;
    if (beta == 0) {
      for (let j = 0; j < nr; j++) store<f32>(ci + (<usize>j << 2), load<f32>(t + (<usize>j << 2)));
    } else {
      for (let j = 0; j < nr; j++) {
        const p = ci + (<usize>j << 2);
        store<f32>(p, load<f32>(t + (<usize>j << 2)) + beta * load<f32>(p));
      }
    }
  }
}

// op(B) = B[K,N]: each k row of a panel is 8 contiguous floats of B.
function packBN(b: usize, ldbF: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  const ldb = <usize>ldbF << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min32(NR, nc - jr);
    let src = b + <usize>pc * ldb + (<usize>(jc + jr) << 2);
    if (nr == NR) {
      for (let k = 0; k < kc; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        src += ldb;
        dst += NR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        v128.store(dst, f32x4.splat(0));
        v128.store(dst, f32x4.splat(0), 16);
        for (let j = 0; j < nr; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
        src += ldb;
        dst += NR << 2;
      }
    }
  }
}

// Stores the 4×4 transpose of rows r0..r3 as four k-rows of a packed panel (stride `ld` bytes).
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, ld: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst + ld, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * ld, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * ld, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

// op(B) = B[N,K]ᵀ: a panel is 8 rows of B read along k, transposed 4×4 at a time.
function packBT(b: usize, ldbF: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  const ldb = <usize>ldbF << 2;
  const ld: usize = NR << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min32(NR, nc - jr);
    const src = b + <usize>(jc + jr) * ldb + (<usize>pc << 2);
    if (nr == NR) {
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const s = src + (<usize>k << 2);
        const d = dst + <usize>k * ld;
        transpose4(v128.load(s), v128.load(s + ldb), v128.load(s + 2 * ldb), v128.load(s + 3 * ldb), d, ld);
        const s4 = s + 4 * ldb;
        transpose4(v128.load(s4), v128.load(s4 + ldb), v128.load(s4 + 2 * ldb), v128.load(s4 + 3 * ldb), d + 16, ld);
      }
      for (; k < kc; k++) {
        const d = dst + <usize>k * ld;
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + <usize>j * ldb + (<usize>k << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = dst + <usize>k * ld;
        v128.store(d, f32x4.splat(0));
        v128.store(d, f32x4.splat(0), 16);
        for (let j = 0; j < nr; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + <usize>j * ldb + (<usize>k << 2)));
      }
    }
    dst += <usize>kc * ld;
  }
}

// op(A) = A[M,K]: a panel gathers MR rows of A along k; alpha is folded in here, where each
// element is touched once, instead of in the kernel.
function packAN(a: usize, ldaF: i32, ic: i32, pc: i32, mc: i32, kc: i32, alpha: f32, dst: usize): void {
  const lda = <usize>ldaF << 2;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min32(MR, mc - ir);
    const src = a + <usize>(ic + ir) * lda + (<usize>pc << 2);
    if (mr == MR) {
      // With MR == 4 a 4×4 transpose of four rows is exactly four k rows of the panel.
      const av = f32x4.splat(alpha);
      const s0 = src, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const o = <usize>k << 2;
        transpose4(f32x4.mul(v128.load(s0 + o), av), f32x4.mul(v128.load(s1 + o), av),
          f32x4.mul(v128.load(s2 + o), av), f32x4.mul(v128.load(s3 + o), av), dst + (o << 2), MR << 2);
      }
      for (; k < kc; k++) {
        const o = <usize>k << 2;
        const d = dst + (o << 2);
        store<f32>(d, alpha * load<f32>(s0 + o));
        store<f32>(d, alpha * load<f32>(s1 + o), 4);
        store<f32>(d, alpha * load<f32>(s2 + o), 8);
        store<f32>(d, alpha * load<f32>(s3 + o), 12);
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = dst + (<usize>(k * MR) << 2);
        for (let i = 0; i < MR; i++) {
          store<f32>(d + (<usize>i << 2), i < mr ? alpha * load<f32>(src + <usize>i * lda + (<usize>k << 2)) : 0);
        }
      }
    }
    dst += <usize>(kc * MR) << 2;
  }
}

// op(A) = A[K,M]ᵀ: each k row of a panel is MR contiguous floats of A.
function packAT(a: usize, ldaF: i32, ic: i32, pc: i32, mc: i32, kc: i32, alpha: f32, dst: usize): void {
  const lda = <usize>ldaF << 2;
  const av = f32x4.splat(alpha);
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min32(MR, mc - ir);
    let src = a + <usize>pc * lda + (<usize>(ic + ir) << 2);
    let d = dst;
    if (mr == MR) {
      for (let k = 0; k < kc; k++) {
        v128.store(d, f32x4.mul(v128.load(src), av));
        src += lda;
        d += MR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let i = 0; i < MR; i++) {
          store<f32>(d + (<usize>i << 2), i < mr ? alpha * load<f32>(src + (<usize>i << 2)) : 0);
        }
        src += lda;
        d += MR << 2;
      }
    }
    dst += <usize>(kc * MR) << 2;
  }
}

@inline function finish(p: usize, s: f32, alpha: f32, beta: f32): void {
  store<f32>(p, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(p));
}

// c[j] = alpha·dot(x, B[j,:]) + beta·c[j]: three rows of B at a time with two accumulators each
// give six independent add chains to hide the FMA latency, and with the two vectors of x and the
// six loads V8 hoists ahead of them that is 14 registers, the most that fit without spilling.
function gemvT(N: i32, K: i32, alpha: f32, x: usize, b: usize, ldbF: i32, beta: f32, c: usize): void {
  const ldb = <usize>ldbF << 2;
  let j = 0;
  for (; j + 3 <= N; j += 3) {
    const r0 = b + <usize>j * ldb, r1 = r0 + ldb, r2 = r1 + ldb;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0);
    let u0 = f32x4.splat(0), u1 = f32x4.splat(0), u2 = f32x4.splat(0);
    let k = 0;
    for (; k + 8 <= K; k += 8) {
      const o = <usize>k << 2;
      const xa = v128.load(x + o), xb = v128.load(x + o, 16);
      s0 = fma(xa, v128.load(r0 + o), s0); u0 = fma(xb, v128.load(r0 + o, 16), u0);
      s1 = fma(xa, v128.load(r1 + o), s1); u1 = fma(xb, v128.load(r1 + o, 16), u1);
      s2 = fma(xa, v128.load(r2 + o), s2); u2 = fma(xb, v128.load(r2 + o, 16), u2);
    }
    for (; k + 4 <= K; k += 4) {
      const o = <usize>k << 2;
      const xa = v128.load(x + o);
      s0 = fma(xa, v128.load(r0 + o), s0);
      s1 = fma(xa, v128.load(r1 + o), s1);
      s2 = fma(xa, v128.load(r2 + o), s2);
    }
    let t0 = hsum(f32x4.add(s0, u0)), t1 = hsum(f32x4.add(s1, u1)), t2 = hsum(f32x4.add(s2, u2));
    for (; k < K; k++) {
      const o = <usize>k << 2;
      const xk = load<f32>(x + o);
      t0 += xk * load<f32>(r0 + o); t1 += xk * load<f32>(r1 + o); t2 += xk * load<f32>(r2 + o);
    }
    const p = c + (<usize>j << 2);
    finish(p, t0, alpha, beta); finish(p + 4, t1, alpha, beta); finish(p + 8, t2, alpha, beta);
  }
  for (; j < N; j++) finish(c + (<usize>j << 2), dot1(x, b + <usize>j * ldb, K), alpha, beta);
}

// c = alpha·xᵀB + beta·c with B[K,N]: four rows of B at a time are streamed sequentially and
// added into a strip of c that stays in L1. Walking B row by row keeps the hardware prefetcher
// on contiguous memory; strips of c held in registers instead walk B down narrow columns with
// a stride of a whole row, which measured about half as fast once B outgrows L2.
function gemvN(N: i32, K: i32, alpha: f32, x: usize, b: usize, ldbF: i32, beta: f32, c: usize): void {
  const ldb = <usize>ldbF << 2;
  scaleC(N, beta, c);
  for (let jc = 0; jc < N; jc += GEMV_STRIP) {
    const w = min32(GEMV_STRIP, N - jc);
    const cp = c + (<usize>jc << 2);
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const xp = x + (<usize>k << 2);
      const x0 = alpha * load<f32>(xp), x1 = alpha * load<f32>(xp, 4);
      const x2 = alpha * load<f32>(xp, 8), x3 = alpha * load<f32>(xp, 12);
      const v0 = f32x4.splat(x0), v1 = f32x4.splat(x1), v2 = f32x4.splat(x2), v3 = f32x4.splat(x3);
      const r0 = b + <usize>k * ldb + (<usize>jc << 2), r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
      let j = 0;
      for (; j + 4 <= w; j += 4) {
        const o = <usize>j << 2;
        const acc = fma(v0, v128.load(r0 + o), v128.load(cp + o));
        v128.store(cp + o, fma(v3, v128.load(r3 + o), fma(v2, v128.load(r2 + o), fma(v1, v128.load(r1 + o), acc))));
      }
      for (; j < w; j++) {
        const o = <usize>j << 2;
        store<f32>(cp + o, load<f32>(cp + o) + x0 * load<f32>(r0 + o) + x1 * load<f32>(r1 + o) +
          x2 * load<f32>(r2 + o) + x3 * load<f32>(r3 + o));
      }
    }
    for (; k < K; k++) {
      const xk = alpha * load<f32>(x + (<usize>k << 2));
      const v = f32x4.splat(xk);
      const r = b + <usize>k * ldb + (<usize>jc << 2);
      let j = 0;
      for (; j + 4 <= w; j += 4) {
        const o = <usize>j << 2;
        v128.store(cp + o, fma(v, v128.load(r + o), v128.load(cp + o)));
      }
      for (; j < w; j++) {
        const o = <usize>j << 2;
        store<f32>(cp + o, load<f32>(cp + o) + xk * load<f32>(r + o));
      }
    }
  }
}
