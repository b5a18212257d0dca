// Reference matrix product over Float32Arrays with offsets, row-major, accumulating in f64.
// Loop orders keep the innermost loop on contiguous memory for each transpose case.

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

// C[M,N] += alpha·A[M,K]·B[N,K]ᵀ: four dot products share each row of A.
function gemmNT(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  for (let i = 0; i < M; i++) {
    const ai = ao + i * K;
    const ci = co + i * N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = bo + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[ai + k];
        s0 += x * b[b0 + k]; s1 += x * b[b1 + k]; s2 += x * b[b2 + k]; s3 += x * b[b3 + k];
      }
      c[ci + j] += alpha * s0; c[ci + j + 1] += alpha * s1;
      c[ci + j + 2] += alpha * s2; c[ci + j + 3] += alpha * s3;
    }
    for (; j < N; j++) {
      const bj = bo + j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ai + k] * b[bj + k];
      c[ci + j] += alpha * s;
    }
  }
}

// C[M,N] += alpha·A[M,K]·B[K,N]
function gemmNN(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  for (let i = 0; i < M; i++) {
    const ci = co + i * N;
    for (let k = 0; k < K; k++) {
      const x = alpha * a[ao + i * K + k];
      if (x === 0) continue;
      const bk = bo + k * N;
      for (let j = 0; j < N; j++) c[ci + j] += x * b[bk + j];
    }
  }
}

// C[M,N] += alpha·A[K,M]ᵀ·B[K,N]
function gemmTN(M: number, N: number, K: number, alpha: number, a: Float32Array, ao: number,
  b: Float32Array, bo: number, c: Float32Array, co: number): void {
  for (let k = 0; k < K; k++) {
    const bk = bo + k * N;
    for (let i = 0; i < M; i++) {
      const x = alpha * a[ao + k * M + i];
      if (x === 0) continue;
      const ci = co + i * N;
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
