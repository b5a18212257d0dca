// The reference kernels that carry the most index arithmetic, against plain definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemm } from '../src/backend/js/gemm.js';
import { uniform } from '../src/backend/rng.js';

function naive(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  a: Float32Array, b: Float32Array, beta: number, c: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += (tA ? a[k * M + i] : a[i * K + k]) * (tB ? b[j * K + k] : b[k * N + j]);
    out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * N + j]);
  }
  return out;
}

test('gemm: every transpose case, odd shapes, alpha, beta and offsets', () => {
  let seed = 1;
  const rand = (n: number): Float32Array => { seed++; return new Float32Array(n).map((_, i) => uniform(seed, 0, i) * 2 - 1); };
  for (const [M, N, K] of [[1, 1, 1], [2, 4, 4], [3, 5, 7], [7, 3, 5], [9, 13, 6], [16, 8, 33], [5, 1, 9]]) {
    for (const tA of [false, true]) for (const tB of [false, true]) for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]]) {
      const off = 3;
      const a = rand(M * K + off), b = rand(K * N + off), c = rand(M * N + off);
      const want = naive(tA, tB, M, N, K, alpha, a.subarray(off), b.subarray(off), beta, c.subarray(off));
      const got = c.slice();
      gemm(tA, tB, M, N, K, alpha, a, off, b, off, beta, got, off);
      for (let i = 0; i < off; i++) assert.equal(got[i], c[i], 'wrote before the offset');
      for (let i = 0; i < M * N; i++) {
        assert.ok(Math.abs(got[off + i] - want[i]) < 1e-5 * (1 + Math.abs(want[i])),
          `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K} α=${alpha} β=${beta} [${i}]: ${got[off + i]} vs ${want[i]}`);
      }
    }
  }
});
