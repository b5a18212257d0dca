// Vector helpers the products share: a multiply-add that is fused where the engine has relaxed
// SIMD, horizontal sums, and the dot products of a vector with rows of a matrix.

@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

// The sums of four vectors, one per lane: lane q of the result is hsum(sq).
@inline export function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const a = f32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const b = f32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return f32x4.add(i64x2.shuffle(a, b, 0, 2), i64x2.shuffle(a, b, 1, 3));
}

// dot(x[K], row) for the four rows starting at r, ld bytes apart, one per lane. One
// accumulator per row: four rows streamed side by side keep the loads, not the add chains,
// the limit (matrix-vector products are bound by reading the matrix).
@inline export function dot4(x: usize, r: usize, ld: usize, K: i32): v128 {
  const r1 = r + ld, r2 = r1 + ld, r3 = r2 + ld;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const o = <usize>k << 2;
    const xv = v128.load(x + o);
    s0 = fma(xv, v128.load(r + o), s0);
    s1 = fma(xv, v128.load(r1 + o), s1);
    s2 = fma(xv, v128.load(r2 + o), s2);
    s3 = fma(xv, v128.load(r3 + o), s3);
  }
  let v = hsum4(s0, s1, s2, s3);
  for (; k < K; k++) {
    const o = <usize>k << 2;
    const row = f32x4(load<f32>(r + o), load<f32>(r1 + o), load<f32>(r2 + o), load<f32>(r3 + o));
    v = f32x4.add(v, f32x4.mul(f32x4.splat(load<f32>(x + o)), row));
  }
  return v;
}

// dot(x[K], r[K]).
@inline export function dot1(x: usize, r: usize, K: i32): f32 {
  let s = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) s = fma(v128.load(x + (<usize>k << 2)), v128.load(r + (<usize>k << 2)), s);
  let t = hsum(s);
  for (; k < K; k++) t += load<f32>(x + (<usize>k << 2)) * load<f32>(r + (<usize>k << 2));
  return t;
}
