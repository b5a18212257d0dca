// Batch-1 sampling as one dispatch for many characters: every layer's step, the decoder, the
// softmax and the draw, for n characters in a row. Dispatching those kernels one by one costs
// about 4 µs of GPU time each and host time to record, and a character of a 2-layer LSTM needs
// nine of them; here a character costs one exchange between workgroups per layer instead.
//
// The workgroups split each layer's hidden units between them (every gate of a unit in one
// workgroup, which applies the cell) and stay resident for the whole dispatch. A unit's new h
// goes to the others through an exchange buffer, each f32 as two words of (16-bit tag, 16-bit
// half), written and read atomically: a reader waits until both words carry this step's tag.
// Words are tagged one by one, so no ordering between writes to different addresses is needed
// (WGSL has no fence between workgroups). Each layer has two slots, for even and odd steps:
// a workgroup writes step t+2 over step t only after reading all of step t+1, which every other
// workgroup wrote after it had read all of step t. Every workgroup computes the decoder and the
// draw itself, from the same values in the same order, so all draw the same id without another
// exchange.
//
// All workgroups must run at once: one that waits for another that has not started yet would
// wait for ever. The backend first probes the count (n = 0: each arrives, then waits for all),
// and every wait gives up after 2²⁰ polls (exchange.ts) and sets a flag the backend reads back
// with the draws: a miscount costs the stretch, run again step by step, not a hang.
import type { KernelDef } from '../program.js';
import { GRU_MATH_WGSL, LSTM_MATH_WGSL } from './cells.js';
import { DRAW_WGSL, reduceWgsl } from './loss.js';
import { cellGatesOf } from './step.js';
import { exchangeWgsl, probeWgsl } from './exchange.js';

export type SamplerCell = 'lstm' | 'gru' | 'rnn';

/** A network's shape and where each of its tensors starts in the parameter buffer. */
export interface SamplerShape {
  cell: SamplerCell;
  L: number; H: number; V: number; E: number; // E = 0: one-hot input
  wih: number[]; whh: number[]; bih: number[]; bhh: number[]; // per layer
  dec: number; decB: number; enc: number;
}

export const SAMPLER_WG = 256; // threads per workgroup
export const SAMPLER_UNITS = 256; // hidden units per workgroup at most: one thread applies each one's cell

/** Words of the exchange buffer: two slots of H values per layer, two words each, then the flags. */
export const exchangeWords = (s: SamplerShape): number => 4 * s.L * s.H + 2;
/** The word a wait sets when it gives up (the one after it counts the probe's arrivals). */
export const samplerFailWord = (s: SamplerShape): number => 4 * s.L * s.H;

// Lengths of the kernel's workgroup arrays that depend on the network: xv holds the widest
// input and h, pre (vec2f) a row per owned gate, cst the LSTM's owned cells of every layer.
function sharedLengths(s: SamplerShape): { xv: number; pre: number; cst: number } {
  const inMax = s.L > 1 ? Math.max(s.E, s.H) : s.E;
  return { xv: inMax + s.H, pre: cellGatesOf(s.cell) * SAMPLER_UNITS, cst: s.cell === 'lstm' ? s.L * SAMPLER_UNITS : 0 };
}

/** Bytes of workgroup memory the kernel declares. */
export function samplerSharedBytes(s: SamplerShape): number {
  const n = sharedLengths(s);
  return 4 * (n.xv + 2 * n.pre + n.cst + s.V + 3 * SAMPLER_WG + 1); // … + lg + red (vec2f) + reduceWgsl's tmp + cur
}

/** What makes one sampler kernel differ from another: the shape and the tensors' offsets. */
export function samplerKey(s: SamplerShape): string {
  return `sampler:${s.cell}:${s.L}:${s.H}:${s.V}:${s.E}:${[...s.wih, ...s.whh, ...s.bih, ...s.bhh, s.dec, s.decB, s.enc].join(',')}`;
}

export function samplerDef(s: SamplerShape): KernelDef {
  const { cell, L, H, V, E } = s, NT = SAMPLER_WG, n = sharedLengths(s);
  const fail = samplerFailWord(s), arrive = fail + 1;
  const layers = Array.from({ length: L }, (_, k) => layerCode(s, k, k === 0 ? E : H)).join('\n');
  const code = /* wgsl */ `
const NT: u32 = ${NT}u;
const H: u32 = ${H}u;
const V: u32 = ${V}u;
const E: u32 = ${E}u;
const UMAX: u32 = ${SAMPLER_UNITS}u;

var<workgroup> xv: array<f32, ${n.xv}>; // [input | h of the step before]
var<workgroup> pre: array<vec2f, ${n.pre}>; // per owned row: (input side, hidden side) with biases
${n.cst > 0 ? `var<workgroup> cst: array<f32, ${n.cst}>; // the cells of the owned units` : ''}
var<workgroup> lg: array<f32, ${V}>; // the logits, then their probabilities
var<workgroup> red: array<vec2f, ${NT}>; // the lanes' partial sums of a row
var<workgroup> cur: u32;
${exchangeWgsl(`a.oEx + ${fail}u`, 'a.spin')}

// lg holds the probabilities by the time of the draw.
fn prob(v: u32) -> f32 {
  return lg[v];
}
${DRAW_WGSL}

// xv[at + i] = slot's h[i] for every i, once written with the tag. A thread's words are all
// read before any is looked at, so that their round trips to memory overlap.
fn take(slot: u32, tag: u32, at: u32, t: u32) {
  let w0 = a.oEx + 2u * slot * H;
${takeCode(H)}
}

fn put(slot: u32, j: u32, tag: u32, v: f32) {
  exPut(a.oEx + 2u * (slot * H + j), tag, v);
}

// Σ_k w[k]·xv[x0 + k] over this lane's k (lane, lane + tpr, …), in four independent sums
// so that a thread has four loads in flight.
fn dotLane(w: u32, K: u32, x0: u32, lane: u32, tpr: u32) -> f32 {
  var acc0 = 0.0; var acc1 = 0.0; var acc2 = 0.0; var acc3 = 0.0;
  var k = lane;
  for (; k + 3u * tpr < K; k += 4u * tpr) {
    acc0 += $p[w + k] * xv[x0 + k];
    acc1 += $p[w + k + tpr] * xv[x0 + k + tpr];
    acc2 += $p[w + k + 2u * tpr] * xv[x0 + k + 2u * tpr];
    acc3 += $p[w + k + 3u * tpr] * xv[x0 + k + 3u * tpr];
  }
  for (; k < K; k += tpr) { acc0 += $p[w + k] * xv[x0 + k]; }
  return (acc0 + acc1) + (acc2 + acc3);
}

// Threads per row when R rows share the workgroup: a power of two, as many as fit.
fn lanesFor(R: u32) -> u32 {
  var tpr = 1u;
  while (tpr * 2u * R <= NT && tpr < 64u) { tpr *= 2u; }
  return tpr;
}

${reduceWgsl(NT)}
${cell === 'lstm' ? LSTM_MATH_WGSL : cell === 'gru' ? GRU_MATH_WGSL : ''}

@compute @workgroup_size(${NT})
fn main(@builtin(workgroup_id) wgid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  if (a.n == 0u) {
    // The probe: are all nwg workgroups resident at once?
${probeWgsl({ lead: 't == 0u', arrive: `a.oEx + ${arrive}u`, count: 'nwg.x', first: 'wgid.x == 0u', answer: '$drawn[a.oDrawn]', budget: 'a.spin' })}
  }
  let U = (H + nwg.x - 1u) / nwg.x; // units per workgroup: the backend makes every workgroup own some
  let u0 = wgid.x * U;
  ${cell === 'lstm' ? `if (t < U && u0 + t < H) {
    for (var k = 0u; k < ${L}u; k++) { cst[k * UMAX + t] = $c[a.oC + k * H + u0 + t]; }
  }` : ''}
  if (t == 0u) { cur = u32($ids[a.oIn]); }
  workgroupBarrier();
  for (var s = 0u; s < a.n; s++) {
    let step = a.base + s;
    let par = step & 1u;
    let tag = (step + 1u) & 0xffffu; // the first step's is not the 0 of a fresh exchange
    let prevTag = step & 0xffffu;
${layers}
    // The decoder, softmax and draw, in every workgroup alike.
    take(${2 * (L - 1)}u + par, tag, 0u, t);
    workgroupBarrier();
    let tprD = lanesFor(V);
    for (var r0 = 0u; r0 < V; r0 += NT / tprD) {
      let r = r0 + t / tprD;
      let lane = t % tprD;
      var acc = 0.0;
      if (r < V) { acc = dotLane(${s.dec}u + r * H, H, 0u, lane, tprD); }
      red[t] = vec2f(acc, 0.0);
      workgroupBarrier();
      if (lane == 0u && r < V) {
        var sum = 0.0;
        for (var q = 0u; q < tprD; q++) { sum += red[t + q].x; }
        lg[r] = sum + $p[${s.decB}u + r];
      }
      workgroupBarrier();
    }
    var m = -3.0e38;
    for (var v = t; v < V; v += NT) { m = max(m, lg[v]); }
    m = reduceMax(m, t);
    var e = 0.0;
    for (var v = t; v < V; v += NT) { e += exp((lg[v] - m) * a.invT); }
    e = reduceSum(e, t);
    for (var v = t; v < V; v += NT) { lg[v] = exp((lg[v] - m) * a.invT) * (1.0 / e); }
    workgroupBarrier();
    if (t == 0u) {
      let u = uniform01(a.seed, a.stream, a.index + s);
      let pick = drawId(u, V, a.topK, a.argmax != 0u);
      cur = pick;
      if (wgid.x == 0u) {
        $drawn[a.oDrawn + s] = select(f32(pick), -1.0, failed || atomicLoad(&$ex[a.oEx + ${fail}u]) != 0);
        if (s + 1u == a.n) { $ids[a.oOut] = i32(pick); }
      }
    }
    workgroupBarrier();
  }
}`;
  return {
    key: samplerKey(s),
    bufs: [{ name: 'p' }, { name: 'h', write: true }, { name: 'c', write: true }, { name: 'ids', int: true, write: true },
      { name: 'drawn', write: true }, { name: 'ex', int: true, write: true, atomic: true }],
    args: [['oH', 'u32'], ['oC', 'u32'], ['oIn', 'u32'], ['oOut', 'u32'], ['oDrawn', 'u32'], ['oEx', 'u32'], ['n', 'u32'],
      ['base', 'u32'], ['invT', 'f32'], ['topK', 'u32'], ['argmax', 'u32'], ['seed', 'u32'], ['stream', 'u32'], ['index', 'u32'], ['spin', 'u32']],
    code,
  };
}

// One layer's step for this workgroup's units: gather its input and previous h into xv, the
// gate rows' products into pre, then the cell, which publishes h (and at the last step
// leaves h and c in the state).
function layerCode(s: SamplerShape, k: number, In: number): string {
  const { cell, V, E } = s, G = cellGatesOf(cell);
  const input = k > 0 ? `take(${2 * (k - 1)}u + par, tag, 0u, t);`
    : E > 0 ? `for (var i = t; i < E; i += NT) { xv[i] = $p[${s.enc}u + cur * E + i]; }` : '';
  const inputDot = k === 0 && E === 0 ? '' : `ax = dotLane(${s.wih[k]}u + row * ${In}u, ${In}u, 0u, lane, tpr);`;
  const gather = k === 0 && E === 0 ? ` + $p[${s.wih[k]}u + row * ${V}u + cur]` : '';
  const cellCode = cell === 'lstm' ? `
        let q = lstmMath(pre[t].x + pre[t].y, pre[U + t].x + pre[U + t].y, pre[2u * U + t].x + pre[2u * U + t].y,
          pre[3u * U + t].x + pre[3u * U + t].y, cst[${k}u * UMAX + t]);
        cst[${k}u * UMAX + t] = q.c;
        let hv = q.h;
        if (s + 1u == a.n) { $c[a.oC + ${k}u * H + j] = q.c; }`
    : cell === 'gru' ? `
        let hv = gruMath(pre[t].x, pre[U + t].x, pre[2u * U + t].x, pre[t].y, pre[U + t].y, pre[2u * U + t].y,
          xv[${In}u + j]).h;`
      : `
        let hv = tanh_(pre[t].x + pre[t].y);`;
  return /* wgsl */ `
    {
      // layer ${k}
      ${input}
      if (s == 0u) {
        for (var i = t; i < H; i += NT) { xv[${In}u + i] = $h[a.oH + ${k}u * H + i]; }
      } else {
        take(${2 * k}u + 1u - par, prevTag, ${In}u, t);
      }
      workgroupBarrier();
      let R = ${G}u * U;
      let tpr = lanesFor(R);
      for (var r0 = 0u; r0 < R; r0 += NT / tpr) {
        let r = r0 + t / tpr;
        let lane = t % tpr;
        let g = r / U;
        let j = u0 + r - g * U;
        let row = g * H + j;
        var ax = 0.0;
        var ah = 0.0;
        if (r < R && j < H) {
          ${inputDot}
          ah = dotLane(${s.whh[k]}u + row * H, H, ${In}u, lane, tpr);
        }
        red[t] = vec2f(ax, ah);
        workgroupBarrier();
        if (lane == 0u && r < R && j < H) {
          var sum = vec2f(0.0);
          for (var q = 0u; q < tpr; q++) { sum += red[t + q]; }
          pre[r] = vec2f(sum.x + $p[${s.bih[k]}u + row]${gather}, sum.y + $p[${s.bhh[k]}u + row]);
        }
        workgroupBarrier();
      }
      if (t < U && u0 + t < H) {
        let j = u0 + t;${cellCode}
        put(${2 * k}u + par, j, tag, hv);
        if (s + 1u == a.n) { $h[a.oH + ${k}u * H + j] = hv; }
      }
      workgroupBarrier();
    }`;
}

// take()'s body for one thread: its values i = t, t + NT, … < H, each two words, all loaded
// first (a thread past the end reads the last value's words and drops them).
function takeCode(H: number): string {
  const per = Math.ceil(H / SAMPLER_WG), vs = Array.from({ length: per }, (_, v) => v);
  return [
    ...vs.map((v) => `  let i${v} = min(t + ${v * SAMPLER_WG}u, H - 1u);`),
    ...vs.map((v) => `  let lo${v} = bitcast<u32>(atomicLoad(&$ex[w0 + 2u * i${v}]));\n  let hi${v} = bitcast<u32>(atomicLoad(&$ex[w0 + 2u * i${v} + 1u]));`),
    ...vs.map((v) => `  if (t + ${v * SAMPLER_WG}u < H) {
    xv[at + i${v}] = exTake(lo${v}, hi${v}, w0 + 2u * i${v}, tag);
  }`),
  ].join('\n');
}
