// What defines a model: the cell type and sizes. Training settings live in train/.
import { UserError } from '../errors.js';

export type CellType = 'lstm' | 'gru' | 'rnn';

export interface ModelConfig {
  model: CellType;
  layers: number;
  hidden: number;
  embedding: number; // 0 = one-hot input, as char-rnn
  dropout: number; // on each layer's output, training only
}

export const defaultModelConfig: ModelConfig = { model: 'lstm', layers: 2, hidden: 128, embedding: 0, dropout: 0 };

/** Gates per cell: the row blocks of weight_ih / weight_hh. */
export function gatesOf(model: CellType): number {
  return model === 'lstm' ? 4 : model === 'gru' ? 3 : 1;
}

export function checkModelConfig(c: ModelConfig): ModelConfig {
  if (c.model !== 'lstm' && c.model !== 'gru' && c.model !== 'rnn') {
    throw new UserError(`unknown model type "${String(c.model)}" (choose lstm, gru or rnn)`);
  }
  const int = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`--${name} must be an integer from ${lo} to ${hi}, got ${v}`);
  };
  int('layers', c.layers, 1, 64);
  int('hidden', c.hidden, 1, 16384);
  int('embedding', c.embedding, 0, 16384);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new UserError(`--dropout must be in [0, 1), got ${c.dropout}`);
  return c;
}
