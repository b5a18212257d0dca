// WGSL shared by every kernel: the gate functions and the counter hash of ../../rng.ts.
//
// WGSL lets an implementation assume that no value overflows, so exp never sees an argument
// whose result would leave the f32 range: the gates saturate to exactly 0 and ±1 as the
// reference's do. tanh near 0 is a series, where 1 − e^(−2|x|) would cancel away digits.
export const COMMON_WGSL = /* wgsl */ `
const GRID: u32 = 65535u;

fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-min(x, 88.0))); }
  let e = exp(max(x, -120.0));
  return e / (1.0 + e);
}

fn tanh_(x: f32) -> f32 {
  let y = abs(x);
  if (y < 0.25) {
    let q = x * x;
    return x * (1.0 + q * (-1.0 / 3.0 + q * (2.0 / 15.0 + q * (-17.0 / 315.0 + q * (62.0 / 2835.0)))));
  }
  let t = exp(-2.0 * min(y, 44.0));
  return sign(x) * ((1.0 - t) / (1.0 + t));
}

fn pcg(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn hash3(seed: u32, stream: u32, index: u32) -> u32 {
  return pcg(index ^ pcg(stream ^ pcg(seed)));
}

// A uniform draw in [0, 1) with 24 bits, as rng.ts's uniform.
fn uniform01(seed: u32, stream: u32, index: u32) -> f32 {
  return f32(hash3(seed, stream, index) >> 8u) / 16777216.0;
}
`;

/** Workgroup size of the one-thread-per-element kernels. */
export const WG = 256;

/**
 * Workgroups for n elements, WG per group; kernels loop with a grid stride (gridStride below),
 * so the count is capped where WebGPU caps one dimension.
 */
export function groupsFor(n: number, perGroup = WG): number {
  return Math.max(1, Math.min(65535, Math.ceil(n / perGroup)));
}

/** The usual entry point: `body` runs for every i < n, with i in a grid-stride loop. */
export function gridStride(n: string, body: string): string {
  return /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let stride = nwg.x * ${WG}u;
  for (var i = gid.x; i < ${n}; i += stride) {
${body}
  }
}`;
}
