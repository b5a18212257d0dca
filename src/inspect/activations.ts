// What a model does while it reads a text: per character, every layer's hidden state (and, for
// LSTM, its cell state) and the model's most likely guesses for the next character. The text is
// read from a zero state in fixed-size chunks, the state carried between them, so memory on the
// backend stays bounded however long the text is.
import { sub } from '../backend/backend.js';
import { redoLostWork, UserError } from '../errors.js';
import type { CharLM } from '../model/charlm.js';
import type { ModelConfig } from '../model/config.js';
import type { Vocab } from '../text/vocab.js';

export type StateKind = 'h' | 'c';

/** One layer's h or c over the whole text: values [N, H], row n = the state after reading position n. */
export interface StateTrace {
  layer: number;
  kind: StateKind;
  values: Float32Array;
}

export interface Inspection {
  config: ModelConfig;
  vocab: Vocab;
  ids: Int32Array; // [N], one id per position (a character, or a byte in a byte vocabulary)
  traces: StateTrace[]; // per layer: h, then c for LSTM
  // The k most probable next symbols after each position, most probable first (softmax of the
  // logits at temperature 1): ids and probabilities, [N, k] each.
  guesses: { k: number; ids: Int32Array; probs: Float32Array };
}

export interface InspectOptions {
  chunk: number; // positions per forward pass
  topK: number; // guesses kept per position
}

export const defaultInspectOptions: InspectOptions = { chunk: 128, topK: 5 };

/** Reads `text` with `model` (see inspectIds); characters outside the vocabulary are a UserError naming them. */
export async function inspectText(model: CharLM, vocab: Vocab, text: string, opts: Partial<InspectOptions> = {}): Promise<Inspection> {
  if (text.length === 0) throw new UserError('the text to inspect is empty');
  const unit = vocab.kind === 'bytes' ? 'bytes' : 'characters';
  return inspectIds(model, vocab, vocab.encode(text, `the text has ${unit} the model never saw`), opts);
}

export async function inspectIds(model: CharLM, vocab: Vocab, ids: Int32Array, opts: Partial<InspectOptions> = {}): Promise<Inspection> {
  const { chunk, topK } = { ...defaultInspectOptions, ...opts };
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  if (vocab.size !== model.vocabSize) throw new RangeError(`vocabulary of ${vocab.size} for a model of ${model.vocabSize}`);
  const N = ids.length, V = model.vocabSize, { layers: L, hidden: H, model: cell } = model.config;
  const k = Math.min(topK, V);
  const traces: StateTrace[] = [];
  for (let layer = 0; layer < L; layer++) {
    traces.push({ layer, kind: 'h', values: new Float32Array(N * H) });
    if (cell === 'lstm') traces.push({ layer, kind: 'c', values: new Float32Array(N * H) });
  }
  const guesses = { k, ids: new Int32Array(N * k), probs: new Float32Array(N * k) };
  const be = model.backend;
  const state = model.scratchState('inspect', 1);
  for (let start = 0; start < N; start += chunk) {
    const T = Math.min(chunk, N - start);
    const [probs, ...values] = await redoLostWork(() => {
      const logits = model.logits(ids.subarray(start, start + T), T, 1, state);
      const states = model.layerStates();
      const probsBuf = sub(model.scratch('inspect-probs', chunk * V), 0, T * V);
      be.softmax(logits, probsBuf, T, V, 1);
      // All of a chunk's reads at once: on a GPU each is a round trip, and they need not queue.
      return Promise.all([be.download(probsBuf), ...traces.map((tr) => {
        const s = states[tr.layer][tr.kind];
        if (!s) throw new Error(`layer ${tr.layer} has no ${tr.kind} state`);
        return be.download(s);
      })]);
    }, () => model.rewind(state));
    traces.forEach((tr, i) => tr.values.set(values[i], start * H));
    topOf(probs, T, V, k, guesses, start);
  }
  return { config: model.config, vocab, ids, traces, guesses };
}

// The k largest of each row of probs [T, V], by insertion into a short sorted list: k is tiny,
// so this beats sorting V entries per position.
function topOf(probs: Float32Array, T: number, V: number, k: number, out: Inspection['guesses'], start: number): void {
  for (let t = 0; t < T; t++) {
    const o = (start + t) * k;
    let filled = 0;
    for (let v = 0; v < V; v++) {
      const p = probs[t * V + v];
      if (filled === k && p <= out.probs[o + k - 1]) continue;
      let j = filled < k ? filled++ : k - 1;
      while (j > 0 && out.probs[o + j - 1] < p) {
        out.probs[o + j] = out.probs[o + j - 1];
        out.ids[o + j] = out.ids[o + j - 1];
        j--;
      }
      out.probs[o + j] = p;
      out.ids[o + j] = v;
    }
  }
}

/**
 * Each vocabulary symbol as text: a character, or for a byte vocabulary an ASCII byte as its
 * character and any other byte (a piece of a multi-byte character) as U+FFFD.
 */
export function symbolTexts(vocab: Vocab): string[] {
  return vocab.symbols.map((s) => (vocab.kind === 'bytes' && s.charCodeAt(0) >= 0x80 ? '\uFFFD' : s));
}

/** The symbol at each position, as symbolTexts shows it. */
export function positionSymbols(ins: Pick<Inspection, 'vocab' | 'ids'>): string[] {
  const texts = symbolTexts(ins.vocab);
  return Array.from(ins.ids, (id) => texts[id]);
}
