// Sampling on the module: the draw of src/sample/sample.ts over rows of logits (drawRows), and
// batch-1 sampling of a whole network for many characters in one call (sampleLoop).
//
// sampleLoop splits every layer's hidden units between the threads, which meet at a barrier
// after each layer: a character then costs one pass over the weights and no trip through the
// host. Each thread computes the decoder, softmax and draw itself, from the same values in the
// same order, so all of them agree on the next input without meeting again. Every step is the
// arithmetic of the step-by-step path (the layers' fused steps, gemm's matrix-vector product,
// addBias, softmax and the host's draw), so both sample the same text.
import { gemmLd } from './gemm';
import { addBias } from './rows';
import { softmax } from './loss';
import { uniform } from './rng';
import { lstmStepOne, gruStepOne, rnnStepOne } from './steps';

// The network's description, i32 words written by the host (WasmBackend.samplerDescription).
const CELL = 0; // 0 LSTM, 1 GRU, 2 RNN
const LAYERS = 1;
const HIDDEN = 2;
const VOCAB = 3;
const EMBED = 4; // 0: one-hot input
const DEC = 5; // [V, H]
const DEC_B = 6; // [V]
const ENC = 7; // [V, E]
const STATE_H = 8; // [L, H]: the state going in and coming out
const STATE_C = 9; // [L, H], LSTM only
const ALT_H = 10; // [L, H]: h of odd steps (a step must not write the h that others still read)
const ACT = 11; // [4H]: gates, which the fused steps write for the backward
const HH = 12; // [3H]: GRU's recurrent products, likewise
const BARRIER = 13; // two words a cache line apart: arrivals, generation
const NET_WORDS = 16; // then per layer: wih, bih, whh, bhh

@inline function word(net: usize, i: i32): i32 { return load<i32>(net + (<usize>i << 2)); }
@inline function prob(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }

// Waits until all `parties` threads have arrived. The last to arrive resets the count before
// it moves the generation on, so a thread that sees the new generation finds the count at 0.
function barrier(b: usize, parties: i32): void {
  if (parties <= 1) return;
  const gen = atomic.load<i32>(b, 64);
  if (atomic.add<i32>(b, 1) == parties - 1) {
    atomic.store<i32>(b, 0);
    atomic.store<i32>(b, gen + 1, 64);
  } else {
    while (atomic.load<i32>(b, 64) == gen) { /* spin: the others are a layer step away */ }
  }
}

// Bytes of scratch per thread: logits, probabilities, top-k marks and order, the drawn id.
export function drawScratchBytes(V: i32): i32 {
  return ((4 * V + 1 + 15) & ~15) << 2;
}

// The id that src/sample/sample.ts picks from probs[V] with the uniform u, in its f64
// arithmetic: argmax, the inverse CDF over the k most probable ids (ordered by probability,
// ties by id) or over all of them.
function drawRow(probs: usize, V: i32, topK: i32, argmax: bool, u: f64, marks: usize, order: usize): i32 {
  if (argmax) {
    let best = 0;
    for (let i = 1; i < V; i++) if (prob(probs, i) > prob(probs, best)) best = i;
    return best;
  }
  if (topK > 0 && topK < V) {
    memory.fill(marks, 0, <usize>V << 2);
    let total = 0.0;
    for (let k = 0; k < topK; k++) {
      let best = -1;
      for (let i = 0; i < V; i++) {
        if (load<i32>(marks + (<usize>i << 2)) == 0 && (best < 0 || prob(probs, i) > prob(probs, best))) best = i;
      }
      store<i32>(marks + (<usize>best << 2), 1);
      store<i32>(order + (<usize>k << 2), best);
      total += prob(probs, best);
    }
    let acc = 0.0;
    for (let k = 0; k < topK; k++) {
      const id = load<i32>(order + (<usize>k << 2));
      acc += prob(probs, id) / total;
      if (u < acc) return id;
    }
    return load<i32>(order + (<usize>(topK - 1) << 2));
  }
  let acc = 0.0;
  for (let i = 0; i < V; i++) {
    acc += prob(probs, i);
    if (u < acc) return i;
  }
  for (let i = V - 1; i > 0; i--) if (prob(probs, i) > 0) return i; // rounding left u above the sum
  return 0;
}

// softmax(logits/temperature) in the scratch, then the draw with uniform(seed, stream, index).
@inline function drawFrom(logits: usize, V: i32, temperature: f64, topK: i32, argmax: bool,
  seed: u32, stream: u32, index: u32, scratch: usize): i32 {
  const row = <usize>V << 2, probs = scratch + row;
  softmax(logits, probs, 1, V, temperature);
  return drawRow(probs, V, topK, argmax, uniform(seed, stream, index), probs + row, probs + 2 * row);
}

// ids[n] (i32) and drawn[n] (f32) = the id drawn from row n of logits[N,V] with
// uniform(seed, stream, index + n).
export function drawRows(logits: usize, ids: usize, drawn: usize, N: i32, V: i32, temperature: f64, topK: i32,
  argmax: i32, seed: u32, stream: u32, index: u32, scratch: usize): void {
  for (let n = 0; n < N; n++) {
    const id = drawFrom(logits + (<usize>(n * V) << 2), V, temperature, topK, argmax != 0, seed, stream, index + n, scratch);
    store<i32>(ids + (<usize>n << 2), id);
    store<f32>(drawn + (<usize>n << 2), <f32>id);
  }
}

// One thread's part of n characters of batch-1 sampling, on hidden units [j0, j0+units) of
// every layer, `parties` threads in all; the thread with j0 = 0 writes drawn[n] (f32) and
// last[0] (i32). The first input is first[0]; step s draws with uniform(seed, stream, index + s).
export function sampleLoop(net: usize, first: usize, last: usize, drawn: usize, n: i32, temperature: f64, topK: i32,
  argmax: i32, seed: u32, stream: u32, index: u32, parties: i32, j0: i32, units: i32, scratch: usize): void {
  const cell = word(net, CELL), L = word(net, LAYERS), H = word(net, HIDDEN), V = word(net, VOCAB), E = word(net, EMBED);
  const stateH = <usize>word(net, STATE_H), stateC = <usize>word(net, STATE_C), alt = <usize>word(net, ALT_H);
  const act = <usize>word(net, ACT), hh = <usize>word(net, HH), bar = <usize>word(net, BARRIER);
  const enc = <usize>word(net, ENC), rowH = <usize>H << 2;
  const idAt = scratch + (<usize>(4 * V) << 2);
  let id = load<i32>(first);
  for (let s = 0; s < n; s++) {
    store<i32>(idAt, id);
    // Even steps read h from the state and write it to alt; odd steps the other way.
    const hPrevAt = (s & 1) == 0 ? stateH : alt, hAt = (s & 1) == 0 ? alt : stateH;
    for (let l = 0; l < L; l++) {
      const w = net + (<usize>(NET_WORDS + 4 * l) << 2);
      const wih = <usize>load<i32>(w), bih = <usize>load<i32>(w, 4), whh = <usize>load<i32>(w, 8), bhh = <usize>load<i32>(w, 12);
      const hPrev = hPrevAt + <usize>l * rowH, h = hAt + <usize>l * rowH;
      let x = idAt, hot = 1, In = V;
      if (l > 0) { x = h - rowH; hot = 0; In = H; }
      else if (E > 0) { x = enc + (<usize>(id * E) << 2); hot = 0; In = E; }
      if (cell == 0) {
        const c = stateC + <usize>l * rowH;
        lstmStepOne(x, hot, In, wih, bih, whh, bhh, hPrev, c, act, c, h, H, j0, units);
      } else if (cell == 1) {
        gruStepOne(x, hot, In, wih, bih, whh, bhh, hPrev, act, hh, h, H, j0, units);
      } else {
        rnnStepOne(x, hot, In, wih, bih, whh, bhh, hPrev, h, H, j0, units);
      }
      barrier(bar, parties);
    }
    const logits = scratch;
    gemmLd(0, 1, 1, V, H, 1, hAt + <usize>(L - 1) * rowH, H, <usize>word(net, DEC), H, 0, logits, V, 0);
    addBias(logits, <usize>word(net, DEC_B), 1, V);
    id = drawFrom(logits, V, temperature, topK, argmax != 0, seed, stream, index + <u32>s, scratch);
    if (j0 == 0) store<f32>(drawn + (<usize>s << 2), <f32>id);
  }
  if (j0 == 0) store<i32>(last, id);
  // After an odd number of steps h is in alt: each thread moves its own units back.
  if ((n & 1) != 0) {
    for (let l = 0; l < L; l++) {
      const o = <usize>l * rowH + (<usize>j0 << 2);
      memory.copy(stateH + o, alt + o, <usize>units << 2);
    }
  }
}
