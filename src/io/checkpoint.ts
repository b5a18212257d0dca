// A checkpoint is one safetensors file: parameters under their PyTorch names, optimiser
// state under optim.*, the carried training state under train.*, and in __metadata__
// the model config, the vocabulary, the training position and the loss history.
// Browser-safe: bytes in, bytes out; src/node writes them to disk atomically.
import { UserError } from '../errors.js';
import { checkModelConfig, type ModelConfig } from '../model/config.js';
import { paramLayout } from '../model/params.js';
import { Vocab } from '../text/vocab.js';
import type { TrainOptions, OptimizerName } from '../train/options.js';
import { optimizerStateNames } from '../train/optimizer.js';
import type { CheckpointRequest, TrainingProgress } from '../train/loop.js';
import type { Backend } from '../backend/backend.js';
import { CharLM } from '../model/charlm.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from './safetensors.js';

const FORMAT = 'charrnn/1';

/** Where the training text came from, so `eval` can rebuild the same splits. */
export interface CorpusSource {
  source: string; // a dataset name or an absolute file path
  bytes: boolean;
  valFrac: number;
  testFrac: number;
  chars: number;
}

export interface TrainingRecord {
  options: TrainOptions;
  progress: TrainingProgress;
  corpus: CorpusSource;
  optimizer: OptimizerName;
  optimizerState: Map<string, Float32Array>;
  state: { h: Float32Array; c: Float32Array | null; batch: number };
}

export interface Checkpoint {
  config: ModelConfig;
  vocab: Vocab;
  params: Map<string, Float32Array>;
  training: TrainingRecord | null; // absent in a weights-only file
}

export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const { config, vocab } = ck;
  const layout = paramLayout(config, vocab.size);
  const tensors: Record<string, Tensor> = {};
  for (const s of layout.specs) tensors[s.name] = { dtype: 'F32', shape: s.shape, data: ck.params.get(s.name)! };
  const metadata: Record<string, string> = {
    format: FORMAT,
    config: JSON.stringify(config),
    vocab: JSON.stringify(vocab.toJSON()),
  };
  const t = ck.training;
  if (t) {
    for (const [name, data] of t.optimizerState) tensors[name] = { dtype: 'F32', shape: [data.length], data };
    const stateShape = [config.layers, t.state.batch, config.hidden];
    tensors['train.h'] = { dtype: 'F32', shape: stateShape, data: t.state.h };
    if (t.state.c) tensors['train.c'] = { dtype: 'F32', shape: stateShape, data: t.state.c };
    const { trainHistory, valHistory, ...progress } = t.progress;
    metadata.training = JSON.stringify({ options: t.options, progress, corpus: t.corpus, optimizer: t.optimizer });
    metadata.history = JSON.stringify({ train: trainHistory, val: valHistory });
  }
  return encodeSafetensors(tensors, metadata);
}

/** Parses and checks a checkpoint; every inconsistency is a UserError naming what is wrong. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== FORMAT) {
    throw new UserError(`not a charrnn checkpoint (format ${metadata.format === undefined ? 'missing' : JSON.stringify(metadata.format)})`);
  }
  const config = checkModelConfig(parseJSON<ModelConfig>(metadata.config, 'config'));
  const vocab = Vocab.fromJSON(parseJSON<unknown>(metadata.vocab, 'vocab'));
  const layout = paramLayout(config, vocab.size);
  const params = new Map<string, Float32Array>();
  for (const s of layout.specs) {
    const t = tensors[s.name];
    if (!t) throw new UserError(`checkpoint is missing tensor ${s.name}`);
    if (t.dtype !== 'F32' || t.shape.join() !== s.shape.join()) {
      throw new UserError(`checkpoint tensor ${s.name} is ${t.dtype}[${t.shape.join(',')}], expected F32[${s.shape.join(',')}] for this config`);
    }
    params.set(s.name, t.data as Float32Array);
  }
  for (const name of Object.keys(tensors)) {
    if (!layout.byName.has(name) && !name.startsWith('optim.') && !name.startsWith('train.')) {
      throw new UserError(`checkpoint has an unexpected tensor ${name}`);
    }
  }
  return { config, vocab, params, training: metadata.training ? decodeTraining(metadata, tensors, config, layout.total) : null };
}

function decodeTraining(metadata: Record<string, string>, tensors: Record<string, Tensor>,
  config: ModelConfig, total: number): TrainingRecord {
  const t = parseJSON<Omit<TrainingRecord, 'optimizerState' | 'state' | 'progress'> & { progress: Omit<TrainingProgress, 'trainHistory' | 'valHistory'> }>(metadata.training, 'training');
  const history = parseJSON<{ train: [number, number][]; val: [number, number][] }>(metadata.history ?? '{"train":[],"val":[]}', 'history');
  if (!t || typeof t !== 'object' || !t.options || !t.progress || !t.corpus || typeof t.progress.iter !== 'number') {
    throw new UserError('checkpoint training record is malformed');
  }
  if (t.optimizer !== t.options.optimizer || !['rmsprop', 'adam', 'adagrad'].includes(t.optimizer)) {
    throw new UserError(`checkpoint training record names optimizer ${JSON.stringify(t.optimizer)} inconsistently`);
  }
  const optimizerState = new Map<string, Float32Array>();
  for (const name of optimizerStateNames(t.optimizer)) {
    const tensor = tensors[name];
    if (!tensor || tensor.dtype !== 'F32' || tensor.data.length !== total) {
      throw new UserError(`checkpoint tensor ${name} (${t.optimizer} state) is missing or has the wrong size`);
    }
    optimizerState.set(name, tensor.data as Float32Array);
  }
  const h = tensors['train.h'];
  if (!h || h.shape.length !== 3 || h.shape[0] !== config.layers || h.shape[2] !== config.hidden) {
    throw new UserError('checkpoint training state train.h is missing or has the wrong shape');
  }
  const c = tensors['train.c'] ?? null;
  if ((config.model === 'lstm') !== (c !== null) || (c && c.data.length !== h.data.length)) {
    throw new UserError('checkpoint training state train.c does not match the model');
  }
  return {
    options: t.options, corpus: t.corpus, optimizer: t.optimizer, optimizerState,
    progress: { ...t.progress, trainHistory: history.train, valHistory: history.val },
    state: { h: h.data as Float32Array, c: c ? (c.data as Float32Array) : null, batch: h.shape[1] },
  };
}

function parseJSON<T>(s: string | undefined, key: string): T {
  if (s === undefined) throw new UserError(`checkpoint metadata has no ${key}`);
  try {
    return JSON.parse(s) as T;
  } catch {
    throw new UserError(`checkpoint metadata ${key} is not valid JSON`);
  }
}

/** char-rnn's checkpoint name: lm_<model>_epoch<E>_<loss>.safetensors */
export function checkpointName(model: string, epoch: number, loss: number): string {
  return `lm_${model}_epoch${epoch.toFixed(2)}_${Number.isFinite(loss) ? loss.toFixed(4) : 'nan'}.safetensors`;
}

/** Gathers a training run's tensors from the backend into a Checkpoint. */
export async function checkpointFromTraining(req: CheckpointRequest, vocab: Vocab, corpus: CorpusSource): Promise<Checkpoint> {
  const be = req.model.backend;
  return {
    config: req.model.config, vocab, params: await req.model.exportParams(),
    training: {
      options: req.options, progress: req.progress, corpus, optimizer: req.optimizer.name,
      optimizerState: await req.optimizer.exportState(),
      state: { h: await be.download(req.state.h), c: req.state.c ? await be.download(req.state.c) : null, batch: req.state.B },
    },
  };
}

/** A model on `backend` holding the checkpoint's weights. */
export function modelFromCheckpoint(backend: Backend, ck: Checkpoint): CharLM {
  const m = new CharLM(backend, ck.config, ck.vocab.size);
  m.importParams(ck.params);
  return m;
}
