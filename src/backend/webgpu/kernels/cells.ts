// The fused gate math of one time step, one thread per (row, unit), as ../../js/cells.ts.
import type { KernelDef } from '../program.js';
import { gridStride } from './common.js';

// One LSTM unit's gates, cell and output from its four pre-activations and previous cell: the
// arithmetic of every kernel that steps an LSTM (these, the fused steps, the sampling loop).
export const LSTM_MATH_WGSL = /* wgsl */ `
struct LstmUnit { i: f32, f: f32, g: f32, o: f32, c: f32, h: f32 }

fn lstmMath(pi: f32, pf: f32, pg: f32, po: f32, cPrev: f32) -> LstmUnit {
  let ig = sigmoid(pi);
  let fg = sigmoid(pf);
  let gg = tanh_(pg);
  let og = sigmoid(po);
  let cn = fg * cPrev + ig * gg;
  return LstmUnit(ig, fg, gg, og, cn, og * tanh_(cn));
}`;

// The LSTM step for unit j of row b, given its four pre-activations. Shared with the step
// fused into its recurrent product (step.ts), as are the GRU's below.
export const LSTM_FORWARD_WGSL = LSTM_MATH_WGSL + /* wgsl */ `
fn lstmCell(pi: f32, pf: f32, pg: f32, po: f32, cPrev: f32, ao: u32, H: u32, co: u32) {
  let q = lstmMath(pi, pf, pg, po, cPrev);
  $act[ao] = q.i; $act[ao + H] = q.f; $act[ao + 2u * H] = q.g; $act[ao + 3u * H] = q.o;
  $c[a.oC + co] = q.c;
  $h[a.oH + co] = q.h;
}`;

export const lstmStep: KernelDef = {
  key: 'lstmStep',
  bufs: [{ name: 'pre' }, { name: 'cPrev' }, { name: 'act', write: true }, { name: 'c', write: true }, { name: 'h', write: true }],
  args: [['oPre', 'u32'], ['oCp', 'u32'], ['oAct', 'u32'], ['oC', 'u32'], ['oH', 'u32'], ['n', 'u32'], ['H', 'u32']],
  code: LSTM_FORWARD_WGSL + gridStride('a.n', `
    let b = i / a.H;
    let j = i - b * a.H;
    let p = a.oPre + b * 4u * a.H + j;
    lstmCell($pre[p], $pre[p + a.H], $pre[p + 2u * a.H], $pre[p + 3u * a.H], $cPrev[a.oCp + i],
      a.oAct + b * 4u * a.H + j, a.H, i);`),
};

// One LSTM unit's backward from its gates, cell, previous cell, dc from the step after and dh:
// the four gates' gradients and dc for the step before. Every kernel that steps an LSTM back.
export const LSTM_BACK_MATH_WGSL = /* wgsl */ `
struct LstmGrad { di: f32, df: f32, dg: f32, do_: f32, dcPrev: f32 }

fn lstmBackMath(ig: f32, fg: f32, gg: f32, og: f32, c: f32, cPrev: f32, dc: f32, dh: f32) -> LstmGrad {
  let tc = tanh_(c);
  let dct = dc + dh * og * (1.0 - tc * tc);
  return LstmGrad(dct * gg * ig * (1.0 - ig), dct * cPrev * fg * (1.0 - fg), dct * ig * (1.0 - gg * gg), dh * tc * og * (1.0 - og), dct * fg);
}`;

// Unit j of row b of the LSTM backward, given dh: writes dpre's four gates, dc ← dcPrev.
export const LSTM_BACKWARD_WGSL = LSTM_BACK_MATH_WGSL + /* wgsl */ `
fn lstmCellBackward(dhv: f32, i: u32, b: u32, j: u32, H: u32) {
  let ao = a.oAct + b * 4u * H + j;
  let q = lstmBackMath($act[ao], $act[ao + H], $act[ao + 2u * H], $act[ao + 3u * H], $c[a.oC + i], $cPrev[a.oCp + i], $dc[a.oDc + i], dhv);
  let d = a.oDpre + b * 4u * H + j;
  $dpre[d] = q.di; $dpre[d + H] = q.df; $dpre[d + 2u * H] = q.dg; $dpre[d + 3u * H] = q.do_;
  $dc[a.oDc + i] = q.dcPrev;
}`;

export const lstmStepBackward: KernelDef = {
  key: 'lstmStepBackward',
  bufs: [{ name: 'act' }, { name: 'c' }, { name: 'cPrev' }, { name: 'dh' }, { name: 'dc', write: true }, { name: 'dpre', write: true }],
  args: [['oAct', 'u32'], ['oC', 'u32'], ['oCp', 'u32'], ['oDh', 'u32'], ['oDc', 'u32'], ['oDpre', 'u32'], ['n', 'u32'], ['H', 'u32']],
  code: LSTM_BACKWARD_WGSL + gridStride('a.n', `
    let b = i / a.H;
    lstmCellBackward($dh[a.oDh + i], i, b, i - b * a.H, a.H);`),
};

// One GRU unit's gates and output from its input side (xr, xz, xn, with b_ih), hidden side
// (hr, hz, hn, with b_hh) and previous h, for every kernel that steps a GRU.
export const GRU_MATH_WGSL = /* wgsl */ `
struct GruUnit { r: f32, z: f32, n: f32, h: f32 }

fn gruMath(xr: f32, xz: f32, xn: f32, hr: f32, hz: f32, hn: f32, hPrev: f32) -> GruUnit {
  let r = sigmoid(xr + hr);
  let z = sigmoid(xz + hz);
  let nn = tanh_(xn + r * hn);
  return GruUnit(r, z, nn, (1.0 - z) * nn + z * hPrev);
}`;

// Unit j of row b of the GRU step, given the hidden side's products hr, hz, hn (with b_hh).
export const GRU_FORWARD_WGSL = GRU_MATH_WGSL + /* wgsl */ `
fn gruCell(hr: f32, hz: f32, hn: f32, i: u32, b: u32, j: u32, H: u32) {
  let x = a.oXi + b * 3u * H + j;
  let q = gruMath($xi[x], $xi[x + H], $xi[x + 2u * H], hr, hz, hn, $hPrev[a.oHp + i]);
  let ao = a.oAct + b * 3u * H + j;
  $act[ao] = q.r; $act[ao + H] = q.z; $act[ao + 2u * H] = q.n;
  $h[a.oH + i] = q.h;
}`;

export const gruStep: KernelDef = {
  key: 'gruStep',
  bufs: [{ name: 'xi' }, { name: 'hh' }, { name: 'hPrev' }, { name: 'act', write: true }, { name: 'h', write: true }],
  args: [['oXi', 'u32'], ['oHh', 'u32'], ['oHp', 'u32'], ['oAct', 'u32'], ['oH', 'u32'], ['n', 'u32'], ['H', 'u32']],
  code: GRU_FORWARD_WGSL + gridStride('a.n', `
    let b = i / a.H;
    let q = a.oHh + b * 3u * a.H + i - b * a.H;
    gruCell($hh[q], $hh[q + a.H], $hh[q + 2u * a.H], i, b, i - b * a.H, a.H);`),
};

// One GRU unit's backward from its gates r, z, n, the hidden side of n (hn, with b_hn), the
// previous h and dh: the gradients of the three gates' pre-activations (n's on the input side;
// its hidden side's is dn·r). Every kernel that steps a GRU back.
export const GRU_BACK_MATH_WGSL = /* wgsl */ `
struct GruGrad { dr: f32, dz: f32, dn: f32 }

fn gruBackMath(r: f32, z: f32, nn: f32, hn: f32, hPrev: f32, d: f32) -> GruGrad {
  let dn = d * (1.0 - z) * (1.0 - nn * nn);
  let dz = d * (hPrev - nn) * z * (1.0 - z);
  return GruGrad(dn * hn * r * (1.0 - r), dz, dn);
}`;

// Unit j of row b of the GRU backward, given dh: writes dxi's and dhh's three gates, dhPrev += z·dh.
export const GRU_BACKWARD_WGSL = GRU_BACK_MATH_WGSL + /* wgsl */ `
fn gruCellBackward(d: f32, i: u32, b: u32, j: u32, H: u32) {
  let ao = a.oAct + b * 3u * H + j;
  let r = $act[ao]; let z = $act[ao + H];
  let q = gruBackMath(r, z, $act[ao + 2u * H], $hh[a.oHh + b * 3u * H + 2u * H + j], $hPrev[a.oHp + i], d);
  let x = a.oDxi + b * 3u * H + j;
  $dxi[x] = q.dr; $dxi[x + H] = q.dz; $dxi[x + 2u * H] = q.dn;
  let y = a.oDhh + b * 3u * H + j;
  $dhh[y] = q.dr; $dhh[y + H] = q.dz; $dhh[y + 2u * H] = q.dn * r;
  $dhPrev[a.oDhp + i] += d * z;
}`;

export const gruStepBackward: KernelDef = {
  key: 'gruStepBackward',
  bufs: [{ name: 'act' }, { name: 'hh' }, { name: 'hPrev' }, { name: 'dh' }, { name: 'dxi', write: true },
    { name: 'dhh', write: true }, { name: 'dhPrev', write: true }],
  args: [['oAct', 'u32'], ['oHh', 'u32'], ['oHp', 'u32'], ['oDh', 'u32'], ['oDxi', 'u32'], ['oDhh', 'u32'],
    ['oDhp', 'u32'], ['n', 'u32'], ['H', 'u32']],
  code: GRU_BACKWARD_WGSL + gridStride('a.n', `
    let b = i / a.H;
    gruCellBackward($dh[a.oDh + i], i, b, i - b * a.H, a.H);`),
};

export const tanhForward: KernelDef = {
  key: 'tanhForward',
  bufs: [{ name: 'pre' }, { name: 'h', write: true }],
  args: [['oPre', 'u32'], ['oH', 'u32'], ['n', 'u32']],
  code: gridStride('a.n', `    $h[a.oH + i] = tanh_($pre[a.oPre + i]);`),
};

export const tanhBackward: KernelDef = {
  key: 'tanhBackward',
  bufs: [{ name: 'h' }, { name: 'dh' }, { name: 'dpre', write: true }],
  args: [['oH', 'u32'], ['oDh', 'u32'], ['oDpre', 'u32'], ['n', 'u32']],
  code: gridStride('a.n', `
    let y = $h[a.oH + i];
    $dpre[a.oDpre + i] = $dh[a.oDh + i] * (1.0 - y * y);`),
};
