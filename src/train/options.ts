// Training settings with char-rnn's defaults, and their validation: a value out of range
// is the user's mistake and gets one clear line.
import { UserError } from '../errors.js';

export type OptimizerName = 'rmsprop' | 'adam' | 'adagrad';

export interface TrainOptions {
  batch: number;
  seq: number;
  optimizer: OptimizerName;
  lr: number;
  decay: number; // RMSprop's moving-average rate (char-rnn's decay_rate), below 1
  lrDecay: number; // learning rate × lrDecay after each epoch ≥ lrDecayAfter
  lrDecayAfter: number;
  gradClip: number; // elementwise clamp as char-rnn's (see the loop); 0 = off
  clipNorm: number; // global-norm clipping instead when > 0
  epochs: number;
  maxIters: number; // 0 = no limit
  maxTime: number; // seconds, 0 = no limit
  evalEvery: number; // iterations
  sampleEvery: number; // iterations, 0 = never
  sampleLength: number;
  sampleTemperature: number;
  seed: number;
}

export const defaultTrainOptions: TrainOptions = {
  batch: 50, seq: 50, optimizer: 'rmsprop', lr: 2e-3, decay: 0.95, lrDecay: 0.97, lrDecayAfter: 10,
  gradClip: 5, clipNorm: 0, epochs: 50, maxIters: 0, maxTime: 0, evalEvery: 1000,
  sampleEvery: 0, sampleLength: 200, sampleTemperature: 1, seed: 123,
};

export function checkTrainOptions(o: TrainOptions): TrainOptions {
  const int = (flag: string, v: number, lo: number, hi = 2 ** 31 - 1): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new UserError(`--${flag} must be an integer from ${lo} to ${hi}, got ${v}`);
  };
  const num = (flag: string, v: number, lo: number, hi: number, loOpen = false): void => {
    if (!Number.isFinite(v) || v < lo || v > hi || (loOpen && v === lo)) {
      throw new UserError(`--${flag} must be ${loOpen ? 'above' : 'at least'} ${lo} and at most ${hi}, got ${v}`);
    }
  };
  int('batch', o.batch, 1, 65536);
  int('seq', o.seq, 1, 65536);
  if (!['rmsprop', 'adam', 'adagrad'].includes(o.optimizer)) {
    throw new UserError(`unknown optimizer "${o.optimizer}" (choose rmsprop, adam or adagrad)`);
  }
  num('lr', o.lr, 0, 10, true);
  if (!(o.decay >= 0 && o.decay < 1)) throw new UserError(`--decay must be in [0, 1), got ${o.decay}`);
  num('lr-decay', o.lrDecay, 0, 1, true);
  num('lr-decay-after', o.lrDecayAfter, 0, 1e9);
  num('grad-clip', o.gradClip, 0, 1e9);
  num('clip-norm', o.clipNorm, 0, 1e9);
  num('epochs', o.epochs, 0, 1e9, true);
  int('max-iters', o.maxIters, 0);
  num('max-time', o.maxTime, 0, 1e9);
  int('eval-every', o.evalEvery, 1);
  int('sample-every', o.sampleEvery, 0);
  int('sample-length', o.sampleLength, 1, 1e7);
  num('sample-temperature', o.sampleTemperature, 0, 100, true);
  int('seed', o.seed, 0, 2 ** 32 - 1);
  return o;
}
