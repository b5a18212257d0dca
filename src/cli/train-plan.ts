// Turns train's flags (and the checkpoint named by --resume or --init-from) into what to build:
// the model's shape, the training options and where the text comes from. Everything is checked
// here, before any text is read or any time is spent.
import { resolve as resolvePath, dirname } from 'node:path';
import { UserError } from '../errors.js';
import type { Checkpoint, TrainingRecord } from '../io/checkpoint.js';
import { checkModelConfig, type CellType, type ModelConfig } from '../model/config.js';
import { readCheckpoint } from '../node/checkpoint-file.js';
import { DEFAULT_DATASET } from '../node/datasets.js';
import { checkTrainOptions, defaultTrainOptions, type OptimizerName, type TrainOptions } from '../train/options.js';

export interface TrainFlags {
  model: CellType;
  layers: number;
  hidden: number;
  embedding: number;
  dropout: number;
  batch: number;
  seq: number;
  optimizer: OptimizerName;
  lr: number;
  decay: number;
  lrDecay: number;
  lrDecayAfter: number;
  gradClip: number;
  clipNorm: number;
  epochs: number;
  maxIters?: number;
  maxTime?: number;
  valFrac: number;
  testFrac: number;
  evalEvery: number;
  sampleEvery: number;
  checkpointDir: string;
  resume?: string;
  initFrom?: string;
  seed: number;
  backend: string;
  threads?: number;
  tune: boolean;
  bytes?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export interface CorpusChoice {
  source: string;
  bytes: boolean;
  valFrac: number;
  testFrac: number;
}

export type Start =
  | { kind: 'fresh' }
  | { kind: 'init-from'; path: string; checkpoint: Checkpoint }
  | { kind: 'resume'; path: string; checkpoint: Checkpoint; training: TrainingRecord };

export interface TrainPlan {
  config: ModelConfig;
  options: TrainOptions;
  corpus: CorpusChoice;
  checkpointDir: string;
  start: Start;
}

const MODEL_FLAGS = ['model', 'layers', 'hidden', 'embedding', 'dropout'] as const;
const CORPUS_FLAGS = ['bytes', 'valFrac', 'testFrac'] as const;
// What a resumed run may change: how long it goes on and how often it reports. Everything else
// would make the continuation differ from the run it continues.
const RESUME_OVERRIDES = ['epochs', 'maxIters', 'maxTime', 'evalEvery', 'sampleEvery'] as const;
// Limits of one invocation, not of the run: carried over, a run stopped by --max-iters 30 would
// stop again at once when resumed. Without the flag a resumed run goes on to the epochs limit.
const PER_INVOCATION = { maxIters: 0, maxTime: 0 } as const;
const TRAIN_FLAGS = ['batch', 'seq', 'optimizer', 'lr', 'decay', 'lrDecay', 'lrDecayAfter', 'gradClip', 'clipNorm',
  'seed', ...RESUME_OVERRIDES] as const;

export type IsExplicit = (flag: keyof TrainFlags) => boolean;

export async function planTraining(source: string | undefined, f: TrainFlags, explicit: IsExplicit,
  warn: (message: string) => void): Promise<TrainPlan> {
  if (f.resume !== undefined && f.initFrom !== undefined) throw new UserError('give either --resume or --init-from, not both');
  if (f.threads !== undefined && !(Number.isInteger(f.threads) && f.threads >= 1 && f.threads <= 1024)) {
    throw new UserError(`--threads must be an integer from 1 to 1024, got ${f.threads}`);
  }
  checkFraction('val-frac', f.valFrac);
  checkFraction('test-frac', f.testFrac);
  if (f.valFrac + f.testFrac >= 1) throw new UserError(`--val-frac + --test-frac must leave text to train on, got ${f.valFrac} + ${f.testFrac}`);
  const flagConfig = checkModelConfig({ model: f.model, layers: f.layers, hidden: f.hidden, embedding: f.embedding, dropout: f.dropout });
  const flagOptions = checkTrainOptions({
    ...defaultTrainOptions, batch: f.batch, seq: f.seq, optimizer: f.optimizer, lr: f.lr, decay: f.decay,
    lrDecay: f.lrDecay, lrDecayAfter: f.lrDecayAfter, gradClip: f.gradClip, clipNorm: f.clipNorm, epochs: f.epochs,
    maxIters: f.maxIters ?? 0, maxTime: f.maxTime ?? 0, evalEvery: f.evalEvery, sampleEvery: f.sampleEvery, seed: f.seed,
  });
  const ignored = (flags: readonly (keyof TrainFlags)[], why: string): void => {
    const given = flags.filter(explicit).map(flagName);
    if (given.length > 0) warn(`${given.join(', ')} ignored: ${why}`);
  };

  if (f.resume !== undefined) {
    const checkpoint = await readCheckpoint(f.resume);
    const training = checkpoint.training;
    if (!training) throw new UserError(`${f.resume} has no training record (weights only), so it cannot be resumed; use --init-from to fine-tune it`);
    ignored([...MODEL_FLAGS, ...CORPUS_FLAGS, ...TRAIN_FLAGS.filter((k) => !(RESUME_OVERRIDES as readonly string[]).includes(k))],
      'a resumed run keeps the checkpoint\'s model and training options');
    const options: TrainOptions = { ...defaultTrainOptions, ...training.options, ...PER_INVOCATION };
    for (const k of RESUME_OVERRIDES) if (explicit(k)) options[k] = flagOptions[k];
    if (training.state.batch !== options.batch) throw new UserError(`${f.resume}: its training state is for batch ${training.state.batch}, its options say ${options.batch}`);
    const c = training.corpus;
    return {
      config: checkpoint.config, options: checkTrainOptions(options),
      corpus: { source: source ?? c.source, bytes: c.bytes, valFrac: c.valFrac, testFrac: c.testFrac },
      checkpointDir: explicit('checkpointDir') ? f.checkpointDir : dirname(resolvePath(f.resume)),
      start: { kind: 'resume', path: f.resume, checkpoint, training },
    };
  }

  const corpus: CorpusChoice = { source: source ?? DEFAULT_DATASET, bytes: f.bytes === true, valFrac: f.valFrac, testFrac: f.testFrac };
  if (f.initFrom !== undefined) {
    const checkpoint = await readCheckpoint(f.initFrom);
    ignored(MODEL_FLAGS, 'the model comes from --init-from');
    return { config: checkpoint.config, options: flagOptions, corpus, checkpointDir: f.checkpointDir,
      start: { kind: 'init-from', path: f.initFrom, checkpoint } };
  }
  return { config: flagConfig, options: flagOptions, corpus, checkpointDir: f.checkpointDir, start: { kind: 'fresh' } };
}

function checkFraction(flag: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0 && v < 1)) throw new UserError(`--${flag} must be at least 0 and less than 1, got ${v}`);
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
