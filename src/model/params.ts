// The flat parameter layout: every tensor under its PyTorch name at an offset of one buffer,
// so the optimiser, clipping and norms are one pass each and checkpoints load into torch.nn.
import { gatesOf, type ModelConfig } from './config.js';
import { uniform, Stream } from '../backend/rng.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface ParamLayout {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  total: number;
}

export function paramLayout(c: ModelConfig, vocab: number): ParamLayout {
  const specs: ParamSpec[] = [];
  let total = 0;
  const add = (name: string, shape: number[]): void => {
    const length = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset: total, length });
    total += length;
  };
  const G = gatesOf(c.model) * c.hidden;
  if (c.embedding > 0) add('encoder.weight', [vocab, c.embedding]);
  for (let k = 0; k < c.layers; k++) {
    const inputSize = k > 0 ? c.hidden : c.embedding > 0 ? c.embedding : vocab;
    add(`rnn.weight_ih_l${k}`, [G, inputSize]);
    add(`rnn.weight_hh_l${k}`, [G, c.hidden]);
    add(`rnn.bias_ih_l${k}`, [G]);
    add(`rnn.bias_hh_l${k}`, [G]);
  }
  add('decoder.weight', [vocab, c.hidden]);
  add('decoder.bias', [vocab]);
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total };
}

/** char-rnn's initialisation: uniform(−0.08, 0.08), LSTM forget-gate input bias 1. */
export function initParams(c: ModelConfig, layout: ParamLayout, seed: number): Float32Array {
  const p = new Float32Array(layout.total);
  for (let i = 0; i < p.length; i++) p[i] = (uniform(seed, Stream.init, i) * 2 - 1) * 0.08;
  if (c.model === 'lstm') {
    for (let k = 0; k < c.layers; k++) {
      const b = layout.byName.get(`rnn.bias_ih_l${k}`)!;
      p.fill(1, b.offset + c.hidden, b.offset + 2 * c.hidden);
    }
  }
  return p;
}
