// C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, tiled through workgroup memory. A workgroup
// computes a BM×BN tile of C, K in steps of BK; each thread holds RM×RN accumulators, its rows
// and columns strided by the thread grid so that writes of C and reads of the B tile are
// contiguous across neighbouring threads. Loads follow memory order for each transpose case.
// beta = 0 never reads C (it may hold anything, NaN included). Up to two bias rows may follow
// (C[m,n] += bias[n], in order, as addBias calls after the product would add them).
import type { KernelDef } from '../program.js';

export interface GemmTile {
  name: string;
  BM: number; BN: number; BK: number; RM: number; RN: number;
}

// At most 256 threads and 16 KiB of shared memory each: WebGPU's default limits.
const SKINNY: GemmTile = { name: 'skinny', BM: 8, BN: 128, BK: 16, RM: 1, RN: 4 }; // a few rows: matrix-vector products
const T32: GemmTile = { name: 't32', BM: 32, BN: 32, BK: 16, RM: 4, RN: 4 };
const T64: GemmTile = { name: 't64', BM: 64, BN: 64, BK: 16, RM: 4, RN: 4 };
const T128: GemmTile = { name: 't128', BM: 128, BN: 128, BK: 8, RM: 8, RN: 8 };
// Row stride of the shared tiles, padded so that strided stores spread over the banks.
const PAD = 4;

/**
 * The tile for a product of this shape: the largest that still makes `occupancy` workgroups
 * (enough to keep the GPU busy), else the smallest; a product of a few rows has its own.
 */
export function pickTile(M: number, N: number, occupancy: number): GemmTile {
  if (M <= SKINNY.BM) return SKINNY;
  return [T128, T64].find((t) => Math.ceil(M / t.BM) * Math.ceil(N / t.BN) >= occupancy) ?? T32;
}

export function gemmDef(tA: boolean, tB: boolean, t: GemmTile, biases: number): KernelDef {
  const { BM, BN, BK, RM, RN } = t;
  const bias = Array.from({ length: biases }, (_, k) => k);
  const TX = BN / RN, TY = BM / RM, NT = TX * TY, AS = BM + PAD, BS = BN + PAD;
  // Element e of a tile load → (row or column within the tile, k within the tile), in the
  // order that reads global memory contiguously.
  const loadA = tA
    ? `let k = e / ${BM}u; let m = e - k * ${BM}u; let at = (k0 + k) * a.M + m0 + m;`
    : `let m = e / ${BK}u; let k = e - m * ${BK}u; let at = (m0 + m) * a.K + k0 + k;`;
  const loadB = tB
    ? `let n = e / ${BK}u; let k = e - n * ${BK}u; let at = (n0 + n) * a.K + k0 + k;`
    : `let k = e / ${BN}u; let n = e - k * ${BN}u; let at = (k0 + k) * a.N + n0 + n;`;
  return {
    key: `gemm_${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}_${t.name}_${biases}`,
    bufs: [{ name: 'A' }, { name: 'B' }, { name: 'C', write: true }, ...bias.map((k) => ({ name: `bias${k}` }))],
    args: [['oA', 'u32'], ['oB', 'u32'], ['oC', 'u32'], ['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['alpha', 'f32'], ['beta', 'f32'],
      ...bias.map((k) => [`oBias${k}`, 'u32'] as const)],
    code: /* wgsl */ `
var<workgroup> As: array<f32, ${BK * AS}>;
var<workgroup> Bs: array<f32, ${BK * BS}>;

@compute @workgroup_size(${NT})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let tx = li % ${TX}u;
  let ty = li / ${TX}u;
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  var acc: array<f32, ${RM * RN}>;
  for (var k0 = 0u; k0 < a.K; k0 += ${BK}u) {
    for (var e = li; e < ${BM * BK}u; e += ${NT}u) {
      ${loadA}
      var v = 0.0;
      if (m0 + m < a.M && k0 + k < a.K) { v = $A[a.oA + at]; }
      As[k * ${AS}u + m] = v;
    }
    for (var e = li; e < ${BN * BK}u; e += ${NT}u) {
      ${loadB}
      var v = 0.0;
      if (n0 + n < a.N && k0 + k < a.K) { v = $B[a.oB + at]; }
      Bs[k * ${BS}u + n] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
      var ar: array<f32, ${RM}>;
      var br: array<f32, ${RN}>;
      for (var r = 0u; r < ${RM}u; r++) { ar[r] = As[k * ${AS}u + ty + r * ${TY}u]; }
      for (var c = 0u; c < ${RN}u; c++) { br[c] = Bs[k * ${BS}u + tx + c * ${TX}u]; }
      for (var r = 0u; r < ${RM}u; r++) {
        for (var c = 0u; c < ${RN}u; c++) { acc[r * ${RN}u + c] = fma(ar[r], br[c], acc[r * ${RN}u + c]); }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${RM}u; r++) {
    let m = m0 + ty + r * ${TY}u;
    if (m >= a.M) { break; }
    for (var c = 0u; c < ${RN}u; c++) {
      let n = n0 + tx + c * ${TX}u;
      if (n < a.N) {
        let at = a.oC + m * a.N + n;
        var v = a.alpha * acc[r * ${RN}u + c];
        if (a.beta != 0.0) { v += a.beta * $C[at]; }
${bias.map((k) => `        v += $bias${k}[a.oBias${k} + n];`).join('\n')}
        $C[at] = v;
      }
    }
  }
}`,
  };
}
