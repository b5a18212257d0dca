// Which plan runs a recurrent step or a large product fastest on the GPU at hand, found by
// timing them there, as cuDNN's benchmark mode picks its algorithms. The plans' tiles and
// splits (kernels/gemm.ts, step.ts) suit GPUs of different sizes and makers differently, and
// a rule measured on one GPU (pickStep, pickGemm) is only a guess on another.
import { doubleGemmTile, groupGemmTile, EXTRA_TILES, T128, isSkinny, pickGemm, pickTile, sliceGemm, type GemmPlan, type GemmTile } from './kernels/gemm.js';
import type { Slicing } from './kernels/slices.js';
import { extraStepTiles, groupStepTile, pickStep, pickStepTile, sliceStep, stepK, stepTileFits, stepTileName, type StepKind, type StepPlan, type StepTile } from './kernels/step.js';
import { doubledOf, tileFits, type TileLimits } from './kernels/tile.js';

// Each candidate runs this long between two waits for the GPU in one round of timing, so that
// the wait's own latency (tens of µs) is small beside it.
const ROUND_MS = 2;
const ROUNDS = 3;
const MAX_REPS = 200;

/** A plan's name in profiles: its tile, ·n for n thread grids, ·db for tiles twice in workgroup memory, ·v4 for vector reads, ÷n for n slices. */
export const planLabel = (p: StepPlan | GemmPlan): string =>
  `${'name' in p.tile ? p.tile.name : stepTileName(p.tile)}${p.vec === true ? '·v4' : ''}${p.slices > 1 ? ` ÷${p.slices}` : ''}`;

// The first plan of each label: the rule's own plan first, so that a tie keeps it.
function distinct<P extends StepPlan | GemmPlan>(plans: P[]): P[] {
  const seen = new Set<string>();
  return plans.filter((p) => {
    const label = planLabel(p);
    return !seen.has(label) && seen.add(label);
  });
}

/**
 * A step's plans worth timing: the rule's, the whole-step tiles for once and twice its
 * occupancy on 1, 2 and 4 thread grids, the largest tile in slices for 1, 2 and 4 times the
 * occupancy, alone and on 2 grids, and the tiles no rule picks on 1 and 2 grids; then the
 * whole-step tiles on 1 and 2 grids, the largest in slices for 1 and 2 times the occupancy and
 * the tiles no rule picks with their tiles twice in workgroup memory (double); then the rule's
 * plan, the whole-step tiles (single and double), the tiles no rule picks and the largest in
 * slices reading h and W_hh in vectors of 4 (vec).
 */
export function stepPlans(kind: StepKind, B: number, H: number, occupancy: number, slicing: Slicing, limits: TileLimits): StepPlan[] {
  const K = stepK(kind, H), plans = [pickStep(kind, B, H, occupancy, slicing, limits)];
  const one = (t: StepTile): StepPlan => ({ tile: t, slices: 1, kc: K }); // the whole step on tile t
  const whole = [pickStepTile(kind, B, H, occupancy), pickStepTile(kind, B, H, 2 * occupancy)], extra = extraStepTiles(kind);
  for (const t of whole) for (const G of [1, 2, 4]) plans.push(one(groupStepTile(t, G)));
  const largest = pickStepTile(kind, B, H, 0);
  for (const f of [1, 2, 4]) plans.push(sliceStep(kind, largest, B, H, f * occupancy));
  plans.push(sliceStep(kind, groupStepTile(largest, 2), B, H, occupancy));
  for (const t of extra) for (const G of [1, 2]) plans.push(one(groupStepTile(t, G)));
  for (const t of whole) for (const G of [1, 2]) plans.push(one(groupStepTile(doubledOf(t), G)));
  for (const f of [1, 2]) plans.push(sliceStep(kind, doubledOf(largest), B, H, f * occupancy));
  for (const t of extra) plans.push(one(doubledOf(t)));
  plans.push(...[plans[0], ...[...whole.flatMap((t) => [t, doubledOf(t)]), ...extra].map(one), sliceStep(kind, largest, B, H, occupancy)]
    .map((p) => ({ ...p, vec: true })));
  return distinct(plans.filter((p) => stepTileFits(kind, p.tile, limits)));
}

/**
 * A product's plans worth timing: the rule's, the tiles for a quarter of, once and four times
 * its occupancy, whole and in slices for 2 and 8 times it, on 2 and 4 thread grids, and the
 * tiles no rule picks (EXTRA_TILES); then the same tiles whole, and the occupancy's in slices
 * for 2 and 8 times it, with their tiles twice in workgroup memory (double); then the rule's
 * plan and the tiles whole, single and double, and the 128-tile reading A and B in vectors of 4
 * (vec). A product of a few rows has only its own tile.
 */
export function gemmPlans(M: number, N: number, K: number, occupancy: number, slicing: Slicing, limits: TileLimits): GemmPlan[] {
  const plans = [pickGemm(M, N, K, occupancy, slicing, limits)];
  if (isSkinny(M)) return plans;
  const one = (t: GemmTile): GemmPlan => ({ tile: t, slices: 1, kc: K }); // the whole product on tile t
  const tiles = [occupancy / 4, occupancy, 4 * occupancy].map((o) => pickTile(M, N, o));
  for (const t of tiles) {
    for (const f of [0, 2, 8]) plans.push(sliceGemm(t, M, N, K, f * occupancy));
    for (const G of [2, 4]) plans.push(one(groupGemmTile(t, G)));
  }
  plans.push(...EXTRA_TILES.map(one), ...[...tiles, ...EXTRA_TILES].map((t) => one(doubleGemmTile(t))));
  for (const f of [2, 8]) plans.push(sliceGemm(doubleGemmTile(tiles[1]), M, N, K, f * occupancy));
  plans.push(...[plans[0], ...[...tiles, T128].flatMap((t) => [t, doubleGemmTile(t)]).map(one)].map((p) => ({ ...p, vec: true })));
  return distinct(plans.filter((p) => tileFits(p.tile, limits)));
}

/**
 * The index of the fastest of `runs`, each of which records one call, and each one's time per
 * run in ms (none where there is only one, which is not timed). Each runs once first
 * (its kernels compile then), then ROUNDS rounds in which each is recorded reps times (inside
 * `hold`, which keeps the recording from reaching the GPU before it is whole) and timed from
 * the submit in `wait` until the GPU is done: the GPU's time, not the host's recording, which in
 * training overlaps the GPU's work. A run's time is its least over the rounds, since whatever
 * else the GPU or host did can only have added to it. The first run is the rule's plan: ties
 * keep it.
 */
export async function fastest(runs: (() => void)[], wait: () => Promise<void>, now: () => number = () => performance.now(),
  hold: (f: () => void) => void = (f) => f()): Promise<{ best: number; ms: number[] }> {
  if (runs.length < 2) return { best: 0, ms: [] };
  for (const run of runs) run();
  await wait();
  const timed = async (run: () => void, reps: number): Promise<number> => {
    hold(() => { for (let r = 0; r < reps; r++) run(); });
    const t0 = now();
    await wait();
    return (now() - t0) / reps;
  };
  const reps = Math.max(1, Math.min(MAX_REPS, Math.round(ROUND_MS / Math.max(await timed(runs[0], 1), 1e-3))));
  const best = runs.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < runs.length; i++) best[i] = Math.min(best[i], await timed(runs[i], reps));
  }
  return { best: best.indexOf(Math.min(...best)), ms: best };
}
