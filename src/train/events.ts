// The training run as a stream of typed events: the CLI, the web app and the tests
// all consume this one stream.
import type { ModelConfig } from '../model/config.js';
import type { TrainOptions } from './options.js';

export type StopReason = 'epochs' | 'max-iters' | 'max-time' | 'interrupted' | 'diverged';

export type TrainEvent =
  | { type: 'start'; config: ModelConfig; options: TrainOptions; params: number; vocab: number;
      itersPerEpoch: number; totalIters: number; iter: number; backend: string }
  | { type: 'iteration'; iter: number; epoch: number; loss: number; lr: number; gradNorm: number;
      charsPerSec: number; elapsed: number; eta: number }
  | { type: 'eval'; iter: number; epoch: number; valLoss: number; bpc: number; chars: number }
  | { type: 'sample'; iter: number; text: string; temperature: number }
  | { type: 'checkpoint'; iter: number; path: string }
  | { type: 'done'; iter: number; epoch: number; reason: StopReason; message: string;
      bestValLoss: number | null; elapsed: number };
