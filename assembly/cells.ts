// Fused recurrent cell kernels for one time step over a [B, G·H] block, four hidden units at
// a time in f32x4 lanes (a leftover unit runs alone in lane 0 through the same code, so every
// unit gets the same arithmetic). The gates come from ./math within 2.4 ulps of exact; the
// rest is f32 arithmetic, each result a few roundings from the reference's f64 one. Every
// unit's inputs are loaded before its outputs are stored, so outputs may overwrite inputs.
import { sigmoidv, tanhv, expm2abs, tanhWith, sech2With, one, quarter } from './math';

@inline function ld(p: usize, full: bool): v128 {
  return full ? v128.load(p) : f32x4.splat(load<f32>(p));
}
@inline export function st(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}
@inline function add(a: v128, b: v128): v128 { return f32x4.add(a, b); }
@inline function sub(a: v128, b: v128): v128 { return f32x4.sub(a, b); }
@inline function mul(a: v128, b: v128): v128 { return f32x4.mul(a, b); }
// x·(1 − x), for a sigmoid output
@inline function dsig(x: v128): v128 { return mul(x, sub(one(), x)); }
// 1 − x², for a tanh output: as (1 − x)(1 + x), exact up to two roundings even as |x| → 1
@inline function dtanh(x: v128): v128 { return mul(sub(one(), x), add(one(), x)); }

// Byte offsets: p into the [B,4H] rows at gate i of the unit(s), s into the [B,H] rows;
// gate is the byte distance from one gate's block to the next.
@inline function lstmUnits(pre: usize, cPrev: usize, act: usize, c: usize, h: usize,
  p: usize, s: usize, gate: usize, full: bool): void {
  lstmCell(ld(pre + p, full), ld(pre + p + gate, full), ld(pre + p + 2 * gate, full), ld(pre + p + 3 * gate, full),
    cPrev, act, c, h, p, s, gate, full);
}

// The cell of lstmUnits given the unit(s)' pre-activations zi, zf, zg, zo.
@inline export function lstmCell(zi: v128, zf: v128, zg: v128, zo: v128, cPrev: usize, act: usize, c: usize, h: usize,
  p: usize, s: usize, gate: usize, full: bool): void {
  const i = sigmoidv(zi);
  const f = sigmoidv(zf);
  const g = tanhv(zg);
  const o = sigmoidv(zo);
  const cp = ld(cPrev + s, full);
  st(act + p, i, full); st(act + p + gate, f, full); st(act + p + 2 * gate, g, full); st(act + p + 3 * gate, o, full);
  const cn = add(mul(f, cp), mul(i, g));
  st(c + s, cn, full);
  st(h + s, mul(o, tanhv(cn)), full);
}

// act[B,4H] = (σ(i), σ(f), tanh(g), σ(o)) of pre[B,4H]; c = f⊙cPrev + i⊙g; h = o⊙tanh(c)
export function lstmStep(pre: usize, cPrev: usize, act: usize, c: usize, h: usize, B: i32, H: i32): void {
  const gate = <usize>H << 2, H4 = H & ~3;
  for (let b = 0; b < B; b++) {
    const p = <usize>b * 4 * gate, s = <usize>b * gate;
    let j = 0;
    for (; j < H4; j += 4) lstmUnits(pre, cPrev, act, c, h, p + (<usize>j << 2), s + (<usize>j << 2), gate, true);
    for (; j < H; j++) lstmUnits(pre, cPrev, act, c, h, p + (<usize>j << 2), s + (<usize>j << 2), gate, false);
  }
}

@inline function lstmUnitsBackward(act: usize, c: usize, cPrev: usize, dh: usize, dc: usize, dpre: usize,
  p: usize, s: usize, gate: usize, full: bool): void {
  const i = ld(act + p, full), f = ld(act + p + gate, full), g = ld(act + p + 2 * gate, full), o = ld(act + p + 3 * gate, full);
  const cv = ld(c + s, full), e4 = expm2abs(cv, 2);
  const tc = tanhWith(cv, f32x4.mul(e4, quarter()));
  const dhv = ld(dh + s, full), cp = ld(cPrev + s, full);
  const dct = add(ld(dc + s, full), mul(mul(dhv, o), sech2With(cv, tc, e4)));
  st(dpre + p, mul(mul(dct, g), dsig(i)), full);
  st(dpre + p + gate, mul(mul(dct, cp), dsig(f)), full);
  st(dpre + p + 2 * gate, mul(mul(dct, i), dtanh(g)), full);
  st(dpre + p + 3 * gate, mul(mul(dhv, tc), dsig(o)), full);
  st(dc + s, mul(dct, f), full);
}

// (dh[B,H], dc[B,H]) → dpre[B,4H]; dc becomes dcPrev.
export function lstmStepBackward(act: usize, c: usize, cPrev: usize, dh: usize, dc: usize, dpre: usize,
  B: i32, H: i32): void {
  const gate = <usize>H << 2, H4 = H & ~3;
  for (let b = 0; b < B; b++) {
    const p = <usize>b * 4 * gate, s = <usize>b * gate;
    let j = 0;
    for (; j < H4; j += 4) lstmUnitsBackward(act, c, cPrev, dh, dc, dpre, p + (<usize>j << 2), s + (<usize>j << 2), gate, true);
    for (; j < H; j++) lstmUnitsBackward(act, c, cPrev, dh, dc, dpre, p + (<usize>j << 2), s + (<usize>j << 2), gate, false);
  }
}

// Byte offsets: x into the [B,3H] rows at gate r of the unit(s), s into the [B,H] rows.
@inline function gruUnits(xi: usize, hh: usize, hPrev: usize, act: usize, h: usize,
  x: usize, s: usize, gate: usize, full: bool): void {
  gruCell(ld(xi + x, full), ld(xi + x + gate, full), ld(xi + x + 2 * gate, full),
    ld(hh + x, full), ld(hh + x + gate, full), ld(hh + x + 2 * gate, full), hPrev, act, h, x, s, gate, full);
}

// The cell of gruUnits given the unit(s)' input parts (xr, xz, xn) and recurrent parts (hr, hz, hn).
@inline export function gruCell(xr: v128, xz: v128, xn: v128, hr: v128, hz: v128, hn: v128,
  hPrev: usize, act: usize, h: usize, x: usize, s: usize, gate: usize, full: bool): void {
  const r = sigmoidv(add(xr, hr));
  const z = sigmoidv(add(xz, hz));
  const n = tanhv(add(xn, mul(r, hn)));
  const hp = ld(hPrev + s, full);
  st(act + x, r, full); st(act + x + gate, z, full); st(act + x + 2 * gate, n, full);
  st(h + s, add(mul(sub(one(), z), n), mul(z, hp)), full);
}

// PyTorch's GRU: r = σ(xi_r + hh_r), z = σ(xi_z + hh_z), n = tanh(xi_n + r⊙hh_n),
// h = (1−z)⊙n + z⊙hPrev; act[B,3H] = (r, z, n)
export function gruStep(xi: usize, hh: usize, hPrev: usize, act: usize, h: usize, B: i32, H: i32): void {
  const gate = <usize>H << 2, H4 = H & ~3;
  for (let b = 0; b < B; b++) {
    const x = <usize>b * 3 * gate, s = <usize>b * gate;
    let j = 0;
    for (; j < H4; j += 4) gruUnits(xi, hh, hPrev, act, h, x + (<usize>j << 2), s + (<usize>j << 2), gate, true);
    for (; j < H; j++) gruUnits(xi, hh, hPrev, act, h, x + (<usize>j << 2), s + (<usize>j << 2), gate, false);
  }
}

@inline function gruUnitsBackward(act: usize, hh: usize, hPrev: usize, dh: usize, dxi: usize, dhh: usize,
  dhPrev: usize, x: usize, s: usize, gate: usize, full: bool): void {
  const r = ld(act + x, full), z = ld(act + x + gate, full), n = ld(act + x + 2 * gate, full);
  const d = ld(dh + s, full), hp = ld(hPrev + s, full), hhn = ld(hh + x + 2 * gate, full), dhp = ld(dhPrev + s, full);
  const dn = mul(mul(d, sub(one(), z)), dtanh(n));
  const dz = mul(mul(d, sub(hp, n)), dsig(z));
  const dr = mul(mul(dn, hhn), dsig(r));
  st(dxi + x, dr, full); st(dxi + x + gate, dz, full); st(dxi + x + 2 * gate, dn, full);
  st(dhh + x, dr, full); st(dhh + x + gate, dz, full); st(dhh + x + 2 * gate, mul(dn, r), full);
  st(dhPrev + s, add(dhp, mul(d, z)), full);
}

// dh[B,H] → dxi[B,3H], dhh[B,3H]; dhPrev[B,H] += z⊙dh
export function gruStepBackward(act: usize, hh: usize, hPrev: usize, dh: usize, dxi: usize, dhh: usize,
  dhPrev: usize, B: i32, H: i32): void {
  const gate = <usize>H << 2, H4 = H & ~3;
  for (let b = 0; b < B; b++) {
    const x = <usize>b * 3 * gate, s = <usize>b * gate;
    let j = 0;
    for (; j < H4; j += 4) gruUnitsBackward(act, hh, hPrev, dh, dxi, dhh, dhPrev, x + (<usize>j << 2), s + (<usize>j << 2), gate, true);
    for (; j < H; j++) gruUnitsBackward(act, hh, hPrev, dh, dxi, dhh, dhPrev, x + (<usize>j << 2), s + (<usize>j << 2), gate, false);
  }
}
