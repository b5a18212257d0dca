// Row-wise softmax kernels: one workgroup per row (rows beyond the grid loop), its threads
// striding over the vocabulary, with max and sum reduced in shared memory.
import type { KernelDef } from '../program.js';

const ROW_WG = 64;

/** Max and sum over a workgroup of `threads` threads (a power of two) through tmp[]. */
export function reduceWgsl(threads: number): string {
  return /* wgsl */ `
var<workgroup> tmp: array<f32, ${threads}>;

fn reduceMax(x: f32, l: u32) -> f32 {
  tmp[l] = x;
  workgroupBarrier();
  for (var s = ${threads / 2}u; s > 0u; s >>= 1u) {
    if (l < s) { tmp[l] = max(tmp[l], tmp[l + s]); }
    workgroupBarrier();
  }
  let r = tmp[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(x: f32, l: u32) -> f32 {
  tmp[l] = x;
  workgroupBarrier();
  for (var s = ${threads / 2}u; s > 0u; s >>= 1u) {
    if (l < s) { tmp[l] = tmp[l] + tmp[l + s]; }
    workgroupBarrier();
  }
  let r = tmp[0];
  workgroupBarrier();
  return r;
}`;
}

// Reductions over a row of V values held in $logits at `row`.
const ROW_REDUCE = reduceWgsl(ROW_WG) + /* wgsl */ `

// The row's maximum and Σ exp((x − max)·invT).
fn rowStats(row: u32, V: u32, invT: f32, l: u32) -> vec2f {
  var m = -3.0e38;
  for (var v = l; v < V; v += ${ROW_WG}u) { m = max(m, $logits[row + v]); }
  m = reduceMax(m, l);
  var s = 0.0;
  for (var v = l; v < V; v += ${ROW_WG}u) { s += exp(($logits[row + v] - m) * invT); }
  return vec2f(m, reduceSum(s, l));
}`;

// losses[n] = log Σ exp(x − max) − (x[y] − max); dlogits = softmax·gradScale − gradScale at y.
export const softmaxXent: KernelDef = {
  key: 'softmaxXent',
  bufs: [{ name: 'logits' }, { name: 'targets', int: true }, { name: 'losses', write: true }, { name: 'dlogits', write: true }],
  args: [['oL', 'u32'], ['oT', 'u32'], ['oLs', 'u32'], ['oD', 'u32'], ['N', 'u32'], ['V', 'u32'], ['gradScale', 'f32']],
  code: ROW_REDUCE + /* wgsl */ `
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) l: u32) {
  for (var n = wg.x; n < a.N; n += nwg.x) {
    let row = a.oL + n * a.V;
    let st = rowStats(row, a.V, 1.0, l);
    let y = u32($targets[a.oT + n]);
    let inv = a.gradScale / st.y;
    for (var v = l; v < a.V; v += ${ROW_WG}u) {
      let g = exp($logits[row + v] - st.x) * inv;
      $dlogits[a.oD + n * a.V + v] = select(g, g - a.gradScale, v == y);
    }
    if (l == 0u) { $losses[a.oLs + n] = log(st.y) - ($logits[row + y] - st.x); }
  }
}`,
};

// probs[n] = softmax(logits[n] / temperature)
export const softmax: KernelDef = {
  key: 'softmax',
  bufs: [{ name: 'logits' }, { name: 'probs', write: true }],
  args: [['oL', 'u32'], ['oP', 'u32'], ['N', 'u32'], ['V', 'u32'], ['invT', 'f32']],
  code: ROW_REDUCE + /* wgsl */ `
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) l: u32) {
  for (var n = wg.x; n < a.N; n += nwg.x) {
    let row = a.oL + n * a.V;
    let st = rowStats(row, a.V, a.invT, l);
    let inv = 1.0 / st.y;
    for (var v = l; v < a.V; v += ${ROW_WG}u) {
      $probs[a.oP + n * a.V + v] = exp(($logits[row + v] - st.x) * a.invT) * inv;
    }
  }
}`,
};

// The draw of one row, as the host sampler (../../../sample/sample.ts) draws from softmax
// probabilities: inverse CDF in id order; with topK, over the k most probable ids (ties to
// the lower id) in order of probability, renormalised; with argmax, the first most probable
// id. The kernel that includes it defines prob(v), the probability of id v of the row. The
// ordered walks are sequential (one thread): a row is one vocabulary, and the next step
// cannot start before it anyway.
export const DRAW_WGSL = /* wgsl */ `
// Whether (p, v) comes after (q, w) in the order of decreasing probability, ties by id.
fn after(p: f32, v: u32, q: f32, w: u32) -> bool {
  return p < q || (p == q && v > w);
}

// The first id after (q, w) in that order: the most probable of those that come after it.
fn nextAfter(q: f32, w: u32, V: u32) -> u32 {
  var best = V;
  var bp = 0.0;
  for (var v = 0u; v < V; v++) {
    let p = prob(v);
    if (after(p, v, q, w) && (best == V || after(bp, best, p, v))) { best = v; bp = p; }
  }
  return best;
}

fn drawId(u: f32, V: u32, topK: u32, argmax: bool) -> u32 {
  if (argmax) { return nextAfter(2.0, 0u, V); }
  if (topK > 0u && topK < V) {
    var q = 2.0; var w = 0u; var total = 0.0;
    for (var k = 0u; k < topK; k++) {
      w = nextAfter(q, w, V); q = prob(w); total += q;
    }
    q = 2.0; w = 0u;
    var acc = 0.0;
    for (var k = 0u; k < topK; k++) {
      w = nextAfter(q, w, V); q = prob(w);
      acc += q / total;
      if (u < acc) { break; }
    }
    return w;
  }
  var acc = 0.0;
  for (var v = 0u; v < V; v++) {
    acc += prob(v);
    if (u < acc) { return v; }
  }
  // Rounding left u above the sum: the last id with a probability, as the host does.
  for (var v = V - 1u; v > 0u; v--) { if (prob(v) > 0.0) { return v; } }
  return 0u;
}`;

// One draw per row with u = uniform(seed, stream, index + n), as DRAW_WGSL says.
export const drawRows: KernelDef = {
  key: 'drawRows',
  bufs: [{ name: 'logits' }, { name: 'ids', int: true, write: true }, { name: 'drawn', write: true }],
  args: [['oL', 'u32'], ['oIds', 'u32'], ['oDrawn', 'u32'], ['N', 'u32'], ['V', 'u32'], ['invT', 'f32'],
    ['topK', 'u32'], ['argmax', 'u32'], ['seed', 'u32'], ['stream', 'u32'], ['index', 'u32']],
  code: ROW_REDUCE + /* wgsl */ `
var<private> rowAt: u32;
var<private> st: vec2f;

// The probability of v, as the softmax kernel computes it.
fn prob(v: u32) -> f32 {
  return exp(($logits[rowAt + v] - st.x) * a.invT) * (1.0 / st.y);
}
${DRAW_WGSL}

@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) l: u32) {
  for (var n = wg.x; n < a.N; n += nwg.x) {
    let row = a.oL + n * a.V;
    let stats = rowStats(row, a.V, a.invT, l);
    if (l == 0u) {
      rowAt = row;
      st = stats;
      let u = uniform01(a.seed, a.stream, a.index + n);
      let pick = drawId(u, a.V, a.topK, a.argmax != 0u);
      $ids[a.oIds + n] = i32(pick);
      $drawn[a.oDrawn + n] = f32(pick);
    }
  }
}`,
};
