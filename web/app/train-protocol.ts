// What the training page and its worker say to each other.
import type { TrainEvent } from '../../src/index.js';
import type { EngineRequest } from './engine-choice.js';

export type ModelSize = 'tiny' | 'small' | 'medium';

export type ToWorker =
  | { type: 'start'; text: string; size: ModelSize; source: string; engine: EngineRequest }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'download' };

export type FromWorker =
  // `where`: what the engine runs on, "2 threads" or the GPU's name.
  | { type: 'ready'; where: string; note: string | null }
  | { type: 'event'; event: TrainEvent }
  | { type: 'checkpoint'; name: string; bytes: Uint8Array<ArrayBuffer> }
  | { type: 'error'; message: string };
