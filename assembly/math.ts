// exp, sigmoid and tanh on f32x4 lanes, within 2.4 f32 ulps of the exact value (relative
// 1.8e-7) over the whole f32 range: saturated inputs give exactly 0, 1 or ±1 (and +∞ for
// exp), subnormal results are rounded like any other, NaN stays NaN. Only plain mul/add (no fused multiply-add),
// so both builds give the same bits on every engine.

// exp: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) = 1 + r + r²·P(r) (P a minimax fit, relative
// error 3e-9), then scaled by 2ⁿ. ln2 is split so that n·LN2_HI is exact for |n| ≤ 256 and
// x − n·LN2_HI is exact too. 2ⁿ is applied as two powers of two, so results that overflow
// or fall into the subnormals round once, correctly; n then ranges over [−150, 128].
// The constants are static data, each read by a load that fills the four lanes: V8 builds a
// v128.const from immediates in the code, several instructions each. With that, pmin/pmax and
// the rounding below, sigmoid and tanh take a third less time than with splatted constants,
// min/max and nearest, for the same results bit for bit.
const LOG2E = memory.data<f32>([1.442695]);
const LN2_HI = memory.data<f32>([0.693359375]);
const LN2_LO = memory.data<f32>([-0.00021219444]);
const EXP_LO = memory.data<f32>([-104.0]); // exp below is under half the least subnormal: rounds to 0
const EXP_HI = memory.data<f32>([89.0]); // exp above overflows: +∞
const E2 = memory.data<f32>([0.49999994]);
const E3 = memory.data<f32>([0.16666517]);
const E4 = memory.data<f32>([0.041668426]);
const E5 = memory.data<f32>([0.008369118]);
const E6 = memory.data<f32>([0.0013813768]);
// x + ROUND rounds x to an integer (to even, as f32x4.nearest) for |x| < 2²², and leaves it in
// the low bits of the sum: one add and two subtractions instead of nearest and a conversion,
// which V8 builds from several instructions.
const ROUND = memory.data<f32>([12582912.0]); // 1.5·2²³
const EXP_BIAS = memory.data<i32>([127]);

// tanh(x) = x + x·u·Q(u), u = x², for |x| < TANH_SMALL (Q a minimax fit, relative error 4e-9),
// where (1 − e)/(1 + e) would lose digits to cancellation; beyond it e = exp(−2|x|) ≤ 0.29.
const TANH_SMALL = memory.data<f32>([0.625]);
const T0 = memory.data<f32>([-0.3333328]);
const T1 = memory.data<f32>([0.13331442]);
const T2 = memory.data<f32>([-0.053739715]);
const T3 = memory.data<f32>([0.020639086]);
const T4 = memory.data<f32>([-0.0057049864]);
const ONE = memory.data<f32>([1.0]);
const MINUS_TWO = memory.data<f32>([-2.0]);
const SIGN = memory.data<f32>([-0.0]); // the sign bit alone
const QUARTER = memory.data<f32>([0.25]);

@inline function k(c: usize): v128 { return v128.load32_splat(c); }
@inline export function one(): v128 { return k(ONE); }
@inline export function quarter(): v128 { return k(QUARTER); }
@inline function madd(a: v128, b: v128, c: v128): v128 { return f32x4.add(f32x4.mul(a, b), c); }

@inline function pow2(n: v128): v128 {
  return i32x4.shl(i32x4.add(n, k(EXP_BIAS)), 23);
}

// exp(x)·2^log2scale, the scaling exact unless the result overflows or is subnormal.
@inline export function expScaledv(x: v128, log2scale: i32): v128 {
  // pmin and pmax are single instructions; min and max, which order ±0 and NaN, are not. NaN
  // passes through both, and makes p NaN whatever ni is.
  x = f32x4.pmax(f32x4.pmin(x, k(EXP_HI)), k(EXP_LO));
  const rounded = f32x4.add(f32x4.mul(x, k(LOG2E)), k(ROUND));
  const n = f32x4.sub(rounded, k(ROUND));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, k(LN2_HI))), f32x4.mul(n, k(LN2_LO)));
  let p = madd(k(E6), r, k(E5));
  p = madd(p, r, k(E4));
  p = madd(p, r, k(E3));
  p = madd(p, r, k(E2));
  p = f32x4.add(madd(f32x4.mul(r, r), p, r), k(ONE));
  const ni = i32x4.add(i32x4.sub(rounded, k(ROUND)), i32x4.splat(log2scale));
  const n1 = i32x4.shr_s(ni, 1);
  return f32x4.mul(f32x4.mul(p, pow2(n1)), pow2(i32x4.sub(ni, n1)));
}

@inline export function expv(x: v128): v128 {
  return expScaledv(x, 0);
}

// σ(x) = 1/(1 + e) for x ≥ 0 and e/(1 + e) below, e = exp(−|x|) ∈ (0, 1]: no overflow, and
// the small side keeps full relative precision down into the subnormals.
@inline export function sigmoidv(x: v128): v128 {
  const e = expv(f32x4.neg(f32x4.abs(x)));
  const num = v128.bitselect(e, k(ONE), f32x4.lt(x, f32x4.splat(0)));
  return f32x4.div(num, f32x4.add(e, k(ONE)));
}

@inline function tanhSmall(x: v128): v128 {
  const u = f32x4.mul(x, x);
  let q = madd(k(T4), u, k(T3));
  q = madd(q, u, k(T2));
  q = madd(q, u, k(T1));
  q = madd(q, u, k(T0));
  return madd(x, f32x4.mul(u, q), x);
}

@inline function withSignOf(mag: v128, x: v128): v128 {
  return v128.or(mag, v128.and(x, k(SIGN)));
}

// exp(−2|x|)·2^log2scale, shared by tanh and its derivative.
@inline export function expm2abs(x: v128, log2scale: i32): v128 {
  return expScaledv(f32x4.mul(f32x4.abs(x), k(MINUS_TWO)), log2scale);
}

@inline function small(x: v128): v128 {
  return f32x4.lt(f32x4.abs(x), k(TANH_SMALL));
}

// tanh(x) given e = expm2abs(x, 0).
@inline export function tanhWith(x: v128, e: v128): v128 {
  const big = withSignOf(f32x4.div(f32x4.sub(k(ONE), e), f32x4.add(k(ONE), e)), x);
  return v128.bitselect(tanhSmall(x), big, small(x));
}

@inline export function tanhv(x: v128): v128 {
  return tanhWith(x, expm2abs(x, 0));
}

// 1 − tanh²(x) given e4 = expm2abs(x, 2) = 4·exp(−2|x|) and t = tanh(x). Where t is near ±1,
// 1 − t² from a rounded t keeps only the few bits of t below 1, so there it is e4/(1 + e4/4)²,
// in f64 lanes: in f32 its roundings would add up to four ulps, in f64 only e4's own error is
// left. Scaling by 4 inside exp keeps e4 normal for as long as the result is.
@inline function sech2FromExp(e4: v128): v128 {
  const lo = f64x2.promote_low_f32x4(e4);
  const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(e4, e4, 2, 3, 2, 3));
  const one = f64x2.splat(1), quarter = f64x2.splat(0.25);
  const dl = f64x2.add(one, f64x2.mul(quarter, lo)), dh = f64x2.add(one, f64x2.mul(quarter, hi));
  const rl = f64x2.div(lo, f64x2.mul(dl, dl));
  const rh = f64x2.div(hi, f64x2.mul(dh, dh));
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(rl), f32x4.demote_f64x2_zero(rh), 0, 1, 4, 5);
}

@inline export function sech2With(x: v128, t: v128, e4: v128): v128 {
  return v128.bitselect(f32x4.mul(f32x4.sub(k(ONE), t), f32x4.add(k(ONE), t)), sech2FromExp(e4), small(x));
}
