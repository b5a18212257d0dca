// What the training page and its worker say to each other.
import type { TrainEvent } from '../../src/index.js';

export type ModelSize = 'tiny' | 'small' | 'medium';

export type ToWorker =
  | { type: 'start'; text: string; size: ModelSize; source: string }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'download' };

export type FromWorker =
  | { type: 'ready'; threads: number; note: string | null }
  | { type: 'event'; event: TrainEvent }
  | { type: 'checkpoint'; name: string; bytes: Uint8Array<ArrayBuffer> }
  | { type: 'error'; message: string };
