// An LSTM layer's forward over a whole sequence in one dispatch: every time step's recurrent
// product and cell, as the fused step (step.ts) computes one, with the workgroups resident for
// all T steps. Step by step, a time step costs a dispatch (two where its K is split) and the
// GPU's drain and refill between them; a training step of config L is small (B·4H·H = 2²⁷
// multiply-adds), so those cost as much as its arithmetic.
//
// Each workgroup owns the fused step's tile of rows m0… and units j0… (every gate of a unit).
// A step's product reads h of the step before for its rows, which the other workgroups of
// those rows computed: it travels through an exchange buffer as in the sampling loop
// (sampler.ts), each f32 as two words of (16-bit tag, 16-bit half) written and read
// atomically, a reader waiting until both carry the step's tag. The tile loads a K-step's
// words together and waits on them only when it stores them to workgroup memory, after the
// arithmetic of the K-step before (tile.ts TileRead). Two slots, for even and odd steps: a
// workgroup overwrites step t−1's slot with step t+1 only after reading all of step t for its
// rows, which each of the row's other workgroups wrote after reading all of step t−1.
//
// h, c and the gates are also written as the steps write them, for the backward pass. The
// input side (x·W_ihᵀ and both biases) is in pre, from the products before; pre itself is
// left as it was. Workgroups of the same rows wait on one another, so all must be resident:
// the backend probes that first (T = 0: each arrives, then waits for all), and a wait gives
// up after SPIN polls and sets a flag the backend reads back: a miscount ends in an error, not a hang.
import type { KernelDef } from '../program.js';
import { LSTM_MATH_WGSL } from './cells.js';
import { vecKey } from './gemm.js';
import { stepTileName, stepTileShape, type StepTile } from './step.js';
import { gemmTileCode } from './tile.js';

const SPIN = 1 << 20; // polls before a wait gives up
const PROBE_SPIN = 1 << 16;

/** Words of a (B, H) exchange: two slots of B·H values, two words each, the arrival count, then the flag a wait that gave up sets. */
export const sequenceExchangeWords = (B: number, H: number): number => 4 * B * H + 2;

/** Distinct tags of the exchange: a dispatch's steps take the next T (mod this), none of them 0. */
export const SEQUENCE_TAGS = 65535;

/**
 * Arguments: [oPre, oW, oH, oC, oAct, M = B, U = H, K = H, T, tag0] and the exchange's offset.
 * pre [T][B, 4H]; hs, cs [T+1][B, H] with slot 0 the state carried in; act [T][B, 4H].
 * Workgroups ⌈H/BU⌉ × ⌈B/BM⌉. `vecW`: W_hh read in vectors of 4 (step.ts stepVec).
 */
export function lstmSequenceDef(t: StepTile, vecW = false): KernelDef {
  const { BM, BU, RU } = t;
  const tile = gemmTileCode(stepTileShape('lstm', t), {
    // h of the step before, row m0 + m, column kt + k (K = H): index (m0 + m)·H + kt + k.
    a: { kMajor: false, at: '(m0 + m) * a.K + kt + k', read: { type: 'vec3u', issue: (i) => `hIssue(${i}, ok)`, take: (q) => `hTake(${q})` } },
    b: { kMajor: false, at: `((n / ${BU}u) * a.U + j0 + n % ${BU}u) * a.K + kt + k`, vec4: vecW },
    aOk: 'm0 + m < a.M', bOk: `j0 + n % ${BU}u < a.U`,
    aOffset: '0u', bOffset: 'a.oW',
    cols: { WB: RU, col: (c) => `(${Math.floor(c / RU) * BU}u + tx * ${RU}u + ${c % RU}u)` },
  });
  const units = Array.from({ length: RU }, (_, ru) => ru);
  const cells = tile.rows((r, b) => units.map((ru) =>
    `  cell(${b}, j0 + tx * ${RU}u + ${ru}u, ${[0, 1, 2, 3].map((q) => tile.acc(r, q * RU + ru)).join(', ')});`).join('\n'));
  const code = /* wgsl */ `
const NONE: u32 = 0xffffffffu; // no value: outside h
const PLAIN: u32 = 0xfffffffeu; // x holds the value itself (step 0's h, from hs)
var<private> step: u32;
var<private> want: u32; // the tag of the step before's h
var<private> failed: bool; // a wait gave up: the others return at once

fn tagOf(s: u32) -> u32 {
  return (a.tag0 + s) % ${SEQUENCE_TAGS}u + 1u;
}

${LSTM_MATH_WGSL}

// Value i of h of the step before, as loaded: (low word, high word, word index), or NONE, PLAIN.
fn hIssue(i: u32, ok: bool) -> vec3u {
  if (!ok) { return vec3u(0u, 0u, NONE); }
  if (step == 0u) { return vec3u(bitcast<u32>($hs[a.oH + i]), 0u, PLAIN); }
  let w = a.oEx + 2u * (((step - 1u) & 1u) * a.M * a.U + i);
  return vec3u(bitcast<u32>(atomicLoad(&$ex[w])), bitcast<u32>(atomicLoad(&$ex[w + 1u])), w);
}

// The half of word w once it carries the tag: v as loaded, else read until it does; all ones
// (NaN, with the other half) if it never does, and the flag set, which the host reads back
// and every other wait heeds.
fn settle(v: u32, w: u32) -> u32 {
  if ((v >> 16u) == want) { return v & 0xffffu; }
  let flag = a.oEx + 4u * a.M * a.U + 1u;
  if (!failed) {
    for (var n = 0u; n < ${SPIN}u; n++) {
      let x = bitcast<u32>(atomicLoad(&$ex[w]));
      if ((x >> 16u) == want) { return x & 0xffffu; }
      if ((n & 1023u) == 1023u && atomicLoad(&$ex[flag]) != 0) { break; }
    }
    failed = true;
    atomicStore(&$ex[flag], 1);
  }
  return 0xffffu;
}

fn hTake(q: vec3u) -> f32 {
  if (q.z == NONE) { return 0.0; }
  if (q.z == PLAIN) { return bitcast<f32>(q.x); }
  return bitcast<f32>(settle(q.x, q.z) | (settle(q.y, q.z + 1u) << 16u));
}

// Row b, unit j of this step: the gates' sums g0…g3 with the input side, the cell, and h out
// to the backward's buffer and to the exchange.
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
  let w = a.oEx + 2u * ((step & 1u) * n + i);
  let bits = bitcast<u32>(q.h);
  let tag = tagOf(step) << 16u;
  atomicStore(&$ex[w], bitcast<i32>(tag | (bits & 0xffffu)));
  atomicStore(&$ex[w + 1u], bitcast<i32>(tag | (bits >> 16u)));
}
${tile.shared}

@compute @workgroup_size(${tile.threads})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  if (a.T == 0u) {
    // The probe: are all workgroups resident at once? $hs[a.oH] gets 1 if so.
    if (li == 0u) {
      let arrive = a.oEx + 4u * a.M * a.U;
      atomicAdd(&$ex[arrive], 1);
      var all = false;
      for (var n = 0u; n < ${PROBE_SPIN}u; n++) {
        if (u32(atomicLoad(&$ex[arrive])) >= nwg.x * nwg.y) { all = true; break; }
      }
      if (wg.x == 0u && wg.y == 0u) { $hs[a.oH] = select(0.0, 1.0, all); }
    }
    return;
  }
  let m0 = wg.y * ${BM}u;
  let j0 = wg.x * ${BU}u;
  for (var s = 0u; s < a.T; s++) {
    step = s;
    want = tagOf(s - 1u);
    // The workgroup's own h of the step before is written: a CPU renderer runs a workgroup's
    // threads in turn between barriers, and one would wait for ever on a thread after it.
    workgroupBarrier();
    {
${tile.body}
${tile.lead(cells)}
    }
  }
}`;
  return {
    key: `lstmSequence_${stepTileName(t)}${vecKey([false, vecW])}`,
    bufs: [{ name: 'pre' }, { name: 'B', vec4: vecW }, { name: 'hs', write: true }, { name: 'cs', write: true },
      { name: 'act', write: true }, { name: 'ex', int: true, write: true, atomic: true }],
    args: [['oPre', 'u32'], ['oW', 'u32'], ['oH', 'u32'], ['oC', 'u32'], ['oAct', 'u32'], ['M', 'u32'], ['U', 'u32'], ['K', 'u32'],
      ['T', 'u32'], ['tag0', 'u32'], ['oEx', 'u32']],
    code,
  };
}
