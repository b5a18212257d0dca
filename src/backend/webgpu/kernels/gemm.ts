// C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, tiled through workgroup memory. A workgroup
// computes a BM×BN tile of C, K in steps of BK; each thread holds RM×RN accumulators, its rows
// and columns strided by the thread grid so that writes of C and reads of the B tile are
// contiguous across neighbouring threads. Loads follow memory order for each transpose case.
// beta = 0 never reads C (it may hold anything, NaN included). Up to two bias rows may follow
// (C[m,n] += bias[n], in order, as addBias calls after the product would add them).
//
// The tile itself is tile.ts, shared with the fused recurrent step. A 128×128 tile (8×8 per
// thread), when accumulators lived in an array, was never faster on an H200 than the 64-tile
// by more than the noise, and up to 1.5× slower (25600×1024×4096: 23.1 against 15.0 ms).
import type { KernelDef } from '../program.js';
import { gridStride } from './common.js';
import { SLICE_RANGE, SLICES_SUM_WGSL, sliceK, type Slicing } from './slices.js';
import { doubledOf, gemmTileCode, gridsOf, tileFits, type TileLimits, type TileShape } from './tile.js';

export interface GemmTile extends TileShape {
  name: string;
}

// At most 256 threads and 16 KiB of shared memory each: WebGPU's default limits.
const SKINNY: GemmTile = { name: 'skinny', BM: 8, BN: 32, BK: 64, RM: 1, RN: 4 }; // a few rows: matrix-vector products
const T32: GemmTile = { name: 't32', BM: 32, BN: 32, BK: 32, RM: 4, RN: 4 };
const T64: GemmTile = { name: 't64', BM: 64, BN: 64, BK: 16, RM: 4, RN: 4 };
// Never picked by rule, only where the GPU at hand times them faster (tuner.ts): larger tiles
// (more multiply-adds per read of workgroup memory, but fewer workgroups and more registers),
// and the 128- and 64-tiles with half as many barriers per multiply-add.
export const T128: GemmTile = { name: 't128', BM: 128, BN: 128, BK: 8, RM: 8, RN: 8 };
export const EXTRA_TILES: GemmTile[] = [
  { name: 't128×64', BM: 128, BN: 64, BK: 16, RM: 8, RN: 4 },
  { name: 't64×128', BM: 64, BN: 128, BK: 16, RM: 4, RN: 8 },
  T128,
  { name: 't128k16', BM: 128, BN: 128, BK: 16, RM: 8, RN: 8 },
  { name: 't64k32', BM: 64, BN: 64, BK: 32, RM: 4, RN: 4 },
];

/** Whether a product of M rows runs on the tile for a few rows (a matrix-vector product), whatever else. */
export const isSkinny = (M: number): boolean => M <= SKINNY.BM;

/**
 * The tile for a product of this shape: the largest that still makes `occupancy` workgroups
 * (enough to keep the GPU busy), else the smallest; a product of a few rows has its own.
 */
export function pickTile(M: number, N: number, occupancy: number): GemmTile {
  if (isSkinny(M)) return SKINNY;
  return Math.ceil(M / T64.BM) * Math.ceil(N / T64.BN) >= occupancy ? T64 : T32;
}

/**
 * How a product runs: its tile, and K in `slices` slices of kc (1: one dispatch); with vec, its
 * operands read in vectors of 4 where a call's layout allows (gemmVec).
 */
export interface GemmPlan { tile: GemmTile; slices: number; kc: number; vec?: boolean }

/**
 * pickTile's tile; a product of `productMacs` or more whose tiles make fewer than `products`
 * times `occupancy` workgroups splits along K: into slices, summed by gemmFinishDef, or with
 * `productGroups` > 1 between that many thread grids of each workgroup (tile.ts), where the
 * device allows it. Mostly a weight gradient, whose K is every row of the batch: L's
 * (2048×512, K = 12800) makes 256 tiles.
 */
export function pickGemm(M: number, N: number, K: number, occupancy: number, slicing: Slicing, limits: TileLimits): GemmPlan {
  const tile = pickTile(M, N, occupancy);
  if (tile === SKINNY || !(slicing.products > 0) || M * N * K < slicing.productMacs) return { tile, slices: 1, kc: K };
  const sliced = sliceGemm(tile, M, N, K, slicing.products * occupancy), grouped = groupGemmTile(tile, slicing.productGroups);
  if (sliced.slices > 1 && grouped !== tile && tileFits(grouped, limits)) return { tile: grouped, slices: 1, kc: K };
  return sliced;
}

/** Tile t on G thread grids (tile.ts gridsOf), named for them: t64·2. */
export const groupGemmTile = (t: GemmTile, G: number): GemmTile => (G > 1 ? { ...gridsOf(t, G), name: `${t.name}·${G}` } : t);

/** Tile t with its tiles twice in workgroup memory (tile.ts doubledOf), named for it: t64·db. */
export const doubleGemmTile = (t: GemmTile): GemmTile => ({ ...doubledOf(t), name: `${t.name}·db` });

/** Tile t with K in as many slices as make `groups` workgroups. */
export function sliceGemm(t: GemmTile, M: number, N: number, K: number, groups: number): GemmPlan {
  return { tile: t, ...sliceK(K, t.BK, Math.ceil(M / t.BM) * Math.ceil(N / t.BN), groups, M * N) };
}

// C[m, n] = alpha·acc + beta·C[m, n], then the biases in order: the end of a product, whole
// (gemmDef) or in slices (gemmFinishDef). beta = 0 never reads C.
function epilogue(biases: number): Pick<KernelDef, 'bufs' | 'args'> & { put: string } {
  const bias = Array.from({ length: biases }, (_, k) => k);
  return {
    bufs: [{ name: 'C', write: true }, ...bias.map((k) => ({ name: `bias${k}` }))],
    args: [['oC', 'u32'], ['M', 'u32'], ['N', 'u32'], ['alpha', 'f32'], ['beta', 'f32'], ...bias.map((k) => [`oBias${k}`, 'u32'] as const)],
    put: /* wgsl */ `
fn put(m: u32, n: u32, acc: f32) {
  if (n >= a.N) { return; }
  let at = a.oC + m * a.N + n;
  var v = a.alpha * acc;
  if (a.beta != 0.0) { v += a.beta * $C[at]; }
${bias.map((k) => `  v += $bias${k}[a.oBias${k} + n];`).join('\n')}
  $C[at] = v;
}`,
  };
}

/** Whether A and B are read in vectors of 4 (tile.ts TileSide vec4). */
export type VecReads = readonly [boolean, boolean];

/**
 * Which of a product's operands its layout lets a tile read in vectors of 4, along each one's
 * rows (K long, or M for a transposed A, N for a plain B): where the offset and the rows' length
 * are multiples of 4. (Tiles, K-steps and slices start at multiples of 4.)
 */
export const gemmVec = (tA: boolean, tB: boolean, M: number, N: number, K: number, oA: number, oB: number): VecReads =>
  [oA % 4 === 0 && (tA ? M : K) % 4 === 0, oB % 4 === 0 && (tB ? K : N) % 4 === 0];

/** A kernel key's mark for operands read in vectors: _v10 (A only), _v01, _v11; none for neither. */
export const vecKey = (vec: VecReads): string => (vec[0] || vec[1] ? `_v${Number(vec[0])}${Number(vec[1])}` : '');

/**
 * The product over tiles of ⌈N/BN⌉ × ⌈M/BM⌉ workgroups. Sliced: workgroup z of a third
 * dimension sums K from z·kc to (z + 1)·kc and writes its sums to slice z of P (each slice
 * M×N); biases, alpha and beta are then gemmFinishDef's. `vec`: A, B read in vectors of 4.
 */
export function gemmDef(tA: boolean, tB: boolean, t: GemmTile, biases: number, sliced = false, vec: VecReads = [false, false]): KernelDef {
  // Element (m or n, k) of a tile → its global index, in the order that reads memory contiguously.
  const tile = gemmTileCode(t, {
    a: tA ? { kMajor: true, at: '(kt + k) * a.M + m0 + m', vec4: vec[0] } : { kMajor: false, at: '(m0 + m) * a.K + kt + k', vec4: vec[0] },
    b: tB ? { kMajor: false, at: '(n0 + n) * a.K + kt + k', vec4: vec[1] } : { kMajor: true, at: '(kt + k) * a.N + n0 + n', vec4: vec[1] },
    aOk: 'm0 + m < a.M', bOk: 'n0 + n < a.N',
    aOffset: 'a.oA', bOffset: 'a.oB',
    k: sliced ? SLICE_RANGE : undefined,
  });
  // The entry point: the tile's product, then `store` for each of its elements (m, n, sum).
  const main = (store: (m: string, n: string, acc: string) => string): string => /* wgsl */ `
@compute @workgroup_size(${tile.threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * ${t.BM}u;
  let n0 = wg.x * ${t.BN}u;
${tile.body}
${tile.lead(tile.rows((r, m) => `  if (${m} < a.M) {\n${tile.cols((c, n) => `    ${store(m, n, tile.acc(r, c))}`)}\n  }`))}
}`;
  const v = vecKey(vec);
  const ab = [{ name: 'A', vec4: vec[0] }, { name: 'B', vec4: vec[1] }];
  if (sliced) {
    return {
      key: `gemmSlice_${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}_${t.name}${v}`,
      bufs: [...ab, { name: 'P', write: true }],
      args: [['oA', 'u32'], ['oB', 'u32'], ['oP', 'u32'], ['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['kc', 'u32']],
      code: `\n${tile.shared}\n${main((m, n, acc) => `if (${n} < a.N) { $P[a.oP + (wg.z * a.M + ${m}) * a.N + ${n}] = ${acc}; }`)}`,
    };
  }
  const e = epilogue(biases);
  return {
    key: `gemm_${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}_${t.name}_${biases}${v}`,
    bufs: [...ab, ...e.bufs],
    args: [['oA', 'u32'], ['oB', 'u32'], ['K', 'u32'], ...e.args],
    code: `\n${tile.shared}\n${e.put}\n${main((m, n, acc) => `put(${m}, ${n}, ${acc});`)}`,
  };
}

/** A sliced product's second part, one thread per element of C: the slices' sums added in order, then put(). */
export function gemmFinishDef(biases: number): KernelDef {
  const e = epilogue(biases);
  return {
    key: `gemmFinish_${biases}`,
    bufs: [{ name: 'P' }, ...e.bufs],
    args: [['oP', 'u32'], ['slices', 'u32'], ...e.args],
    code: e.put + SLICES_SUM_WGSL + gridStride('a.M * a.N', `
    put(i / a.N, i % a.N, slicesSum(a.oP + i, a.M * a.N));`),
  };
}
