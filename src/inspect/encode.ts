// An inspection as plain JSON, for a page to show: web/app/viz-view.ts reads this format (and
// declares the same shape for itself, as it may import nothing). Activations are what the page
// colours by, quantised: h, and tanh(c) for an LSTM's cell state, both in [−1, 1], as signed
// bytes of LEVELS steps per unit, cell by cell (each cell's run over the text is contiguous,
// which deflates a third smaller than position by position); probabilities as unsigned bytes.
// Binary arrays travel as base64 of their bytes, optionally deflated: a 2×512 LSTM over 5,000
// characters has ten million activations, which this way take about 4.5 MB of page (a trained
// 2×128 LSTM's took 2.6 bits each after deflate).
import type { ModelConfig } from '../model/config.js';
import { symbolTexts, type Inspection, type StateKind } from './activations.js';
import type { FeatureRanking } from './ranking.js';

export const VIZ_FORMAT = 'charrnn-viz/1';

// Steps per unit of activation: 15 shades from −1 to +1. The page shows an activation as a
// colour's intensity, where more steps are hard to tell apart; each doubling of the steps costs
// about 0.8 bits per activation after deflate.
const LEVELS = 7;
const PROB_LEVELS = 255;

export interface PackedArray {
  type: 'int8' | 'uint8' | 'uint16'; // uint16 little-endian
  length: number;
  deflated: boolean; // zlib 'deflate' format (CompressionStream's), before base64
  base64: string;
}

export interface VizJSON {
  format: typeof VIZ_FORMAT;
  title: string;
  model: Pick<ModelConfig, 'model' | 'layers' | 'hidden'>;
  symbols: string[]; // each vocabulary id as text (symbolTexts)
  ids: PackedArray; // [N] the text, one id per position
  guesses: { k: number; ids: PackedArray; probs: PackedArray; scale: number }; // [N, k]; p = byte · scale
  // h, and tanh(c) for kind c: [hidden, N] (cell-major), value = byte · scale
  traces: { layer: number; kind: StateKind; scale: number; data: PackedArray }[];
  ranking: FeatureRanking[];
}

export interface EncodeOptions {
  title: string;
  deflate: boolean;
}

export async function encodeInspection(ins: Inspection, ranking: FeatureRanking[], opts: EncodeOptions): Promise<VizJSON> {
  const pack = (type: PackedArray['type'], bytes: Uint8Array<ArrayBuffer>, length: number): Promise<PackedArray> =>
    packBytes(type, bytes, length, opts.deflate);
  const wide = ins.vocab.size > 256;
  const idBytes = (ids: Int32Array): Uint8Array<ArrayBuffer> => (wide ? uint16le(ids) : Uint8Array.from(ids));
  const probs = Uint8Array.from(ins.guesses.probs, (p) => Math.round(p * PROB_LEVELS));
  const idType = wide ? 'uint16' : 'uint8';
  return {
    format: VIZ_FORMAT,
    title: opts.title,
    model: { model: ins.config.model, layers: ins.config.layers, hidden: ins.config.hidden },
    symbols: symbolTexts(ins.vocab),
    ids: await pack(idType, idBytes(ins.ids), ins.ids.length),
    guesses: {
      k: ins.guesses.k, scale: 1 / PROB_LEVELS,
      ids: await pack(idType, idBytes(ins.guesses.ids), ins.guesses.ids.length),
      probs: await pack('uint8', probs, probs.length),
    },
    traces: await Promise.all(ins.traces.map(async (tr) => ({
      layer: tr.layer, kind: tr.kind, scale: 1 / LEVELS,
      data: await pack('int8', quantise(tr.values, ins.ids.length, tr.kind === 'c'), tr.values.length),
    }))),
    ranking: ranking.map((f) => ({ ...f, best: f.best.map((c) => ({ ...c, r: Math.round(c.r * 1000) / 1000 })) })),
  };
}

// [N, H] position-major floats → [H, N] cell-major steps.
function quantise(values: Float32Array, N: number, squash: boolean): Uint8Array<ArrayBuffer> {
  const H = values.length / N;
  const q = new Int8Array(values.length);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      const v = squash ? Math.tanh(values[n * H + h]) : values[n * H + h];
      q[h * N + n] = Math.round(Math.max(-1, Math.min(1, v)) * LEVELS);
    }
  }
  return new Uint8Array(q.buffer);
}

function uint16le(ids: Int32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ids.length * 2);
  for (let i = 0; i < ids.length; i++) {
    out[2 * i] = ids[i] & 0xff;
    out[2 * i + 1] = ids[i] >>> 8;
  }
  return out;
}

async function packBytes(type: PackedArray['type'], bytes: Uint8Array<ArrayBuffer>, length: number, deflate: boolean): Promise<PackedArray> {
  const data = deflate ? await deflated(bytes) : bytes;
  return { type, length, deflated: deflate, base64: toBase64(data) };
}

async function deflated(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// btoa takes a binary string; built in slices, as one String.fromCharCode call with millions
// of arguments would overflow the stack.
function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const STEP = 0x8000;
  for (let i = 0; i < bytes.length; i += STEP) parts.push(String.fromCharCode(...bytes.subarray(i, i + STEP)));
  return btoa(parts.join(''));
}
