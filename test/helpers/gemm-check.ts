// Checks a computed product against an f64 reference, element by element.
import assert from 'node:assert/strict';

// got ≈ alpha·op(A)·op(B) + beta·C; any f32 summation order is within K·2⁻²⁴ of Σ|terms|,
// so more than that is a wrong product.
export function checkGemm(label: string, tA: boolean, tB: boolean, M: number, N: number, K: number,
  alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array, got: Float32Array): void {
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0, abs = 0;
    for (let k = 0; k < K; k++) {
      const x = tA ? A[k * M + i] : A[i * K + k], y = tB ? B[j * K + k] : B[k * N + j];
      s += x * y; abs += Math.abs(x * y);
    }
    const cij = beta === 0 ? 0 : beta * C[i * N + j];
    const want = alpha * s + cij;
    const bound = (K + 4) * 2 ** -23 * (Math.abs(alpha) * abs + Math.abs(cij)) + 1e-30;
    const g = got[i * N + j];
    if (!(Math.abs(g - want) <= bound)) assert.fail(`${label} [${i},${j}]: ${g} vs ${want} (bound ${bound})`);
  }
}
