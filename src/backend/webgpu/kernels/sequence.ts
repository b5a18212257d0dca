// A recurrent layer's steps over a whole sequence in one dispatch, forward or backward: every
// time step's recurrent product and cell, as the fused step (step.ts) computes one, with the
// workgroups resident for all T steps. Step by step, a time step costs a dispatch (two where its
// K is split) and the GPU's drain and refill between them; a training step of config L is small
// (B·4H·H = 2²⁷ multiply-adds), so those cost as much as its arithmetic.
//
// Each workgroup owns the fused step's tile of rows m0… and units j0… for every step. A step's
// product reads, for its rows, what the other workgroups of those rows computed the step before:
// forward h (H per row), backward the gradients of the gates' hidden side (G = 4H for an LSTM, 3H
// for a GRU, H for an RNN, per row). They travel through an exchange buffer as in the sampling
// loop (sampler.ts), each f32 as two words of (16-bit tag, 16-bit half) written and read
// atomically, a reader waiting until both carry the step's tag. The tile loads a K-step's words
// together and waits on them only when it stores them to workgroup memory, after the arithmetic
// of the K-step before (tile.ts TileRead). Two slots, by the parity of the step's tag (tags run
// 1 … SEQUENCE_TAGS, an even count, across dispatches): a workgroup overwrites step s−1's slot
// with step s+1 only after reading all of step s for its rows, which each of the rows' other
// workgroups wrote after reading all of step s−1.
//
// The buffers are the layer's (SEQUENCE_BUFS), and a step leaves them as the steps one by one
// would, but for the input side (pre, xi), which forward is read and left as it was. A thread
// applies the cell to the same rows and units at every step, so what a cell carries from one
// step to the next (c, h, and backward the GRU's z·dh) it reads back from where it wrote it. A
// forward dispatch's first step reads h from hs. Backward, steps run from the last time step
// down; dh (dL/dh from above) gets the recurrent product (and the GRU's z·dh of the step after)
// added and is written back as the steps do. A dispatch's first step adds nothing when it is the
// sequence's last time step (`first`), else reads the exchange the dispatch before wrote.
//
// Workgroups of the same rows wait on one another, so all must be resident: the backend probes
// that first (T = 0: each arrives, then waits for all; 1 in hs's first float forward, dh's
// backward, if so), and a wait gives up after 2²⁰ polls and sets a flag the backend reads back:
// a miscount costs the work since, run again on the steps (LostWorkError), not a hang. The
// exchange's words and the probe are exchange.ts's.
import type { KernelDef } from '../program.js';
import { GRU_BACK_MATH_WGSL, GRU_MATH_WGSL, LSTM_BACK_MATH_WGSL, LSTM_MATH_WGSL } from './cells.js';
import { vecKey } from './gemm.js';
import { cellGatesOf, gatesOf, groupStepTile, stepTileName, stepTileShape, type StepKind, type StepTile } from './step.js';
import { doubledOf, gemmTileCode } from './tile.js';
import { exchangeWgsl, probeWgsl } from './exchange.js';

/** Distinct tags of the exchange, an even number so that consecutive steps' slots alternate. */
export const SEQUENCE_TAGS = 65534;

/** Values per row that a step passes on: h forward, the gradients of the gates' hidden side backward. */
export const sequenceWidth = (kind: StepKind, H: number): number => (kind.endsWith('Back') ? cellGatesOf(kind) * H : H);

/** Words of an exchange of W values per row: two slots of B·W values, two words each, the arrival count, then the flag a wait that gave up sets. */
export const sequenceExchangeWords = (B: number, W: number): number => 4 * B * W + 2;

/**
 * A buffer of a layer's sequence: `gates` values per row and unit, for each of T steps
 * (`steps`), T+1 states (`states`, slot 0 the state carried in), once (`once`: [B, gates·H]),
 * or as a bias row [gates·H] (`bias`).
 */
export interface SequenceBuf { name: string; write?: boolean; gates: number; slots: 'steps' | 'states' | 'once' | 'bias' }

const steps = (name: string, gates: number, write = false): SequenceBuf => ({ name, gates, slots: 'steps', write });
const states = (name: string, write = false): SequenceBuf => ({ name, gates: 1, slots: 'states', write });

/** Each kernel's buffers but W_hh and the exchange, in the order of its Backend method (backend.ts). */
export const SEQUENCE_BUFS: Record<StepKind, SequenceBuf[]> = {
  lstm: [steps('pre', 4), states('hs', true), states('cs', true), steps('act', 4, true)],
  lstmBack: [steps('act', 4), states('cs'), steps('dh', 1, true), { name: 'dc', gates: 1, slots: 'once', write: true }, steps('dpre', 4, true)],
  gru: [steps('xi', 3), { name: 'bhh', gates: 3, slots: 'bias' }, states('hs', true), steps('hh', 3, true), steps('act', 3, true)],
  gruBack: [steps('act', 3), steps('hh', 3), states('hs'), steps('dh', 1, true), steps('dxi', 3, true), steps('dhh', 3, true)],
  rnn: [steps('pre', 1), states('hs', true)],
  rnnBack: [states('hs'), steps('dh', 1, true), steps('dpre', 1, true)],
};

/** The argument that holds a buffer's offset: oPre for pre. */
export const offsetArg = (name: string): string => `o${name[0].toUpperCase()}${name.slice(1)}`;

// Each cell, for row b and unit j given its gate sums g0…: `i` is b·U + j, `n` M·U, `p` the
// (row, unit) of gate 0 in a [B, G] step; forward `step` is the time step, backward `t`.
const CELLS: Record<StepKind, { helpers: string; body: string }> = {
  lstm: {
    helpers: LSTM_MATH_WGSL,
    body: /* wgsl */ `
  let p = step * 4u * n + b * 4u * a.U + j;
  let q = lstmMath(g0 + $pre[a.oPre + p], g1 + $pre[a.oPre + p + a.U], g2 + $pre[a.oPre + p + 2u * a.U], g3 + $pre[a.oPre + p + 3u * a.U], $cs[a.oCs + step * n + i]);
  let ao = a.oAct + p;
  $act[ao] = q.i; $act[ao + a.U] = q.f; $act[ao + 2u * a.U] = q.g; $act[ao + 3u * a.U] = q.o;
  $cs[a.oCs + (step + 1u) * n + i] = q.c;
  $hs[a.oHs + (step + 1u) * n + i] = q.h;
  put(i, q.h);`,
  },
  gru: {
    helpers: GRU_MATH_WGSL,
    body: /* wgsl */ `
  let p = step * 3u * n + b * 3u * a.U + j;
  let hr = g0 + $bhh[a.oBhh + j];
  let hz = g1 + $bhh[a.oBhh + a.U + j];
  let hn = g2 + $bhh[a.oBhh + 2u * a.U + j];
  $hh[a.oHh + p] = hr; $hh[a.oHh + p + a.U] = hz; $hh[a.oHh + p + 2u * a.U] = hn;
  let q = gruMath($xi[a.oXi + p], $xi[a.oXi + p + a.U], $xi[a.oXi + p + 2u * a.U], hr, hz, hn, $hs[a.oHs + step * n + i]);
  $act[a.oAct + p] = q.r; $act[a.oAct + p + a.U] = q.z; $act[a.oAct + p + 2u * a.U] = q.n;
  $hs[a.oHs + (step + 1u) * n + i] = q.h;
  put(i, q.h);`,
  },
  rnn: {
    helpers: '',
    body: /* wgsl */ `
  let h = tanh_(g0 + $pre[a.oPre + step * n + i]);
  $hs[a.oHs + (step + 1u) * n + i] = h;
  put(i, h);`,
  },
  lstmBack: {
    helpers: LSTM_BACK_MATH_WGSL,
    body: /* wgsl */ `
  let dh = g0 + $dh[a.oDh + t * n + i];
  $dh[a.oDh + t * n + i] = dh;
  let p = t * 4u * n + b * 4u * a.U + j;
  let ao = a.oAct + p;
  let q = lstmBackMath($act[ao], $act[ao + a.U], $act[ao + 2u * a.U], $act[ao + 3u * a.U], $cs[a.oCs + (t + 1u) * n + i], $cs[a.oCs + t * n + i], $dc[a.oDc + i], dh);
  $dc[a.oDc + i] = q.dcPrev;
  let d = a.oDpre + p;
  $dpre[d] = q.di; $dpre[d + a.U] = q.df; $dpre[d + 2u * a.U] = q.dg; $dpre[d + 3u * a.U] = q.do_;
  let e = b * 4u * a.U + j;
  put(e, q.di); put(e + a.U, q.df); put(e + 2u * a.U, q.dg); put(e + 3u * a.U, q.do_);`,
  },
  gruBack: {
    helpers: GRU_BACK_MATH_WGSL,
    // As the steps add them: dh from above, then z·dh of the step after (its dh as written
    // back, its z), then the recurrent product.
    body: /* wgsl */ `
  let p = t * 3u * n + b * 3u * a.U + j;
  var dh = $dh[a.oDh + t * n + i];
  if (!(step == 0u && a.first == 1u)) {
    dh = g0 + (dh + $dh[a.oDh + (t + 1u) * n + i] * $act[a.oAct + p + 3u * n + a.U]);
  }
  $dh[a.oDh + t * n + i] = dh;
  let r = $act[a.oAct + p];
  let q = gruBackMath(r, $act[a.oAct + p + a.U], $act[a.oAct + p + 2u * a.U], $hh[a.oHh + p + 2u * a.U], $hs[a.oHs + t * n + i], dh);
  $dxi[a.oDxi + p] = q.dr; $dxi[a.oDxi + p + a.U] = q.dz; $dxi[a.oDxi + p + 2u * a.U] = q.dn;
  $dhh[a.oDhh + p] = q.dr; $dhh[a.oDhh + p + a.U] = q.dz; $dhh[a.oDhh + p + 2u * a.U] = q.dn * r;
  let e = b * 3u * a.U + j;
  put(e, q.dr); put(e + a.U, q.dz); put(e + 2u * a.U, q.dn * r);`,
  },
  rnnBack: {
    helpers: '',
    body: /* wgsl */ `
  let dh = g0 + $dh[a.oDh + t * n + i];
  $dh[a.oDh + t * n + i] = dh;
  let y = $hs[a.oHs + (t + 1u) * n + i];
  let d = dh * (1.0 - y * y);
  $dpre[a.oDpre + t * n + i] = d;
  put(i, d);`,
  },
};

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
 * The sequence kernel of a step kind on tile t: buffers SEQUENCE_BUFS[kind], then W_hh (B) and
 * the exchange (ex); arguments their offsets (offsetArg), then oW, M = B, U = H, K (H forward,
 * the cell's gates × H backward), T, tag0 (steps run before, mod SEQUENCE_TAGS), first, oEx,
 * spin (the turns a thread's waits may take in all, exchange.ts).
 * Workgroups ⌈H/BU⌉ × ⌈B/BM⌉. `vecW`: W_hh read in vectors of 4.
 */
export function sequenceDef(kind: StepKind, t: StepTile, vecW = false): KernelDef {
  const { BM, BU, RU } = t, back = kind.endsWith('Back'), NG = gatesOf(kind), bufs = SEQUENCE_BUFS[kind];
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
  const code = /* wgsl */ `
const NONE: u32 = 0xffffffffu; // no value: outside the operand, or nothing before the first step
const PLAIN: u32 = 0xfffffffeu; // x holds the value itself (a forward dispatch's first h, from hs)
var<private> step: u32;
var<private> want: u32; // the tag of the step before
${exchangeWgsl('a.oEx + 4u * a.M * a.K + 1u', 'a.spin')}

fn tagOf(s: u32) -> u32 {
  return (a.tag0 + s) % ${SEQUENCE_TAGS}u + 1u;
}

// Value i (row-major, K per row) of what the step before passed on, as loaded: (low word, high
// word, word index), or NONE, PLAIN.
fn xIssue(i: u32, ok: bool) -> vec3u {
  if (!ok) { return vec3u(0u, 0u, NONE); }
${back ? '' : '  if (step == 0u) { return vec3u(bitcast<u32>($hs[a.oHs + i]), 0u, PLAIN); }\n'}  let w = a.oEx + 2u * ((want & 1u) * a.M * a.K + i);
  return vec3u(bitcast<u32>(atomicLoad(&$ex[w])), bitcast<u32>(atomicLoad(&$ex[w + 1u])), w);
}

// The value once both words carry the step before's tag (NaN if a wait gave up: the flag,
// which the host reads back, is then set).
fn xTake(q: vec3u) -> f32 {
  if (q.z == NONE) { return 0.0; }
  if (q.z == PLAIN) { return bitcast<f32>(q.x); }
  return exTake(q.x, q.y, q.z, want);
}

// Value i of this step's, out to the exchange with its tag.
fn put(i: u32, v: f32) {
  let tag = tagOf(step);
  exPut(a.oEx + 2u * ((tag & 1u) * a.M * a.K + i), tag, v);
}
${CELLS[kind].helpers}

// Row b, unit j of this step${back ? ' (time step t = T−1−step)' : ''}, from its gate sums.
fn cell(b: u32, j: u32, ${gates.map((q) => `g${q}: f32`).join(', ')}) {
  if (b >= a.M || j >= a.U) { return; }
  let i = b * a.U + j;
  let n = a.M * a.U;${back ? '\n  let t = a.T - 1u - step;' : ''}${CELLS[kind].body}
}
${tile.shared}

@compute @workgroup_size(${tile.threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  if (a.T == 0u) {${probeWgsl({ lead: 'li == 0u', arrive: 'a.oEx + 4u * a.M * a.K', count: 'nwg.x * nwg.y', first: 'wg.x == 0u && wg.y == 0u', answer: back ? '$dh[a.oDh]' : '$hs[a.oHs]', budget: 'a.spin' })}
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
  return {
    key: `sequence_${kind}_${stepTileName(t)}${vecKey([false, vecW])}`,
    bufs: [...bufs.map((b) => ({ name: b.name, write: b.write })), { name: 'B', vec4: vecW }, { name: 'ex', int: true, write: true, atomic: true }],
    args: [...bufs.map((b) => [offsetArg(b.name), 'u32'] as const), ['oW', 'u32'],
      ['M', 'u32'], ['U', 'u32'], ['K', 'u32'], ['T', 'u32'], ['tag0', 'u32'], ['first', 'u32'], ['oEx', 'u32'], ['spin', 'u32']],
    code,
  };
}
