// One counter-based generator for all randomness (init, dropout, sampling): a draw is a
// pure function of (seed, stream, index), so every backend draws the same numbers and a
// resumed run continues exactly by storing counters, not generator state.
// The mixer is the PCG-RXS-M-XS hash, chained over the three words; it has simple
// 32-bit integer arithmetic that ports directly to WGSL and AssemblyScript.

function pcg(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

export function hash3(seed: number, stream: number, index: number): number {
  return pcg((index ^ pcg((stream ^ pcg(seed >>> 0)) >>> 0)) >>> 0);
}

/** Uniform in [0, 1) with 24 bits, exactly representable in f32. */
export function uniform(seed: number, stream: number, index: number): number {
  return (hash3(seed, stream, index) >>> 8) / 16777216;
}

/** Named streams, so independent uses never share draws. */
export const Stream = {
  init: 1,
  sample: 2,
  dropoutBase: 1 << 16, // + iteration × layers + layer, wrapped in 32 bits
} as const;
