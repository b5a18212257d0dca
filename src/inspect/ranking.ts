// Which cells track which feature: the Pearson correlation, over the positions of a text,
// between every cell's activation (each layer's h and c, each index) and each feature; the
// cells with the largest |r| come first, the sign kept (a cell may track a feature negatively).
import type { StateKind, StateTrace } from './activations.js';
import type { Feature, FeatureName } from './features.js';

export interface RankedCell {
  layer: number;
  kind: StateKind;
  cell: number;
  r: number; // Pearson correlation with the feature, in [−1, 1]
}

export interface FeatureRanking {
  feature: FeatureName;
  description: string;
  best: RankedCell[]; // by |r|, largest first; empty when the feature is constant over the text
}

// A cell whose activation varies less than this (standard deviation) is taken as constant:
// its correlation would be rounding noise.
const MIN_STD = 1e-6;

export function rankCells(traces: readonly StateTrace[], features: readonly Feature[], top = 5): FeatureRanking[] {
  const cells: RankedCell[][] = features.map(() => []);
  for (const tr of traces) {
    const r = correlations(tr.values, features);
    const H = r[0]?.length ?? 0;
    for (let f = 0; f < features.length; f++) {
      for (let cell = 0; cell < H; cell++) cells[f].push({ layer: tr.layer, kind: tr.kind, cell, r: r[f][cell] });
    }
  }
  return features.map((feat, f) => ({
    feature: feat.name,
    description: feat.description,
    best: constant(feat.values) ? [] : cells[f].sort((a, b) => Math.abs(b.r) - Math.abs(a.r)).slice(0, top),
  }));
}

function constant(v: Float32Array): boolean {
  for (let i = 1; i < v.length; i++) if (v[i] !== v[0]) return false;
  return true;
}

/**
 * r[f][h] for activations [N, H] against each feature [N]: one pass over the activations,
 * row by row (they are row-major), accumulating in doubles Σa, Σa² and Σ(x_f − x̄_f)·a.
 */
export function correlations(values: Float32Array, features: readonly Feature[]): Float64Array[] {
  const F = features.length;
  const N = F > 0 ? features[0].values.length : 0;
  const H = N > 0 ? values.length / N : 0;
  if (!Number.isInteger(H)) throw new RangeError(`${values.length} activations do not divide into ${N} positions`);
  const centred = features.map((f) => {
    let mean = 0;
    for (let n = 0; n < N; n++) mean += f.values[n];
    mean /= N;
    return Float64Array.from(f.values, (x) => x - mean);
  });
  const featVar = centred.map((c) => c.reduce((s, x) => s + x * x, 0));
  const sum = new Float64Array(H), sq = new Float64Array(H);
  const cross = centred.map(() => new Float64Array(H));
  for (let n = 0; n < N; n++) {
    const o = n * H;
    for (let h = 0; h < H; h++) {
      const a = values[o + h];
      sum[h] += a;
      sq[h] += a * a;
    }
    for (let f = 0; f < F; f++) {
      const w = centred[f][n];
      if (w === 0) continue; // always, for a feature constant over the text
      const acc = cross[f];
      for (let h = 0; h < H; h++) acc[h] += w * values[o + h];
    }
  }
  return cross.map((acc, f) => {
    const r = new Float64Array(H);
    if (featVar[f] === 0) return r;
    for (let h = 0; h < H; h++) {
      const cellVar = sq[h] - (sum[h] * sum[h]) / N;
      if (!(cellVar > N * MIN_STD * MIN_STD)) continue;
      r[h] = Math.max(-1, Math.min(1, acc[h] / Math.sqrt(featVar[f] * cellVar)));
    }
    return r;
  });
}
