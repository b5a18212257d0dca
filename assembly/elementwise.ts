import { tanhv } from './math';

// Elementwise kernels over n floats at byte addresses. Where the reference computes in f64
// and rounds once to f32, these do the same (f64x2 lanes, or f32x4 where that is provably
// the same rounding), so results match it bit for bit.

// x *= m. A product of two f32 is exact in f64, so one f32 rounding equals the reference's.
export function mul(x: usize, m: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), v128.load(m + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * load<f32>(m + o));
  }
}

// x *= alpha (an f64, as the reference's scale factor is).
export function scale(x: usize, n: i32, alpha: f64): void {
  const a32 = <f32>alpha;
  let i = 0;
  if (<f64>a32 == alpha) {
    const va = f32x4.splat(a32);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), va));
    }
  } else {
    const va = f64x2.splat(alpha);
    for (; i + 2 <= n; i += 2) {
      const o = <usize>i << 2;
      const r = f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(x + o)), va);
      v128.store64_lane(x + o, f32x4.demote_f64x2_zero(r), 0);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, <f32>(<f64>load<f32>(x + o) * alpha));
  }
}

// x = x < lo ? lo : x > hi ? hi : x. With bounds rounded to f32 the outcome is the same as
// comparing against the f64 bounds: no f32 lies between a bound and its rounding. NaN stays.
export function clamp(x: usize, n: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const low = v128.bitselect(vlo, v, f32x4.lt(v, vlo));
    v128.store(x + o, v128.bitselect(vhi, low, f32x4.gt(v, vhi)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(x + o, v < lo ? lo : v > hi ? hi : v);
  }
}

export function fill(x: usize, n: i32, value: f32): void {
  const vv = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), vv);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), value);
}

// Any 4-byte elements; overlapping ranges are allowed.
export function copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

// h = tanh(pre), in place allowed; within two ulps of exact (./math), not bit for bit.
export function tanhForward(pre: usize, h: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(h + o, tanhv(v128.load(pre + o)));
  }
  // the leftovers through the same lanes, so no element's value depends on where it lies
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(h + o, f32x4.extract_lane(tanhv(f32x4.splat(load<f32>(pre + o))), 0));
  }
}

// dpre = dh ⊙ (1 − h²), in f64 as the reference.
export function tanhBackward(h: usize, dh: usize, dpre: usize, n: i32): void {
  const one = f64x2.splat(1.0);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const y = f64x2.promote_low_f32x4(v128.load64_zero(h + o));
    const d = f64x2.promote_low_f32x4(v128.load64_zero(dh + o));
    const r = f64x2.mul(d, f64x2.sub(one, f64x2.mul(y, y)));
    v128.store64_lane(dpre + o, f32x4.demote_f64x2_zero(r), 0);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const y = <f64>load<f32>(h + o);
    store<f32>(dpre + o, <f32>(<f64>load<f32>(dh + o) * (1.0 - y * y)));
  }
}

// Σ x² in f64: squares of f32 are exact in f64, so only the summation order differs from
// the reference, far below the final f32 rounding for any realistic n.
function sumSquaresF64(x: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(s0, s1);
  let t = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    t += v * v;
  }
  return t;
}

// out[0] = Σ x²
export function sumSquares(x: usize, n: i32, out: usize): void {
  store<f32>(out, <f32>sumSquaresF64(x, n));
}

// x *= min(1, maxNorm / ‖x‖) with ‖x‖² read from sumsq[0], so the norm never leaves memory.
export function clipByNorm(x: usize, n: i32, sumsq: usize, maxNorm: f64): void {
  const norm = Math.sqrt(<f64>load<f32>(sumsq));
  if (norm > maxNorm) scale(x, n, maxNorm / norm);
}
