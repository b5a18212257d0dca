// An LSTM layer's steps over a whole sequence in one dispatch, forward or backward: every time
// step's recurrent product and cell, as the fused step (step.ts) computes one, with the
// workgroups resident for all T steps. Step by step, a time step costs a dispatch (two where its
// K is split) and the GPU's drain and refill between them; a training step of config L is small
// (B·4H·H = 2²⁷ multiply-adds), so those cost as much as its arithmetic.
//
// Each workgroup owns the fused step's tile of rows m0… and units j0… for every step. A step's
// product reads, for its rows, what the other workgroups of those rows computed the step before:
// forward h (H per row), backward the gates' gradients (4H per row). They travel through an
// exchange buffer as in the sampling loop (sampler.ts), each f32 as two words of (16-bit tag,
// 16-bit half) written and read atomically, a reader waiting until both carry the step's tag.
// The tile loads a K-step's words together and waits on them only when it stores them to
// workgroup memory, after the arithmetic of the K-step before (tile.ts TileRead). Two slots, by
// the parity of the step's tag (tags run 1 … SEQUENCE_TAGS, an even count, across dispatches): a
// workgroup overwrites step s−1's slot with step s+1 only after reading all of step s for its
// rows, which each of the rows' other workgroups wrote after reading all of step s−1.
//
// Forward, pre holds the input side (x·W_ihᵀ and both biases) and is left as it was; h, c and
// the gates are written as the steps write them, for the backward. A dispatch's first step reads
// h from hs. Backward, steps run from the last time step down; dh (dL/dh from above) gets the
// recurrent product added and is written back as the steps do, dc carries between steps, and
// the gates' gradients go to dpre and to the exchange. A dispatch's first step adds nothing when
// it is the sequence's last time step (`first`), else reads the exchange the dispatch before wrote.
//
// Workgroups of the same rows wait on one another, so all must be resident: the backend probes
// that first (T = 0: each arrives, then waits for all; 1 in the probed buffer's first float if
// so), and a wait gives up after 2²⁰ polls and sets a flag the backend reads back: a miscount
// ends in an error, not a hang. The exchange's words and the probe are exchange.ts's.
import type { KernelDef } from '../program.js';
import { LSTM_BACK_MATH_WGSL, LSTM_MATH_WGSL } from './cells.js';
import { vecKey } from './gemm.js';
import { groupStepTile, stepTileName, stepTileShape, type StepTile } from './step.js';
import { doubledOf, gemmTileCode } from './tile.js';
import { exchangeWgsl, probeWgsl } from './exchange.js';

/** Distinct tags of the exchange, an even number so that consecutive steps' slots alternate. */
export const SEQUENCE_TAGS = 65534;

/** Values per row that a step passes on: h forward, the four gates' gradients backward. */
export const sequenceWidth = (back: boolean, H: number): number => (back ? 4 * H : H);

/** Words of an exchange of W values per row: two slots of B·W values, two words each, the arrival count, then the flag a wait that gave up sets. */
export const sequenceExchangeWords = (B: number, W: number): number => 4 * B * W + 2;

/**
 * The tiles a shape's sequence kernel may run on, from its step tile t (first): t, and t with
 * 2 and 4 times its rows where the batch has more than half as many (as many threads, each on
 * more rows: every batch tile reads the whole of W_hh each step, so fewer of them cross the
 * GPU's cache with less of it, on fewer workgroups); each with K-steps twice as long too (half
 * as many waits in a row), each of those on 1, 2 and 4 thread grids along K (more warps to
 * wait with), then all of them with their tiles twice in workgroup memory (one barrier per
 * K-step; tile.ts).
 */
export function sequenceTiles(t: StepTile, B: number): StepTile[] {
  const tall = [1, 2, 4].filter((r) => r === 1 || (t.RM * r <= 8 && (t.BM * r) / 2 < B)).map((r) => ({ ...t, BM: r * t.BM, RM: r * t.RM }));
  const tiles = tall.flatMap((u) => [u, { ...u, BK: 2 * u.BK }]).flatMap((u) => [1, 2, 4].map((G) => groupStepTile(u, G)));
  return [...tiles, ...tiles.map(doubledOf)];
}

/**
 * Forward, buffers (pre, W_hh, hs, cs, act, ex) and arguments [oPre, oW, oH, oC, oAct, M = B,
 * U = H, K = H, T, tag0, first, oEx]: pre, act [T][B, 4H]; hs, cs [T+1][B, H], slot 0 the
 * state carried in. Backward, buffers (act, cs, dh, dc, dpre, W_hh, ex) and arguments [oAct, oC,
 * oDh, oDc, oDpre, oW, M = B, U = H, K = 4H, T, tag0, first, oEx]: act, dpre [T][B, 4H]; cs
 * [T+1][B, H]; dh [T][B, H]; dc [B, H]. tag0: steps run before (mod SEQUENCE_TAGS). Workgroups
 * ⌈H/BU⌉ × ⌈B/BM⌉; the probed buffer is hs forward, dh backward. `vecW`: W_hh read in vectors of 4.
 */
export function lstmSequenceDef(back: boolean, t: StepTile, vecW = false): KernelDef {
  const { BM, BU, RU } = t, kind = back ? 'lstmBack' : 'lstm', NG = back ? 1 : 4;
  const tile = gemmTileCode(stepTileShape(kind, t), {
    // What the step before passed on, row m0 + m, column kt + k: index (m0 + m)·K + kt + k.
    a: { kMajor: false, at: '(m0 + m) * a.K + kt + k', read: { type: 'vec3u', issue: (i) => `xIssue(${i}, ok)`, take: (q) => `xTake(${q})` } },
    // Forward op(B)[k, q·U + j] = W_hh[q·U + j, k]; backward W_hh[k, j].
    b: back ? { kMajor: true, at: '(kt + k) * a.U + j0 + n', vec4: vecW } : { kMajor: false, at: `((n / ${BU}u) * a.U + j0 + n % ${BU}u) * a.K + kt + k`, vec4: vecW },
    aOk: 'm0 + m < a.M', bOk: back ? 'j0 + n < a.U' : `j0 + n % ${BU}u < a.U`,
    aOffset: '0u', bOffset: 'a.oW',
    cols: { WB: RU, col: (c) => `(${Math.floor(c / RU) * BU}u + tx * ${RU}u + ${c % RU}u)` },
    // Backward, no product before the sequence's last time step (uniform, for the barriers).
    k: back ? { begin: '0u', end: 'select(a.K, 0u, s == 0u && a.first == 1u)' } : undefined,
  });
  const units = Array.from({ length: RU }, (_, ru) => ru), gates = Array.from({ length: NG }, (_, q) => q);
  const cells = tile.rows((r, b) => units.map((ru) =>
    `  cell(${b}, j0 + tx * ${RU}u + ${ru}u, ${gates.map((q) => tile.acc(r, q * RU + ru)).join(', ')});`).join('\n'));
  const forwardCell = /* wgsl */ `
${LSTM_MATH_WGSL}

// Row b, unit j: the gates' sums with the input side, the cell, and h out to hs and the exchange.
fn cell(b: u32, j: u32, g0: f32, g1: f32, g2: f32, g3: f32) {
  if (b >= a.M || j >= a.U) { return; }
  let i = b * a.U + j;
  let n = a.M * a.U;
  let p = a.oPre + step * 4u * n + b * 4u * a.U + j;
  let ao = a.oAct + step * 4u * n + b * 4u * a.U + j;
  let q = lstmMath(g0 + $pre[p], g1 + $pre[p + a.U], g2 + $pre[p + 2u * a.U], g3 + $pre[p + 3u * a.U], $cs[a.oC + step * n + i]);
  $act[ao] = q.i; $act[ao + a.U] = q.f; $act[ao + 2u * a.U] = q.g; $act[ao + 3u * a.U] = q.o;
  $cs[a.oC + (step + 1u) * n + i] = q.c;
  $hs[a.oH + (step + 1u) * n + i] = q.h;
  put(i, q.h);
}`;
  const backwardCell = /* wgsl */ `
${LSTM_BACK_MATH_WGSL}

// Row b, unit j of time step t = T−1−step: dh with the recurrent product, the cell's backward,
// and the gates' gradients out to dpre and the exchange.
fn cell(b: u32, j: u32, g0: f32) {
  if (b >= a.M || j >= a.U) { return; }
  let t = a.T - 1u - step;
  let i = b * a.U + j;
  let n = a.M * a.U;
  let dh = g0 + $dh[a.oDh + t * n + i];
  $dh[a.oDh + t * n + i] = dh;
  let ao = a.oAct + t * 4u * n + b * 4u * a.U + j;
  let q = lstmBackMath($act[ao], $act[ao + a.U], $act[ao + 2u * a.U], $act[ao + 3u * a.U], $cs[a.oC + (t + 1u) * n + i], $cs[a.oC + t * n + i], $dc[a.oDc + i], dh);
  $dc[a.oDc + i] = q.dcPrev;
  let d = a.oDpre + t * 4u * n + b * 4u * a.U + j;
  $dpre[d] = q.di; $dpre[d + a.U] = q.df; $dpre[d + 2u * a.U] = q.dg; $dpre[d + 3u * a.U] = q.do_;
  let e = b * 4u * a.U + j;
  put(e, q.di); put(e + a.U, q.df); put(e + 2u * a.U, q.dg); put(e + 3u * a.U, q.do_);
}`;
  const code = /* wgsl */ `
const NONE: u32 = 0xffffffffu; // no value: outside the operand, or nothing before the first step
const PLAIN: u32 = 0xfffffffeu; // x holds the value itself (a forward dispatch's first h, from hs)
var<private> step: u32;
var<private> want: u32; // the tag of the step before
${exchangeWgsl('a.oEx + 4u * a.M * a.K + 1u')}

fn tagOf(s: u32) -> u32 {
  return (a.tag0 + s) % ${SEQUENCE_TAGS}u + 1u;
}

// Value i (row-major, K per row) of what the step before passed on, as loaded: (low word, high
// word, word index), or NONE, PLAIN.
fn xIssue(i: u32, ok: bool) -> vec3u {
  if (!ok) { return vec3u(0u, 0u, NONE); }
${back ? '' : '  if (step == 0u) { return vec3u(bitcast<u32>($hs[a.oH + i]), 0u, PLAIN); }\n'}  let w = a.oEx + 2u * ((want & 1u) * a.M * a.K + i);
  return vec3u(bitcast<u32>(atomicLoad(&$ex[w])), bitcast<u32>(atomicLoad(&$ex[w + 1u])), w);
}

// The value once both words carry the step before's tag (NaN if a wait gave up: the flag,
// which the host reads back, is then set).
fn xTake(q: vec3u) -> f32 {
  if (q.z == NONE) { return 0.0; }
  if (q.z == PLAIN) { return bitcast<f32>(q.x); }
  return bitcast<f32>(exSettle(q.x, q.z, want) | (exSettle(q.y, q.z + 1u, want) << 16u));
}

// Value i of this step's, out to the exchange with its tag.
fn put(i: u32, v: f32) {
  let tag = tagOf(step);
  exPut(a.oEx + 2u * ((tag & 1u) * a.M * a.K + i), tag, v);
}
${back ? backwardCell : forwardCell}
${tile.shared}

@compute @workgroup_size(${tile.threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  if (a.T == 0u) {${probeWgsl({ lead: 'li == 0u', arrive: 'a.oEx + 4u * a.M * a.K', count: 'nwg.x * nwg.y', first: 'wg.x == 0u && wg.y == 0u', answer: back ? '$dh[a.oDh]' : '$hs[a.oH]' })}
  }
  let m0 = wg.y * ${BM}u;
  let j0 = wg.x * ${BU}u;
  for (var s = 0u; s < a.T; s++) {
    step = s;
    want = tagOf(s + ${SEQUENCE_TAGS - 1}u);
    // The workgroup's own part of the step before is written: a CPU renderer runs a workgroup's
    // threads in turn between barriers, and one would wait for ever on a thread after it.
    workgroupBarrier();
    {
${tile.body}
${tile.lead(cells)}
    }
  }
}`;
  const out = (name: string) => ({ name, write: true });
  return {
    key: `lstmSequence${back ? 'Back' : ''}_${stepTileName(t)}${vecKey([false, vecW])}`,
    bufs: back
      ? [{ name: 'act' }, { name: 'cs' }, out('dh'), out('dc'), out('dpre'), { name: 'B', vec4: vecW }, { name: 'ex', int: true, write: true, atomic: true }]
      : [{ name: 'pre' }, { name: 'B', vec4: vecW }, out('hs'), out('cs'), out('act'), { name: 'ex', int: true, write: true, atomic: true }],
    args: [...(back
      ? [['oAct', 'u32'], ['oC', 'u32'], ['oDh', 'u32'], ['oDc', 'u32'], ['oDpre', 'u32'], ['oW', 'u32']] as const
      : [['oPre', 'u32'], ['oW', 'u32'], ['oH', 'u32'], ['oC', 'u32'], ['oAct', 'u32']] as const),
    ['M', 'u32'], ['U', 'u32'], ['K', 'u32'], ['T', 'u32'], ['tag0', 'u32'], ['first', 'u32'], ['oEx', 'u32']],
    code,
  };
}
