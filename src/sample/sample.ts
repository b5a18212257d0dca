// Sampling, as char-rnn's sample.lua: prime the state with the given text, then draw
// one character at a time from softmax(logits / temperature), optionally restricted to
// the k most likely or taken greedily; `count` streams are sampled side by side.
import { sub, type Slice } from '../backend/backend.js';
import { uniform, Stream } from '../backend/rng.js';
import { redoLostWork, UserError } from '../errors.js';
import type { CharLM } from '../model/charlm.js';
import type { Vocab } from '../text/vocab.js';
import { sampleOnDevice } from './device.js';

export interface SampleOptions {
  length: number; // characters to generate after the prime text
  temperature: number;
  prime: string;
  argmax: boolean;
  topK: number; // 0 = all
  seed: number;
  count: number; // streams sampled in parallel
}

export const defaultSampleOptions: SampleOptions = {
  length: 2000, temperature: 1, prime: '', argmax: false, topK: 0, seed: 123, count: 1,
};

export function checkSampleOptions(o: SampleOptions, vocabSize: number): SampleOptions {
  if (!Number.isInteger(o.length) || o.length < 0 || o.length > 1e8) throw new UserError(`--length must be an integer from 0 to 100000000, got ${o.length}`);
  if (!(o.temperature > 0 && o.temperature <= 100)) throw new UserError(`--temperature must be above 0 and at most 100, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new UserError(`--top-k must be a non-negative integer, got ${o.topK}`);
  if (o.topK > vocabSize) throw new UserError(`--top-k ${o.topK} is larger than the vocabulary (${vocabSize} symbols)`);
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 4096) throw new UserError(`--count must be an integer from 1 to 4096, got ${o.count}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1) throw new UserError(`--seed must be an integer from 0 to 4294967295, got ${o.seed}`);
  return o;
}

/**
 * Yields, per step, one id for each stream: first the prime text's ids, then `length`
 * sampled ids (without a prime, the first of them is drawn uniformly, as char-rnn does).
 * The yielded array is reused: it holds this step's ids until the next step. The state is
 * the model's sampling scratch, so run one sampler per model at a time.
 */
export async function* sampleIds(model: CharLM, vocab: Vocab, opts: Partial<SampleOptions> = {}): AsyncGenerator<Int32Array> {
  const o = checkSampleOptions({ ...defaultSampleOptions, ...opts }, vocab.size);
  const be = model.backend, V = model.vocabSize, B = o.count;
  const primeIds = o.prime ? vocab.encode(o.prime, 'prime text has characters the model never saw') : null;
  const state = model.scratchState('sample', B);
  let draws = 0;
  const cur = new Int32Array(B);

  if (primeIds) {
    for (const id of primeIds) yield cur.fill(id);
    if (primeIds.length > 1) {
      const n = primeIds.length - 1;
      const seq = new Int32Array(n * B);
      for (let t = 0; t < n; t++) seq.fill(primeIds[t], t * B, (t + 1) * B);
      // Only the state matters; it is read once so that work the backend lost is redone here.
      await redoLostWork(() => {
        model.logits(seq, n, B, state);
        return be.download(sub(state.h, 0, 1));
      }, () => model.rewind(state));
    }
    cur.fill(primeIds[primeIds.length - 1]);
  } else if (o.length > 0) {
    for (let b = 0; b < B; b++) cur[b] = Math.min(V - 1, Math.floor(uniform(o.seed, Stream.sample, draws++) * V));
    yield cur;
  }
  const steps = primeIds ? o.length : o.length - 1;
  if (be.drawRows && steps > 0) {
    yield* sampleOnDevice(model, state, cur, steps, { temperature: o.temperature, topK: o.topK, argmax: o.argmax, seed: o.seed, stream: Stream.sample, index: draws });
    return;
  }
  const probsBuf: Slice = model.scratch('probs', B * V);
  const order = new Int32Array(V);
  for (let step = 0; step < steps; step++) {
    const logits = model.logits(cur, 1, B, state);
    be.softmax(logits, probsBuf, B, V, o.temperature);
    const probs = await be.download(probsBuf);
    for (let b = 0; b < B; b++) {
      cur[b] = o.argmax ? argmax(probs, b * V, V) : draw(probs, b * V, V, o.topK, uniform(o.seed, Stream.sample, draws++), order);
    }
    yield cur;
  }
}

/** The whole sample of one stream as text (prime included). */
export async function sampleText(model: CharLM, vocab: Vocab, opts: Partial<SampleOptions> = {}): Promise<string> {
  return (await sampleTexts(model, vocab, { ...opts, count: 1 }))[0];
}

export async function sampleTexts(model: CharLM, vocab: Vocab, opts: Partial<SampleOptions> = {}): Promise<string[]> {
  const count = opts.count ?? 1;
  const decoders = Array.from({ length: count }, () => vocab.decoder());
  const out: string[] = new Array<string>(count).fill('');
  for await (const ids of sampleIds(model, vocab, opts)) {
    for (let b = 0; b < count; b++) out[b] += decoders[b].push(ids[b]);
  }
  return out.map((s, b) => s + decoders[b].end());
}

// The most probable id in the row p[o .. o+V).
function argmax(p: Float32Array, o: number, V: number): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (p[o + i] > p[o + best]) best = i;
  return best;
}

// Inverse-CDF draw from the row p[o .. o+V); with topK, only over the k most probable ids
// (renormalised).
function draw(p: Float32Array, o: number, V: number, topK: number, u: number, order: Int32Array): number {
  if (topK > 0 && topK < V) {
    for (let i = 0; i < V; i++) order[i] = i;
    order.sort((a, b) => p[o + b] - p[o + a] || a - b);
    let total = 0;
    for (let k = 0; k < topK; k++) total += p[o + order[k]];
    let acc = 0;
    for (let k = 0; k < topK; k++) {
      acc += p[o + order[k]] / total;
      if (u < acc) return order[k];
    }
    return order[topK - 1];
  }
  let acc = 0;
  for (let i = 0; i < V; i++) {
    acc += p[o + i];
    if (u < acc) return i;
  }
  for (let i = V - 1; i > 0; i--) if (p[o + i] > 0) return i; // rounding left u above the sum
  return 0;
}
