// What every experiment shares: its options, the machine it ran on, where its text comes from,
// one training run through the library's event stream, and the facts every section states.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../src/node/atomic-write.js';
import { thousands as int } from '../src/cli/format.js';
import { availableParallelism, cpus } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CharLM, Corpus, WasmBackend, checkpointFromTraining, encodeCheckpoint, sampleTexts, train,
  type Backend, type ModelConfig, type TrainOptions, type StopReason,
} from '../src/index.js';
import { createBackend, resolveCorpusText } from '../src/node/index.js';
import type { CorpusSource } from '../src/io/checkpoint.js';
import { table } from './doc.js';
import { excerpts } from './measure.js';
import { COLOURS, smooth, writeChart, type Series } from './svg.js';

/** The repository root: this file runs as dist/experiments/common.js. */
export const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

export interface Options {
  quick: boolean; // seconds: a tiny model on a slice of the text, for smoke tests
  docs: string; // experiments.md and its figures go here (figures under <docs>/experiments/)
  cv: string; // checkpoints, one directory per experiment
  data: string; // the directory of corpora (tinyshakespeare.txt, linux.txt, …)
  maxTime?: number; // seconds of training per model, instead of the experiment's default
  backend: string;
  threads?: number;
  extra: string[]; // the options as given, to repeat in the section's command
}

export interface Context {
  name: string;
  opts: Options;
  backend: Backend;
  command: string;
  started: number; // performance.now() at the start of the experiment
}

export function machine(be: Backend): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const threads = be instanceof WasmBackend ? `, ${be.threads} thread${be.threads === 1 ? '' : 's'}` : '';
  return `${cpu}, ${availableParallelism()} cores, Node ${process.version}, ${be.name} backend${threads}`;
}

export async function openBackend(opts: Options): Promise<Backend> {
  return createBackend(opts.backend, { threads: opts.threads });
}

export function closeBackend(be: Backend): void {
  if (be instanceof WasmBackend) be.dispose();
}

export interface Text {
  label: string; // what the section calls it
  source: string; // a path or a built-in corpus name, for checkpoints
  text: string;
}

/**
 * A corpus from the data directory, else (in quick runs, which must work anywhere) a built-in
 * one; a quick run reads only the first `quickChars` of it.
 */
export async function corpusText(ctx: Context, file: string, fallback: string, quickChars = 20_000): Promise<Text> {
  const path = join(ctx.opts.data, file);
  let t: Text;
  if (existsSync(path)) {
    t = { label: `\`${relativeToRoot(path)}\``, source: path, text: (await resolveCorpusText(path)).text };
  } else if (ctx.opts.quick || fallback === 'shakespeare') {
    t = { label: `the built-in \`${fallback}\` corpus (${relativeToRoot(path)} is absent)`, source: fallback, text: (await resolveCorpusText(fallback)).text };
  } else {
    throw new Error(`${path} is missing: give the directory of corpora with --data DIR`);
  }
  if (ctx.opts.quick) t.text = t.text.slice(0, quickChars);
  return t;
}

/** A path as the repository root sees it, which is where the commands run. */
export function relativeToRoot(path: string): string {
  const rel = relative(ROOT, resolve(path));
  return rel.startsWith('../../') || isAbsolute(rel) ? resolve(path) : rel;
}

export interface RunSpec {
  text: Text;
  valFrac?: number;
  model: Partial<ModelConfig>;
  train: Partial<TrainOptions>;
  /** Writes <dir>/latest.safetensors at every evaluation and at the end. */
  checkpointDir?: string;
  /** Called after each iteration, while the loop waits: the model may be sampled here. */
  onIteration?: (iter: number, model: CharLM, corpus: Corpus) => Promise<void>;
  log?: string; // a label for progress lines on stderr
}

export interface RunResult {
  model: CharLM;
  corpus: Corpus;
  spec: RunSpec;
  config: ModelConfig;
  options: TrainOptions;
  params: number;
  trainCurve: [number, number][];
  valCurve: [number, number][];
  valLoss: number;
  bpc: number;
  iters: number;
  epochs: number;
  seconds: number; // training, evaluations included
  charsPerSec: number; // of the training iterations alone
  reason: StopReason;
}

/** Trains one model through the library's event stream and keeps what a section reports. */
export async function trainRun(ctx: Context, spec: RunSpec): Promise<RunResult> {
  const corpus = Corpus.fromText(spec.text.text, { valFrac: spec.valFrac ?? 0.05 });
  const model = CharLM.create(ctx.backend, spec.model, corpus.vocab.size, spec.train.seed ?? 123);
  const source: CorpusSource = { source: spec.text.source, bytes: false, valFrac: corpus.valFrac, testFrac: 0, chars: corpus.length };
  const dir = spec.checkpointDir;
  if (dir) await mkdir(dir, { recursive: true });
  const hooks = dir ? {
    checkpoint: async (req: Parameters<typeof checkpointFromTraining>[0]): Promise<string> => {
      const path = join(dir, 'latest.safetensors');
      await writeFileAtomic(path, encodeCheckpoint(await checkpointFromTraining(req, corpus.vocab, source)));
      return path;
    },
  } : {};
  const r: Partial<RunResult> & { trainCurve: [number, number][]; valCurve: [number, number][] } = { trainCurve: [], valCurve: [] };
  let iterSeconds = 0, iterChars = 0, lastLog = performance.now();
  const label = spec.log ?? ctx.name;
  for await (const e of train(model, corpus, spec.train, hooks)) {
    if (e.type === 'start') {
      r.options = e.options;
      r.params = e.params;
      progress(`${label}: ${describeModel(model.config, e.params)}, ${corpus.length.toLocaleString('en-US')} characters, ${e.itersPerEpoch} iterations per epoch`);
    } else if (e.type === 'iteration') {
      const chars = r.options!.batch * r.options!.seq;
      iterChars += chars;
      iterSeconds += chars / e.charsPerSec;
      r.trainCurve.push([e.iter, e.loss]);
      if (spec.onIteration) await spec.onIteration(e.iter, model, corpus);
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        progress(`${label}: iteration ${e.iter}, loss ${e.loss.toFixed(3)}, ${Math.round(iterChars / iterSeconds)} chars/s, ${Math.round(e.elapsed)} s`);
      }
    } else if (e.type === 'eval') {
      r.valCurve.push([e.iter, e.valLoss]);
      r.valLoss = e.valLoss;
      r.bpc = e.bpc;
      progress(`${label}: iteration ${e.iter}, validation loss ${e.valLoss.toFixed(4)} (${e.bpc.toFixed(3)} bpc)`);
    } else if (e.type === 'done') {
      r.iters = e.iter;
      r.epochs = e.epoch;
      r.seconds = e.elapsed;
      r.reason = e.reason;
      if (e.reason === 'diverged') throw new Error(`${label}: ${e.message}`);
    }
  }
  if (r.valLoss === undefined) throw new Error(`${label}: no validation loss (the validation split is empty)`);
  return {
    ...(r as Required<typeof r>), model, corpus, spec, config: model.config,
    charsPerSec: iterSeconds > 0 ? iterChars / iterSeconds : 0,
  };
}

export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function describeModel(c: ModelConfig, params: number): string {
  const input = c.embedding > 0 ? `embedding ${c.embedding}` : 'one-hot input';
  const drop = c.dropout > 0 ? `, dropout ${c.dropout}` : '';
  return `${c.layers}×${c.hidden} ${c.model.toUpperCase()} (${input}${drop}), ${params.toLocaleString('en-US')} parameters`;
}

export function seconds(s: number): string {
  if (s < 90) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

export const num = (x: number, digits = 4): string => x.toFixed(digits);
export const pct = (x: number, digits = 1): string => `${(100 * x).toFixed(digits)} %`;
export { int };

/** Stands for the experiment's wall time until it is over and known. */
export const WALL_TIME = '{{wall time}}';

/** What every section states first: the command, the machine and the experiment's wall time. */
export function factsHead(ctx: Context): string {
  return `Command: \`${ctx.command}\`\n\nMachine: ${machine(ctx.backend)}.\n\nWall time of the whole experiment: ${WALL_TIME}.\n`;
}

/** A validation loss in nats and in bits per character, as the sections state it. */
export function lossText(nats: number): string {
  return `${nats.toFixed(4)} nats (${(nats / Math.LN2).toFixed(3)} bits per character)`;
}

/** The facts every section states: command, machine, corpus, model, training, time, loss. */
export function runFacts(ctx: Context, runs: RunResult[]): string {
  const rows = runs.map((r) => {
    const o = r.options;
    const stop = { epochs: 'all epochs', 'max-iters': 'iteration limit', 'max-time': 'time limit', interrupted: 'interrupted', diverged: 'diverged' }[r.reason];
    return [
      r.spec.log ?? ctx.name, r.spec.text.label, describeModel(r.config, r.params),
      `batch ${o.batch} × seq ${o.seq}, ${o.optimizer} lr ${o.lr}, clip ${o.gradClip}, val ${pct(r.corpus.valFrac, 0)}`,
      `${int(r.iters)} (${r.epochs.toFixed(2)} epochs, ${stop})`, seconds(r.seconds), int(Math.round(r.charsPerSec)),
      num(r.valLoss), num(r.bpc, 3),
    ];
  });
  return `${factsHead(ctx)}\n${table(['run', 'text', 'model', 'training', 'iterations', 'training time', 'chars/s', 'val loss (nats)', 'bits/char'], rows)}`;
}

/** Where a figure goes, and the path the section links it by. */
export async function figurePath(ctx: Context, file: string): Promise<{ path: string; link: string }> {
  const dir = join(ctx.opts.docs, 'experiments');
  await mkdir(dir, { recursive: true });
  return { path: join(dir, file), link: `experiments/${file}` };
}

/** The checkpoint directory of an experiment (or of one of its runs). */
export function checkpointDir(ctx: Context, name = ctx.name): string {
  return join(ctx.opts.cv, name);
}


/** The training (per-iteration means) and validation curves of some runs as one SVG; returns its Markdown. */
export async function lossChart(ctx: Context, file: string, runs: RunResult[], chartTitle: string): Promise<string> {
  const fig = await figurePath(ctx, file);
  const series: Series[] = runs.flatMap((r, i) => {
    const name = runs.length > 1 ? `${r.spec.log ?? ''} ` : '';
    return [
      { label: `${name}train`, points: smooth(r.trainCurve), colour: COLOURS[i % COLOURS.length], dashed: true },
      { label: `${name}validation`, points: r.valCurve, colour: COLOURS[i % COLOURS.length] },
    ];
  });
  const c = runs[0].config;
  const full = runs.length === 1 ? `${chartTitle}, ${c.layers}×${c.hidden} ${c.model.toUpperCase()}` : chartTitle;
  await writeChart(fig.path, { title: full, x: 'iteration', y: 'loss (nats per character)', series });
  return `![${full}](${fig.link})\n\nDashed: training loss (mean over stretches of iterations); solid: validation loss.\n`;
}

export interface Plan {
  model: Partial<ModelConfig>;
  train: Partial<TrainOptions>;
}

/**
 * An experiment's model and training settings at its full budget (`seconds` of training, or
 * --max-time), or for --quick a one-layer model of 32 units for 30 small iterations, whatever
 * the full run's shape: a smoke test of the code, not of the model.
 */
export function plan(ctx: Context, full: Plan, secs: number): Plan {
  if (ctx.opts.quick) {
    return {
      model: { ...full.model, layers: 1, hidden: 32, dropout: 0 },
      train: { ...full.train, batch: 10, seq: 20, maxIters: full.train.maxIters ? Math.min(full.train.maxIters, 30) : 30, evalEvery: 10, maxTime: ctx.opts.maxTime ?? 0 },
    };
  }
  return { model: full.model, train: { ...full.train, maxTime: ctx.opts.maxTime ?? secs } };
}

/** Samples of a source-code model beside as many pieces of its held-out source, of the same length. */
export interface SamplesBesideSource {
  samples: string[];
  real: string[];
  described: string; // the sentence that says so, without its full stop
}

/** 8 samples of 2,500 characters at temperature 1 (seed 5, no prime), as the linux and latex experiments measure them. */
export async function samplesBesideSource(ctx: Context, run: RunResult): Promise<SamplesBesideSource> {
  const n = ctx.opts.quick ? 2 : 8, len = ctx.opts.quick ? 300 : 2500;
  const samples = await sampleTexts(run.model, run.corpus.vocab, { count: n, length: len, temperature: 1, seed: 5 });
  const real = excerpts(run.corpus.vocab.decode(run.corpus.split('val')), n, len);
  return {
    samples, real,
    described: `${n} samples of ${int(len)} characters at temperature 1 (seed 5, no prime), against ${n} pieces of the held-out source of the same length`,
  };
}
