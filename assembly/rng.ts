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

// Inverted dropout over n floats: mask[i] = u(seed, stream, i) < p ? 0 : 1/(1−p); x *= mask.
// The product uses the unrounded f64 keep factor, as the reference does.
export function dropout(x: usize, mask: usize, n: i32, p: f64, seed: u32, stream: u32): void {
  const key = streamKey(seed, stream);
  const keep = 1.0 / (1.0 - p);
  const keep32 = <f32>keep;
  for (let i = 0; i < n; i++) {
    const u = <f64>(pcg(<u32>i ^ key) >> 8) / 16777216.0;
    const off = <usize>i << 2;
    if (u < p) {
      store<f32>(mask + off, 0);
      store<f32>(x + off, <f32>(<f64>load<f32>(x + off) * 0.0));
    } else {
      store<f32>(mask + off, keep32);
      store<f32>(x + off, <f32>(<f64>load<f32>(x + off) * keep));
    }
  }
}
