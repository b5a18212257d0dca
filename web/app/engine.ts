// The engine as the pages use it: checkpoints fetched from the server and decoded here, models on
// the wasm backend (every core, on the page `charrnn serve` isolates), or on the plain js backend
// with a note saying why when wasm cannot start. Every failure is an Error with a message fit to
// show the user.
import {
  JsBackend, decodeCheckpoint, loadBrowserWasmBackend, modelFromCheckpoint,
  type Backend, type CharLM, type Checkpoint, type Vocab, type WasmBackend,
} from '../../src/index.js';

export interface LoadedModel {
  model: CharLM;
  vocab: Vocab;
  checkpoint: Checkpoint;
  /** 'wasm' or 'js'. */
  backend: string;
  /** Threads running the kernels. */
  threads: number;
  /** Why the slower js backend runs instead of wasm; null when wasm runs. */
  note: string | null;
  /** Stops the backend's worker threads; the model is unusable afterwards. */
  dispose(): void;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

interface Started {
  backend: Backend;
  threads: number;
  note: string | null;
  dispose: () => void;
}

async function startBackend(): Promise<Started> {
  let wasm: WasmBackend;
  try {
    wasm = await loadBrowserWasmBackend();
  } catch (err) {
    return { backend: new JsBackend(), threads: 1, dispose: () => {},
      note: `running on the plain JavaScript backend, which is slower: ${messageOf(err)}` };
  }
  return { backend: wasm, threads: wasm.threads, note: null, dispose: () => wasm.dispose() };
}

/** Decodes a checkpoint and builds its model on the fastest backend this page can run. */
export async function loadModel(bytes: Uint8Array): Promise<LoadedModel> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = decodeCheckpoint(bytes);
  } catch (err) {
    throw new Error(`cannot read this checkpoint: ${messageOf(err)}`);
  }
  const { backend, threads, note, dispose } = await startBackend();
  let model: CharLM;
  try {
    model = modelFromCheckpoint(backend, checkpoint);
  } catch (err) {
    dispose();
    throw new Error(`cannot build the model of this checkpoint: ${messageOf(err)}`);
  }
  return { model, vocab: checkpoint.vocab, checkpoint, backend: backend.name, threads, note, dispose };
}
