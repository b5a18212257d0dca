// Reference matrix product over Float32Arrays with offsets, row-major. Loop orders keep the
// innermost loop on contiguous memory for each transpose case, and small register blocks
// share each load between several products: that is most of what plain JavaScript can do.

// C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C
export function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
  beta: number, c: Float32Array, co: number): void {
  if (beta === 0) c.fill(0, co, co + M * N);
  else if (beta !== 1) for (let i = co; i < co + M * N; i++) c[i] *= beta;
  if (alpha === 0 || K === 0) return;
  if (!transA && transB) return gemmNT(M, N, K, alpha, a, ao, b, bo, c, co);
  if (!transA && !transB) return gemmNN(M, N, K, alpha, a, ao, b, bo, c, co);
  if (transA && !transB) return gemmTN(M, N, K, alpha, a, ao, b, bo, c, co);
  return gemmTT(M, N, K, alpha, a, ao, b, bo, c, co);
}

// C[M,N] += alpha·A[M,K]·B[N,K]ᵀ: a 2×4 block of dot products shares each load.
function gemmNT(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  let i = 0;
  for (; i + 2 <= M; i += 2) {
    const a0 = ao + i * K, a1 = a0 + K;
    const c0 = co + i * N, c1 = c0 + N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = bo + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k], x1 = a[a1 + k];
        const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      c[c0 + j] += alpha * s00; c[c0 + j + 1] += alpha * s01; c[c0 + j + 2] += alpha * s02; c[c0 + j + 3] += alpha * s03;
      c[c1 + j] += alpha * s10; c[c1 + j + 1] += alpha * s11; c[c1 + j + 2] += alpha * s12; c[c1 + j + 3] += alpha * s13;
    }
    for (; j < N; j++) {
      const bj = bo + j * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) { s0 += a[a0 + k] * b[bj + k]; s1 += a[a1 + k] * b[bj + k]; }
      c[c0 + j] += alpha * s0; c[c1 + j] += alpha * s1;
    }
  }
  for (; i < M; i++) {
    const ai = ao + i * K, ci = co + i * N;
    for (let j = 0; j < N; j++) {
      const bj = bo + j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ai + k] * b[bj + k];
      c[ci + j] += alpha * s;
    }
  }
}

// C[M,N] += alpha·A[M,K]·B[K,N]: two rows of C and four rows of B per pass.
function gemmNN(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  let i = 0;
  for (; i + 2 <= M; i += 2) {
    const ci = co + i * N, cj = ci + N, ai = ao + i * K, aj = ai + K;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const x0 = alpha * a[ai + k], x1 = alpha * a[ai + k + 1], x2 = alpha * a[ai + k + 2], x3 = alpha * a[ai + k + 3];
      const z0 = alpha * a[aj + k], z1 = alpha * a[aj + k + 1], z2 = alpha * a[aj + k + 2], z3 = alpha * a[aj + k + 3];
      const b0 = bo + k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
      for (let j = 0; j < N; j++) {
        const y0 = b[b0 + j], y1 = b[b1 + j], y2 = b[b2 + j], y3 = b[b3 + j];
        c[ci + j] += x0 * y0 + x1 * y1 + x2 * y2 + x3 * y3;
        c[cj + j] += z0 * y0 + z1 * y1 + z2 * y2 + z3 * y3;
      }
    }
    for (; k < K; k++) {
      const x = alpha * a[ai + k], z = alpha * a[aj + k], bk = bo + k * N;
      for (let j = 0; j < N; j++) { c[ci + j] += x * b[bk + j]; c[cj + j] += z * b[bk + j]; }
    }
  }
  for (; i < M; i++) {
    const ci = co + i * N, ai = ao + i * K;
    for (let k = 0; k < K; k++) {
      const x = alpha * a[ai + k], bk = bo + k * N;
      for (let j = 0; j < N; j++) c[ci + j] += x * b[bk + j];
    }
  }
}

// C[M,N] += alpha·A[K,M]ᵀ·B[K,N]: two rows of C and four rows of B per pass.
function gemmTN(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const b0 = bo + k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
    const a0 = ao + k * M, a1 = a0 + M, a2 = a1 + M, a3 = a2 + M;
    let i = 0;
    for (; i + 2 <= M; i += 2) {
      const x0 = alpha * a[a0 + i], x1 = alpha * a[a1 + i], x2 = alpha * a[a2 + i], x3 = alpha * a[a3 + i];
      const z0 = alpha * a[a0 + i + 1], z1 = alpha * a[a1 + i + 1], z2 = alpha * a[a2 + i + 1], z3 = alpha * a[a3 + i + 1];
      const ci = co + i * N, cj = ci + N;
      for (let j = 0; j < N; j++) {
        const y0 = b[b0 + j], y1 = b[b1 + j], y2 = b[b2 + j], y3 = b[b3 + j];
        c[ci + j] += x0 * y0 + x1 * y1 + x2 * y2 + x3 * y3;
        c[cj + j] += z0 * y0 + z1 * y1 + z2 * y2 + z3 * y3;
      }
    }
    for (; i < M; i++) {
      const x0 = alpha * a[a0 + i], x1 = alpha * a[a1 + i], x2 = alpha * a[a2 + i], x3 = alpha * a[a3 + i];
      const ci = co + i * N;
      for (let j = 0; j < N; j++) c[ci + j] += x0 * b[b0 + j] + x1 * b[b1 + j] + x2 * b[b2 + j] + x3 * b[b3 + j];
    }
  }
  for (; k < K; k++) {
    const bk = bo + k * N;
    for (let i = 0; i < M; i++) {
      const x = alpha * a[ao + k * M + i], ci = co + i * N;
      for (let j = 0; j < N; j++) c[ci + j] += x * b[bk + j];
    }
  }
}

// C[M,N] += alpha·A[K,M]ᵀ·B[N,K]ᵀ
function gemmTT(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ao + k * M + i] * b[bo + j * K + k];
      c[co + i * N + j] += alpha * s;
    }
  }
}
