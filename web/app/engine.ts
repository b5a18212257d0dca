// The engine as the pages use it: checkpoints fetched from the server and decoded here, models on
// the engine the user chose (backends.ts: WebGPU, the wasm kernels on every core, or the plain js
// backend with a note saying why). Every failure is an Error with a message fit to show the user.
import {
  decodeCheckpoint, modelFromCheckpoint, type CharLM, type Checkpoint, type Vocab,
} from '../../src/index.js';
import { messageOf, startEngine } from './backends.js';
import type { EngineRequest } from './engine-choice.js';

export interface LoadedModel {
  model: CharLM;
  vocab: Vocab;
  checkpoint: Checkpoint;
  /** 'webgpu', 'wasm' or 'js'. */
  backend: string;
  /** What the backend runs on: "2 threads", or the GPU's name. */
  where: string;
  /** Why a slower backend runs than the one chosen; null when none. */
  note: string | null;
  /** Frees the backend's threads or GPU device; the model is unusable afterwards. */
  dispose(): void;
}

/** The bytes of a checkpoint listed by /api/checkpoints (its `path`). */
export async function fetchCheckpoint(path: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(`/api/checkpoint?path=${encodeURIComponent(path)}`);
  } catch (err) {
    throw new Error(`cannot reach the server to fetch ${path}: ${messageOf(err)}`);
  }
  if (res.status === 404) throw new Error(`no such checkpoint: ${path} (was it removed? reload the list)`);
  if (!res.ok) throw new Error(`cannot fetch ${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Decodes a checkpoint and builds its model on the engine `request` names ('auto': the fastest here). */
export async function loadModel(bytes: Uint8Array, request: EngineRequest = 'auto'): Promise<LoadedModel> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = decodeCheckpoint(bytes);
  } catch (err) {
    throw new Error(`cannot read this checkpoint: ${messageOf(err)}`);
  }
  const { backend, where, note, dispose } = await startEngine(request);
  let model: CharLM;
  try {
    model = modelFromCheckpoint(backend, checkpoint);
  } catch (err) {
    dispose();
    throw new Error(`cannot build the model of this checkpoint: ${messageOf(err)}`);
  }
  return { model, vocab: checkpoint.vocab, checkpoint, backend: backend.name, where, note, dispose };
}
