// A recurrent step in one dispatch: the recurrent product of a time step and the gate math
// that consumes it, fused (as cuDNN fuses them). A workgroup computes a tile of the product
// whose columns are, for each of its hidden units, every gate of that unit, so the thread
// that ends with a unit's gate pre-activations in its registers applies the cell to them.
//
// Forward: pre[B, NG·H] (+)= h·W_hhᵀ, then the cell (LSTM NG = 4, GRU 3 with its bias,
// RNN 1). Backward: dh[B, H] += dgates[B, G]·W_hh, then the cell's backward for that dh
// (NG = 1). The product's output is still written, so the fused dispatch leaves every buffer
// as the unfused kernels would. Arguments: [pA, pB, pC, M = B, U = H, K, alpha, beta], then
// the cell's offsets as its unfused kernel names them.
//
// A large step runs as two dispatches instead (pickStep): the product with K in slices, each
// slice's sums written out, then one thread per (row, unit) adds them and applies the cell.
import type { BufParam, KernelDef, ScalarType } from '../program.js';
import { GRU_BACKWARD_WGSL, GRU_FORWARD_WGSL, LSTM_BACKWARD_WGSL, LSTM_FORWARD_WGSL } from './cells.js';
import { gridStride } from './common.js';
import { SLICE_RANGE, SLICES_SUM_WGSL, sliceK, type Slicing } from './slices.js';
import { gemmTileCode, gridsOf, tileFits, type TileLimits, type TileShape } from './tile.js';
import { vecKey, type VecReads } from './gemm.js';

export type StepKind = 'lstm' | 'gru' | 'rnn' | 'lstmBack' | 'gruBack' | 'rnnBack';

export interface StepTile {
  BM: number; RM: number; // batch rows per workgroup and per thread
  BU: number; RU: number; // hidden units per workgroup and per thread
  BK: number; // the K-step: as long as 16 KiB of workgroup memory allows, for fewer steps
  G?: number; // thread grids splitting K within the workgroup (tile.ts), 1 if absent
  double?: boolean; // its tiles twice in workgroup memory, one barrier per K-step (tile.ts)
}

// From most work per workgroup to least, all of 128 threads.
const TILES_WIDE: StepTile[] = [{ BM: 32, RM: 4, BU: 64, RU: 4, BK: 32 }, { BM: 16, RM: 2, BU: 64, RU: 4, BK: 32 },
  { BM: 8, RM: 1, BU: 64, RU: 4, BK: 32 }, { BM: 8, RM: 1, BU: 32, RU: 2, BK: 64 }];
const TILES_GATED: StepTile[] = [{ BM: 32, RM: 4, BU: 32, RU: 2, BK: 16 }, { BM: 16, RM: 2, BU: 32, RU: 2, BK: 16 },
  { BM: 8, RM: 1, BU: 32, RU: 2, BK: 16 }, { BM: 8, RM: 1, BU: 16, RU: 1, BK: 32 }];
// Never picked by rule, only where the GPU at hand times them faster (tuner.ts): four units of
// each gate per thread (one vector read each), the largest tiles with K-steps twice as long,
// and tiles of 64 rows, 8 per thread, for large batches (XL's 256: each value of W_hh loaded
// 4 times per step instead of 8, twice the multiply-adds per read of workgroup memory).
const EXTRA_WIDE: StepTile[] = [{ BM: 32, RM: 4, BU: 64, RU: 4, BK: 64 }, { BM: 64, RM: 8, BU: 64, RU: 4, BK: 16 }];
const EXTRA_GATED: StepTile[] = [{ BM: 16, RM: 2, BU: 64, RU: 4, BK: 8 }, { BM: 32, RM: 4, BU: 32, RU: 2, BK: 32 },
  { BM: 64, RM: 8, BU: 32, RU: 2, BK: 16 }];
// The rule's tiles for a step of this kind, largest first.
const tilesOf = (kind: StepKind): StepTile[] => (gatesOf(kind) > 1 ? TILES_GATED : TILES_WIDE);
/** The tiles for a step of this kind that only tuning picks. */
export const extraStepTiles = (kind: StepKind): StepTile[] => (gatesOf(kind) > 1 ? EXTRA_GATED : EXTRA_WIDE);
/** Gate columns of a fused step's product: a forward step's gates; a backward step's product is dh alone. */
export const gatesOf = (kind: StepKind): number => (kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1);
/** Gates of the step's cell, forward or backward. */
export const cellGatesOf = (kind: StepKind): number => (kind.startsWith('lstm') ? 4 : kind.startsWith('gru') ? 3 : 1);

/** The product tile (tile.ts) of a step's tile: each hidden unit's gates side by side. */
export const stepTileShape = (kind: StepKind, t: StepTile): TileShape =>
  ({ BM: t.BM, BN: gatesOf(kind) * t.BU, BK: t.BK, RM: t.RM, RN: gatesOf(kind) * t.RU, G: t.G, double: t.double });

/** Whether a device runs a step on tile t. */
export const stepTileFits = (kind: StepKind, t: StepTile, limits: TileLimits): boolean => tileFits(stepTileShape(kind, t), limits);

/** Tile t on G thread grids (tile.ts gridsOf). */
export const groupStepTile = (t: StepTile, G: number): StepTile => gridsOf(t, G);

/**
 * A step tile's name, in kernel keys and profiles: 32×64k32 (K-steps of 32), 32×64k16·4 on 4
 * grids along K, 32×64k32·db with its tiles twice in workgroup memory.
 */
export const stepTileName = (t: StepTile): string => `${t.BM}×${t.BU}k${t.BK}${(t.G ?? 1) > 1 ? `·${t.G}` : ''}${t.double === true ? '·db' : ''}`;

/**
 * The workgroups a whole step asks for, in times a product's occupancy. A step is a small
 * product, whose time is as much latency as arithmetic. Measured on an H200 (132 cores), whole:
 * the gated forward steps ran fastest on the largest tile that makes a product's count (32×32
 * for config XL, 16×32 for L); the backward steps of L on the one that makes twice that (8×32),
 * but those of XL, with eight times the work per step, again on a product's count (32×64).
 */
export function stepOccupancy(kind: StepKind, B: number, H: number): number {
  if (gatesOf(kind) > 1) return 1;
  return B * H * cellGatesOf(kind) * H >= 2 ** 30 ? 1 : 2;
}

/** A whole step's tile: the largest that makes enough workgroups (stepOccupancy times a product's `occupancy`), else the smallest. */
export function pickStepTile(kind: StepKind, B: number, H: number, occupancy: number): StepTile {
  const tiles = tilesOf(kind), want = stepOccupancy(kind, B, H) * occupancy;
  return tiles.find((t) => Math.ceil(B / t.BM) * Math.ceil(H / t.BU) >= want) ?? tiles[tiles.length - 1];
}

/** The K of a step's product: H forward, the cell's gates times H backward. */
export const stepK = (kind: StepKind, H: number): number => (kind.endsWith('Back') ? cellGatesOf(kind) * H : H);

/**
 * How a step runs: its tile, and its product's K in `slices` slices of kc (1: the fused step);
 * with vec, h and W_hh read in vectors of 4 where a call's layout allows (stepVec).
 */
export interface StepPlan { tile: StepTile; slices: number; kc: number; vec?: boolean }

/**
 * Whole, a step runs on pickStepTile's tile, in one dispatch. A step of `stepMacs` or more is
 * instead split along K (Slicing, slices.ts) where that makes more workgroups: with
 * `stepGroups` > 1, between that many thread grids of each workgroup on the same tile, still
 * one dispatch (where the device allows the threads and workgroup memory); else on the largest
 * tile, which loads each value of W_hh the fewest times, into enough slices for `steps` times a
 * product's workgroups, summed by a second dispatch that applies the cell (stepFinishDef).
 * Measured on an H200 (ms per iteration): L's backward steps 14.6 whole on 8×32, 7.8 on 32×64
 * in 8 slices; XL's 52.3 whole, 36.2 in 2. A small step pays more for the second dispatch than it gains: S's stay
 * whole (1.3–1.5 against 2.3–2.6 ms in slices).
 */
export function pickStep(kind: StepKind, B: number, H: number, occupancy: number, slicing: Slicing, limits: TileLimits): StepPlan {
  const whole = pickStepTile(kind, B, H, occupancy);
  if (!(slicing.steps > 0) || B * H * cellGatesOf(kind) * H < slicing.stepMacs) return { tile: whole, slices: 1, kc: stepK(kind, H) };
  const sliced = sliceStep(kind, tilesOf(kind)[0], B, H, slicing.steps * occupancy);
  const grouped = groupStepTile(whole, slicing.stepGroups);
  if (sliced.slices > 1 && grouped !== whole && stepTileFits(kind, grouped, limits)) return { tile: grouped, slices: 1, kc: stepK(kind, H) };
  return sliced;
}

/** Tile t with K in as many slices as make `groups` workgroups. */
export function sliceStep(kind: StepKind, t: StepTile, B: number, H: number, groups: number): StepPlan {
  return { tile: t, ...sliceK(stepK(kind, H), t.BK, Math.ceil(B / t.BM) * Math.ceil(H / t.BU), groups, B * gatesOf(kind) * H) };
}

interface Epilogue {
  bufs: BufParam[];
  args: [string, ScalarType][];
  helpers: string;
  // WGSL run for row b, unit j with i = b·H + j and v[q] the gate values (product included).
  body: string;
}

const EPILOGUES: Record<StepKind, Epilogue> = {
  lstm: {
    bufs: [{ name: 'cPrev' }, { name: 'act', write: true }, { name: 'c', write: true }, { name: 'h', write: true }],
    args: [['oCp', 'u32'], ['oAct', 'u32'], ['oC', 'u32'], ['oH', 'u32']],
    helpers: LSTM_FORWARD_WGSL,
    body: 'lstmCell(v[0], v[1], v[2], v[3], $cPrev[a.oCp + i], a.oAct + b * 4u * a.U + j, a.U, i);',
  },
  gru: {
    bufs: [{ name: 'bias' }, { name: 'xi' }, { name: 'hPrev' }, { name: 'act', write: true }, { name: 'h', write: true }],
    args: [['oBias', 'u32'], ['oXi', 'u32'], ['oHp', 'u32'], ['oAct', 'u32'], ['oH', 'u32']],
    helpers: GRU_FORWARD_WGSL,
    body: 'gruCell(v[0], v[1], v[2], i, b, j, a.U);',
  },
  rnn: {
    bufs: [{ name: 'h', write: true }],
    args: [['oH', 'u32']],
    helpers: '',
    body: '$h[a.oH + i] = tanh_(v[0]);',
  },
  lstmBack: {
    bufs: [{ name: 'act' }, { name: 'c' }, { name: 'cPrev' }, { name: 'dc', write: true }, { name: 'dpre', write: true }],
    args: [['oAct', 'u32'], ['oC', 'u32'], ['oCp', 'u32'], ['oDc', 'u32'], ['oDpre', 'u32']],
    helpers: LSTM_BACKWARD_WGSL,
    body: 'lstmCellBackward(v[0], i, b, j, a.U);',
  },
  gruBack: {
    bufs: [{ name: 'act' }, { name: 'hh' }, { name: 'hPrev' }, { name: 'dxi', write: true }, { name: 'dhh', write: true }, { name: 'dhPrev', write: true }],
    args: [['oAct', 'u32'], ['oHh', 'u32'], ['oHp', 'u32'], ['oDxi', 'u32'], ['oDhh', 'u32'], ['oDhp', 'u32']],
    helpers: GRU_BACKWARD_WGSL,
    body: 'gruCellBackward(v[0], i, b, j, a.U);',
  },
  rnnBack: {
    bufs: [{ name: 'h' }, { name: 'dpre', write: true }],
    args: [['oH', 'u32'], ['oDpre', 'u32']],
    helpers: '',
    body: `
      let y = $h[a.oH + i];
      $dpre[a.oDpre + i] = v[0] * (1.0 - y * y);`,
  },
};

// Row b, unit j: the product's gate values g0… (alpha applied here) written out as C, then
// the cell applied to them. Shared by the fused step and the sliced step's finishing kernel.
function cellCode(kind: StepKind): string {
  const NG = gatesOf(kind), gates = Array.from({ length: NG }, (_, q) => q);
  const biasTerm = (q: number): string => (kind === 'gru' ? ` + $bias[a.oBias + ${q}u * a.U + j]` : '');
  return /* wgsl */ `
${EPILOGUES[kind].helpers}

fn cell(b: u32, j: u32, ${gates.map((q) => `g${q}: f32`).join(', ')}) {
  if (b >= a.M || j >= a.U) { return; }
  let i = b * a.U + j;
  var v: array<f32, ${NG}>;
${gates.map((q) => `  {
    let at = a.pC + b * ${NG}u * a.U + ${q}u * a.U + j;
    var x = a.alpha * g${q};
    if (a.beta != 0.0) { x += a.beta * $C[at]; }
    x = x${biasTerm(q)};
    $C[at] = x;
    v[${q}] = x;
  }`).join('\n')}
  ${EPILOGUES[kind].body}
}`;
}

// The step's product over one tile: A = h (or dgates) rows, B = W_hh in the step's layout, K
// over `k` (default all of it); `put` is the call that receives a row, a unit and the unit's
// gate sums.
function stepTile(kind: StepKind, t: StepTile, vec: VecReads, put: (b: string, j: string, g: string[]) => string, k?: { begin: string; end: string }) {
  const NG = gatesOf(kind), back = kind.endsWith('Back');
  const { BM, BU, RU } = t;
  // Thread column c = q·RU + ru is gate q of unit tx·RU + ru: tile column q·BU + tx·RU + ru, so
  // that a thread reads its RU units of each gate from workgroup memory in one vector read.
  const tile = gemmTileCode(stepTileShape(kind, t), {
    a: { kMajor: false, at: '(m0 + m) * a.K + kt + k', vec4: vec[0] },
    // Forward: op(B)[k, q·U + j] = W_hh[q·U + j, k] (transposed); backward: W_hh[k, j].
    b: back ? { kMajor: true, at: '(kt + k) * a.U + j0 + n', vec4: vec[1] } : { kMajor: false, at: `((n / ${BU}u) * a.U + j0 + n % ${BU}u) * a.K + kt + k`, vec4: vec[1] },
    aOk: 'm0 + m < a.M', bOk: back ? 'j0 + n < a.U' : `j0 + n % ${BU}u < a.U`,
    aOffset: 'a.pA', bOffset: 'a.pB',
    cols: { WB: RU, col: (c) => `(${Math.floor(c / RU) * BU}u + tx * ${RU}u + ${c % RU}u)` },
    k,
  });
  const units = Array.from({ length: RU }, (_, ru) => ru), gates = Array.from({ length: NG }, (_, q) => q);
  const calls = tile.rows((r, b) => units.map((ru) =>
    `  ${put(b, `j0 + tx * ${RU}u + ${ru}u`, gates.map((q) => tile.acc(r, q * RU + ru)))};`).join('\n'));
  return { shared: tile.shared, main: /* wgsl */ `
@compute @workgroup_size(${tile.threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * ${BM}u;
  let j0 = wg.x * ${BU}u;
${tile.body}
${tile.lead(calls)}
}` };
}

/**
 * Which of a step's operands, h (or dgates) at offset oA and W_hh at oW, its layout lets a tile
 * read in vectors of 4 (tile.ts TileSide vec4): rows of K and of H, at offsets, that are
 * multiples of 4. (Tiles, K-steps and slices start at multiples of 4.)
 */
export const stepVec = (kind: StepKind, H: number, oA: number, oW: number): VecReads =>
  [oA % 4 === 0 && stepK(kind, H) % 4 === 0, oW % 4 === 0 && H % 4 === 0];

/**
 * The fused step: the whole product and the cell in one dispatch, over ⌈U/BU⌉ × ⌈M/BM⌉
 * workgroups. `vec`: A and W_hh read in vectors of 4.
 */
export function stepDef(kind: StepKind, t: StepTile, vec: VecReads = [false, false]): KernelDef {
  const e = EPILOGUES[kind], tile = stepTile(kind, t, vec, (b, j, g) => `cell(${b}, ${j}, ${g.join(', ')})`);
  return {
    key: `step_${kind}_${stepTileName(t)}${vecKey(vec)}`,
    bufs: [{ name: 'A', vec4: vec[0] }, { name: 'B', vec4: vec[1] }, { name: 'C', write: true }, ...e.bufs],
    args: [['pA', 'u32'], ['pB', 'u32'], ['pC', 'u32'], ['M', 'u32'], ['U', 'u32'], ['K', 'u32'], ['alpha', 'f32'], ['beta', 'f32'], ...e.args],
    code: `${cellCode(kind)}\n${tile.shared}\n${tile.main}`,
  };
}

/**
 * A step split along K, first part: workgroup z of ⌈U/BU⌉ × ⌈M/BM⌉ × slices sums K from z·kc to
 * (z + 1)·kc and writes its gate sums to slice z of P (each slice laid out as C).
 */
export function stepSliceDef(kind: StepKind, t: StepTile, vec: VecReads = [false, false]): KernelDef {
  const NG = gatesOf(kind), gates = Array.from({ length: NG }, (_, q) => q);
  const tile = stepTile(kind, t, vec, (b, j, g) => `part(wg.z, ${b}, ${j}, ${g.join(', ')})`, SLICE_RANGE);
  return {
    key: `stepSlice_${kind}_${stepTileName(t)}${vecKey(vec)}`,
    bufs: [{ name: 'A', vec4: vec[0] }, { name: 'B', vec4: vec[1] }, { name: 'P', write: true }],
    args: [['pA', 'u32'], ['pB', 'u32'], ['pP', 'u32'], ['M', 'u32'], ['U', 'u32'], ['K', 'u32'], ['kc', 'u32']],
    code: /* wgsl */ `
fn part(slice: u32, b: u32, j: u32, ${gates.map((q) => `g${q}: f32`).join(', ')}) {
  if (b >= a.M || j >= a.U) { return; }
  let at = a.pP + (slice * a.M + b) * ${NG}u * a.U + j;
${gates.map((q) => `  $P[at + ${q}u * a.U] = g${q};`).join('\n')}
}
${tile.shared}
${tile.main}`,
  };
}

/** A split step's second part, one thread per (row, unit): the slices' sums added in order, then the cell. */
export function stepFinishDef(kind: StepKind): KernelDef {
  const NG = gatesOf(kind), e = EPILOGUES[kind], gates = Array.from({ length: NG }, (_, q) => q);
  return {
    key: `stepFinish_${kind}`,
    bufs: [{ name: 'P' }, { name: 'C', write: true }, ...e.bufs],
    args: [['pP', 'u32'], ['slices', 'u32'], ['pC', 'u32'], ['M', 'u32'], ['U', 'u32'], ['alpha', 'f32'], ['beta', 'f32'], ...e.args],
    code: /* wgsl */ `
${cellCode(kind)}
${SLICES_SUM_WGSL}
${gridStride('a.M * a.U', `
    let b = i / a.U;
    let j = i - b * a.U;
    let size = a.M * ${NG}u * a.U;
    cell(b, j, ${gates.map((q) => `slicesSum(a.pP + b * ${NG}u * a.U + ${q}u * a.U + j, size)`).join(', ')});`)}`,
  };
}
