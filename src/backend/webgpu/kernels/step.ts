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
import type { BufParam, KernelDef, ScalarType } from '../program.js';
import { LSTM_BACKWARD_WGSL, LSTM_FORWARD_WGSL } from './cells.js';

export type StepKind = 'lstm' | 'gru' | 'rnn' | 'lstmBack' | 'gruBack' | 'rnnBack';

export interface StepTile {
  BM: number; RM: number; // batch rows per workgroup and per thread
  BU: number; RU: number; // hidden units per workgroup and per thread
}

const BK = 16;
const PAD = 4;
const TY = 8;
const TX = 16;

// From most work per workgroup to least: the first that makes enough workgroups to keep the
// GPU busy is used, else the last (most workgroups). All have TY·TX = 128 threads.
const TILES_WIDE: StepTile[] = [{ BM: 32, RM: 4, BU: 64, RU: 4 }, { BM: 16, RM: 2, BU: 64, RU: 4 }, { BM: 8, RM: 1, BU: 64, RU: 4 }, { BM: 8, RM: 1, BU: 32, RU: 2 }];
const TILES_GATED: StepTile[] = [{ BM: 32, RM: 4, BU: 32, RU: 2 }, { BM: 16, RM: 2, BU: 32, RU: 2 }, { BM: 8, RM: 1, BU: 32, RU: 2 }, { BM: 8, RM: 1, BU: 16, RU: 1 }];
export const gatesOf = (kind: StepKind): number => (kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1);

export function pickStepTile(kind: StepKind, B: number, H: number, occupancy: number): StepTile {
  const tiles = gatesOf(kind) > 1 ? TILES_GATED : TILES_WIDE;
  return tiles.find((t) => Math.ceil(B / t.BM) * Math.ceil(H / t.BU) >= occupancy) ?? tiles[tiles.length - 1];
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
    helpers: '',
    body: `
      let x = a.oXi + b * 3u * a.U + j;
      let r = sigmoid($xi[x] + v[0]);
      let z = sigmoid($xi[x + a.U] + v[1]);
      let nn = tanh_($xi[x + 2u * a.U] + r * v[2]);
      let ao = a.oAct + b * 3u * a.U + j;
      $act[ao] = r; $act[ao + a.U] = z; $act[ao + 2u * a.U] = nn;
      $h[a.oH + i] = (1.0 - z) * nn + z * $hPrev[a.oHp + i];`,
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
    helpers: '',
    body: `
      let ao = a.oAct + b * 3u * a.U + j;
      let r = $act[ao]; let z = $act[ao + a.U]; let nn = $act[ao + 2u * a.U];
      let d = v[0];
      let dn = d * (1.0 - z) * (1.0 - nn * nn);
      let dz = d * ($hPrev[a.oHp + i] - nn) * z * (1.0 - z);
      let dr = dn * $hh[a.oHh + b * 3u * a.U + 2u * a.U + j] * r * (1.0 - r);
      let x = a.oDxi + b * 3u * a.U + j;
      $dxi[x] = dr; $dxi[x + a.U] = dz; $dxi[x + 2u * a.U] = dn;
      let q = a.oDhh + b * 3u * a.U + j;
      $dhh[q] = dr; $dhh[q + a.U] = dz; $dhh[q + 2u * a.U] = dn * r;
      $dhPrev[a.oDhp + i] += d * z;`,
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

export function stepDef(kind: StepKind, t: StepTile): KernelDef {
  const NG = gatesOf(kind), back = kind.endsWith('Back');
  const { BM, RM, BU, RU } = t;
  const BN = NG * BU, AS = BM + PAD, BS = BN + PAD, NT = TX * TY;
  const e = EPILOGUES[kind];
  // Forward: op(B)[k, q·U + j] = W_hh[q·U + j, k] (transposed); backward: W_hh[k, j].
  const loadB = back
    ? `let k = e / ${BN}u; let c = e - k * ${BN}u; let ok = j0 + c < a.U; let at = (k0 + k) * a.U + j0 + c;`
    : `let c = e / ${BK}u; let k = e - c * ${BK}u; let q = c / ${BU}u; let u = c - q * ${BU}u;
      let ok = j0 + u < a.U; let at = (q * a.U + j0 + u) * a.K + k0 + k;`;
  const biasTerm = kind === 'gru' ? ' + $bias[a.oBias + q * a.U + j]' : '';
  return {
    key: `step_${kind}_${BM}x${BU}`,
    bufs: [{ name: 'A' }, { name: 'B' }, { name: 'C', write: true }, ...e.bufs],
    args: [['pA', 'u32'], ['pB', 'u32'], ['pC', 'u32'], ['M', 'u32'], ['U', 'u32'], ['K', 'u32'], ['alpha', 'f32'], ['beta', 'f32'], ...e.args],
    code: /* wgsl */ `
${e.helpers}
var<workgroup> As: array<f32, ${BK * AS}>;
var<workgroup> Bs: array<f32, ${BK * BS}>;

@compute @workgroup_size(${NT})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let tx = li % ${TX}u;
  let ty = li / ${TX}u;
  let m0 = wg.y * ${BM}u;
  let j0 = wg.x * ${BU}u;
  var acc: array<f32, ${RM * RU * NG}>;
  for (var k0 = 0u; k0 < a.K; k0 += ${BK}u) {
    for (var e = li; e < ${BM * BK}u; e += ${NT}u) {
      let m = e / ${BK}u; let k = e - m * ${BK}u;
      var v = 0.0;
      if (m0 + m < a.M && k0 + k < a.K) { v = $A[a.pA + (m0 + m) * a.K + k0 + k]; }
      As[k * ${AS}u + m] = v;
    }
    for (var e = li; e < ${BN * BK}u; e += ${NT}u) {
      ${loadB}
      var v = 0.0;
      if (ok && k0 + k < a.K) { v = $B[a.pB + at]; }
      Bs[k * ${BS}u + c] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
      var ar: array<f32, ${RM}>;
      var br: array<f32, ${RU * NG}>;
      for (var r = 0u; r < ${RM}u; r++) { ar[r] = As[k * ${AS}u + ty + r * ${TY}u]; }
      for (var q = 0u; q < ${NG}u; q++) {
        for (var ru = 0u; ru < ${RU}u; ru++) { br[q * ${RU}u + ru] = Bs[k * ${BS}u + q * ${BU}u + tx + ru * ${TX}u]; }
      }
      for (var r = 0u; r < ${RM}u; r++) {
        for (var ru = 0u; ru < ${RU}u; ru++) {
          for (var q = 0u; q < ${NG}u; q++) {
            let x = (r * ${RU}u + ru) * ${NG}u + q;
            acc[x] = fma(ar[r], br[q * ${RU}u + ru], acc[x]);
          }
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${RM}u; r++) {
    let b = m0 + ty + r * ${TY}u;
    if (b >= a.M) { break; }
    for (var ru = 0u; ru < ${RU}u; ru++) {
      let j = j0 + tx + ru * ${TX}u;
      if (j < a.U) {
        let i = b * a.U + j;
        var v: array<f32, ${NG}>;
        for (var q = 0u; q < ${NG}u; q++) {
          let at = a.pC + b * ${NG}u * a.U + q * a.U + j;
          var x = a.alpha * acc[(r * ${RU}u + ru) * ${NG}u + q];
          if (a.beta != 0.0) { x += a.beta * $C[at]; }
          x = x${biasTerm};
          $C[at] = x;
          v[q] = x;
        }
        ${e.body}
      }
    }
  }
}`,
  };
}
