// Splitting a product along K: how many slices, and how long. Each slice runs on its own
// workgroups (tile.ts takes a K range) and writes its sums; a second dispatch adds them in
// order (gemm.ts gemmFinishDef, step.ts stepFinishDef).

/**
 * When a product splits along K into slices, each slice's sums written out and added by a
 * second dispatch: a recurrent step's product of `stepMacs` multiply-adds or more into enough
 * slices to make `steps` times a product's occupancy in workgroups, any other product of
 * `productMacs` or more `products` times; 0 never splits. A long K on few workgroups waits on
 * memory with one warp per scheduler; slices give each core several workgroups to switch
 * between. A small product pays more for the second dispatch than it gains. With `stepGroups`
 * (`productGroups`) > 1 such a step (product) splits K between that many thread grids of each
 * workgroup instead (tile.ts): as many more warps, in one dispatch.
 */
export interface Slicing { steps: number; stepMacs: number; stepGroups: number; products: number; productMacs: number; productGroups: number }

// The fewest K-steps of a slice: its next K-step's loads go out during the current one's arithmetic.
const MIN_SLICE_STEPS = 2;
// The most partial sums the slices of one product may hold (64 MiB): the slices of a large
// output would cost more memory than any gain, and the scratch buffer must fit one binding.
const SLICE_FLOATS = 2 ** 24;

/**
 * K in as many slices of kc as make `groups` workgroups from `tiles`: each slice a whole number
 * of K-steps (BK) and at least MIN_SLICE_STEPS of them, and the slices' sums (`outputs` values
 * each) SLICE_FLOATS at most in all.
 */
export function sliceK(K: number, BK: number, tiles: number, groups: number, outputs: number): { slices: number; kc: number } {
  const most = Math.min(Math.floor(K / (MIN_SLICE_STEPS * BK)), Math.floor(SLICE_FLOATS / outputs));
  const want = Math.max(1, Math.min(most, Math.ceil(groups / tiles)));
  const kc = Math.ceil(K / want / BK) * BK;
  return { slices: Math.ceil(K / kc), kc };
}

/** Slice z's K range in a sliced kernel, z being the third workgroup index and kc an argument. */
export const SLICE_RANGE = { begin: 'wg.z * a.kc', end: 'min(a.K, (wg.z + 1u) * a.kc)' };

/** A finishing kernel's sum of one output over the slices in P (a.slices of them, `size` apart), in slice order. */
export const SLICES_SUM_WGSL = /* wgsl */ `
fn slicesSum(at: u32, size: u32) -> f32 {
  var s = 0.0;
  for (var z = 0u; z < a.slices; z++) { s += $P[at + z * size]; }
  return s;
}`;
