// The counter-based generator of src/backend/rng.ts, in u32 arithmetic: dropout masks
// drawn here must be bit-identical to the ones every other backend draws.

@inline function pcg(x: u32): u32 {
  const state = x * 747796405 + 2891336453;
  const word = ((state >> ((state >> 28) + 4)) ^ state) * 277803737;
  return (word >> 22) ^ word;
}

// The part of hash3 that does not depend on the index, hoisted out of per-element loops.
@inline function streamKey(seed: u32, stream: u32): u32 {
  return pcg(stream ^ pcg(seed));
}

export function hash3(seed: u32, stream: u32, index: u32): u32 {
  return pcg(index ^ streamKey(seed, stream));
}

// 24 bits, so the value and the comparison with p are exact in f64 as in JavaScript.
export function uniform(seed: u32, stream: u32, index: u32): f64 {
  return <f64>(hash3(seed, stream, index) >> 8) / 16777216.0;
}

// pcg on four lanes. Its shift (state >> 28) + 4 differs per lane, and SIMD shifts take one
// count: shift by 4, then by 1, 2, 4 and 8 where bits 28…31 of the state say so.
@inline function pcg4(x: v128): v128 {
  const state = i32x4.add(i32x4.mul(x, i32x4.splat(747796405)), i32x4.splat(<i32>2891336453));
  let v = i32x4.shr_u(state, 4);
  v = v128.bitselect(i32x4.shr_u(v, 1), v, i32x4.shr_s(i32x4.shl(state, 3), 31));
  v = v128.bitselect(i32x4.shr_u(v, 2), v, i32x4.shr_s(i32x4.shl(state, 2), 31));
  v = v128.bitselect(i32x4.shr_u(v, 4), v, i32x4.shr_s(i32x4.shl(state, 1), 31));
  v = v128.bitselect(i32x4.shr_u(v, 8), v, i32x4.shr_s(state, 31));
  const word = i32x4.mul(v128.xor(v, state), i32x4.splat(277803737));
  return v128.xor(i32x4.shr_u(word, 22), word);
}

// Inverted dropout over elements first … first+n−1 (threads split the range):
// mask[i] = u(seed, stream, i) < p ? 0 : 1/(1−p); out = x ⊙ mask (out may be x). As the
// reference, the product is taken in f64 with the unrounded keep factor, then rounded; u < p is
// compared exactly as (hash >> 8) < ⌈p·2²⁴⌉, the 24-bit draw being an integer.
export function dropout(x: usize, out: usize, mask: usize, n: i32, p: f64, seed: u32, stream: u32, first: u32): void {
  const key = streamKey(seed, stream);
  const keep = 1.0 / (1.0 - p);
  const keep32 = <f32>keep;
  const bound = <i32>Math.ceil(p * 16777216.0);
  const keys = i32x4.splat(key), bounds = i32x4.splat(bound), mk = f32x4.splat(keep32), fk = f64x2.splat(keep);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const idx = i32x4.add(i32x4.splat(<i32>first + i), i32x4(0, 1, 2, 3));
    const drop = i32x4.lt_s(i32x4.shr_u(pcg4(v128.xor(idx, keys)), 8), bounds);
    const off = <usize>i << 2;
    v128.store(mask + off, v128.andnot(mk, drop));
    const xv = v128.load(x + off);
    const lo = f64x2.mul(f64x2.promote_low_f32x4(xv), v128.andnot(fk, i64x2.extend_low_i32x4_s(drop)));
    const hi = f64x2.mul(f64x2.promote_low_f32x4(i64x2.shuffle(xv, xv, 1, 1)), v128.andnot(fk, i64x2.extend_high_i32x4_s(drop)));
    v128.store(out + off, i64x2.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 2));
  }
  for (; i < n; i++) {
    const off = <usize>i << 2;
    const dropped = <i32>(pcg((first + <u32>i) ^ key) >> 8) < bound;
    store<f32>(mask + off, dropped ? 0 : keep32);
    store<f32>(out + off, <f32>(<f64>load<f32>(x + off) * (dropped ? 0.0 : keep)));
  }
}
