// `charrnn train`: checks every flag, reads the text, trains with progress, evaluation and
// checkpoints, logs every event to <checkpoint-dir>/train.jsonl for the web app's dashboard
// (--serve serves it while training), and stops cleanly on Ctrl-C (a second Ctrl-C quits at once).
import { Command, Option } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { UserError } from '../errors.js';
import { createBackend } from '../node/backend.js';
import { checkpointFromTraining, modelFromCheckpoint, type CorpusSource } from '../io/checkpoint.js';
import { CharLM } from '../model/charlm.js';
import type { Backend } from '../backend/backend.js';
import { WebGPUBackend } from '../backend/webgpu/index.js';
import { checkWritableDir, writeCheckpoint } from '../node/checkpoint-file.js';
import { DEFAULT_DATASET, listDatasets, openCorpus } from '../node/datasets.js';
import { openEventLog } from '../node/event-log.js';
import { DEFAULT_PORT } from '../node/server-defaults.js';
import { startServerThread } from '../node/server-thread.js';
import { Batcher } from '../text/batches.js';
import { DEFAULT_TEST_FRAC, DEFAULT_VAL_FRAC, type Corpus } from '../text/corpus.js';
import { checkEvaluable } from '../train/evaluate.js';
import { train, type CheckpointRequest, type TrainHooks } from '../train/loop.js';
import { defaultTrainOptions as d } from '../train/options.js';
import { defaultModelConfig as m } from '../model/config.js';
import { intArg, numArg } from './parse.js';
import { planTraining, type TrainFlags, type TrainPlan } from './train-plan.js';
import { createDisplay } from './train-display.js';
import { thousands, unitOf } from './format.js';
import { requireSameVocab } from './vocab-match.js';
import { checkPort, untilInterrupted } from './serve.js';

const EXIT_SIGINT = 130;
const LOSS_WINDOW = 100;
// With --serve and no --sample-every, samples this often, so the dashboard shows them evolve.
const SERVE_SAMPLE_EVERY = 100;

type Flags = TrainFlags & { serve?: boolean; port: number };

export function registerTrain(program: Command): void {
  const datasets = listDatasets().map((x) => x.name).join(', ');
  program.command('train')
    .description('train a model on a UTF-8 text file or a named dataset, with evaluation and checkpoints')
    .argument('[file-or-dataset]', `a text file, or one of: ${datasets} (default: ${DEFAULT_DATASET}; with --resume, the checkpoint's corpus)`)
    .addOption(new Option('--model <type>', 'recurrent cell').choices(['lstm', 'gru', 'rnn']).default(m.model))
    .option('--layers <n>', 'recurrent layers', intArg, m.layers)
    .option('--hidden <n>', 'units per layer', intArg, m.hidden)
    .option('--embedding <n>', 'input embedding size; 0 = one-hot input', intArg, m.embedding)
    .option('--dropout <p>', 'dropout on each layer\'s output, in [0, 1)', numArg, m.dropout)
    .option('--batch <n>', 'sequences per batch', intArg, d.batch)
    .option('--seq <n>', 'characters per sequence (truncated BPTT length)', intArg, d.seq)
    .addOption(new Option('--optimizer <name>', 'optimiser').choices(['rmsprop', 'adam', 'adagrad']).default(d.optimizer))
    .addOption(new Option('--lr <rate>', 'learning rate').argParser(numArg).default(d.lr, '2e-3'))
    .option('--decay <rate>', 'RMSprop moving-average rate', numArg, d.decay)
    .option('--lr-decay <factor>', 'learning rate × factor after each epoch from --lr-decay-after on', numArg, d.lrDecay)
    .option('--lr-decay-after <epochs>', 'epochs before the learning rate starts to decay', numArg, d.lrDecayAfter)
    .option('--grad-clip <v>', 'clamp each gradient to ±v as char-rnn (whose gradients are of the loss summed over the sequence); 0 = off', numArg, d.gradClip)
    .option('--clip-norm <v>', 'clip the global gradient norm to v instead; 0 = off', numArg, d.clipNorm)
    .option('--epochs <n>', 'passes over the training text', numArg, d.epochs)
    .option('--max-iters <n>', 'stop at this iteration (default: no limit)', intArg)
    .option('--max-time <seconds>', 'stop after this much training time in this run; a resumed run gets a fresh budget (default: no limit)', numArg)
    .option('--val-frac <f>', 'fraction of the text held out for validation', numArg, DEFAULT_VAL_FRAC)
    .option('--test-frac <f>', 'fraction held out for testing', numArg, DEFAULT_TEST_FRAC)
    .option('--eval-every <n>', 'validate and checkpoint every n iterations', intArg, d.evalEvery)
    .option('--sample-every <n>', 'print a sample every n iterations; 0 = never', intArg, d.sampleEvery)
    .option('--checkpoint-dir <dir>', 'where checkpoints go (with --resume: the checkpoint\'s directory)', 'cv')
    .option('--resume <ckpt>', 'continue a run exactly: weights, optimiser, position, options (all but --max-iters and --max-time)')
    .option('--init-from <ckpt>', 'start from these weights (fine-tuning), with a fresh optimiser')
    .option('--seed <n>', 'random seed', intArg, d.seed)
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'js', 'wasm', 'webgpu']).default('auto'))
    .option('--threads <n>', 'worker threads for the wasm backend (default: all cores); the js reference backend ignores it', intArg)
    .option('--no-tune', 'webgpu: keep the fixed kernel plans, and a layer\'s steps a dispatch each, instead of timing each large step\'s and product\'s plans on this GPU (runs repeat exactly)')
    .option('--bytes', 'byte-level vocabulary instead of Unicode code points')
    .option('--quiet', 'print nothing but errors')
    .option('--json', 'print each training event as one JSON line on stdout')
    .option('--serve', `serve the web app's dashboard on the checkpoint directory while training and after it, until Ctrl-C (--sample-every then defaults to ${SERVE_SAMPLE_EVERY})`)
    .option('--port <n>', 'port for --serve; 0 = any free one', intArg, DEFAULT_PORT)
    .action(async (source: string | undefined, _flags: Flags, cmd: Command) => {
      await runTrain(source, cmd);
    });
}

async function runTrain(source: string | undefined, cmd: Command): Promise<void> {
  const flags = cmd.opts<Flags>();
  const warn = (message: string): void => { if (!flags.quiet) process.stderr.write(`charrnn: warning: ${message}\n`); };
  const explicit = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli';
  if (flags.serve) checkPort(flags.port);
  else if (explicit('port')) warn('--port ignored: it is the port of --serve');
  const plan = await planTraining(source, flags, explicit, warn);
  const { config, options, start } = plan;
  if (flags.serve && !explicit('sampleEvery') && options.sampleEvery === 0) options.sampleEvery = SERVE_SAMPLE_EVERY;
  const backend = await createBackend(flags.backend, { threads: flags.threads, tune: flags.tune ? undefined : false });

  const opened = await openCorpus(plan.corpus.source, plan.corpus);
  const { corpus } = opened;
  const vocab = corpus.vocab;
  if (start.kind !== 'fresh') {
    requireSameVocab(start.checkpoint.vocab, vocab, `${start.path} cannot ${start.kind === 'resume' ? 'resume' : 'start'} on ${opened.name}`);
  }
  const corpusSource: CorpusSource = {
    source: opened.path !== undefined ? resolvePath(opened.path) : opened.name,
    bytes: plan.corpus.bytes, valFrac: plan.corpus.valFrac, testFrac: plan.corpus.testFrac, chars: corpus.length,
  };
  if (start.kind === 'resume') warnIfCorpusChanged(start.training.corpus, corpusSource, unitOf(vocab.kind), warn);
  // What can fail on the user's choices (a split too small, a model too large to allocate) fails
  // here, before the checkpoint directory is made, so a failed start leaves nothing behind.
  new Batcher(corpus.split('train'), options.batch, options.seq);
  if (corpus.split('val').length > 0) checkEvaluable(corpus.split('val'), 'the validation split');
  const model = start.kind === 'fresh' ? CharLM.create(backend, config, vocab.size, options.seed) : modelFromCheckpoint(backend, start.checkpoint);
  await checkWritableDir(plan.checkpointDir);
  const server = flags.serve ? await startServerThread({ dir: plan.checkpointDir, port: flags.port },
    (err) => warn(`the web server stopped: ${err.message}`)) : null;
  try {
    // Printed even with --quiet: the address is what --serve is for.
    if (server) process.stderr.write(`dashboard at ${server.url} (serving ${plan.checkpointDir})\n`);
    const stop = await trainLogged(plan, model, opened.name, corpus, corpusSource, flags, warn);
    if (server && stop === 'finished') {
      if (!flags.quiet) process.stderr.write(`training is over; still serving at ${server.url} until Ctrl-C\n`);
      await untilInterrupted(server);
    }
  } finally {
    await server?.close();
  }
}

/**
 * What a run says before its first iteration where that iteration takes longer than the rest:
 * on a GPU the webgpu backend times its kernel plans then (tuning), for seconds.
 */
export function tuningNote(be: Backend): string | null {
  return be instanceof WebGPUBackend && be.tune
    ? `the first iteration also times the kernel plans of each large step and product${be.persistent ? ', and each layer\'s sequence in one dispatch against its steps,' : ''} on ${be.label} (--no-tune keeps fixed plans)`
    : null;
}

/** Trains with the progress display and the event log; says whether the run finished or was interrupted. */
async function trainLogged(plan: TrainPlan, model: CharLM, corpusName: string, corpus: Corpus, corpusSource: CorpusSource,
  flags: Flags, warn: (message: string) => void): Promise<'finished' | 'interrupted'> {
  const { options, start } = plan;
  const vocab = corpus.vocab;
  const controller = new AbortController();
  const hooks: TrainHooks = {
    signal: controller.signal,
    checkpoint: async (req) => writeCheckpoint(plan.checkpointDir, await checkpointFromTraining(req, vocab, corpusSource), req.epoch, req.valLoss ?? recentLoss(req)),
  };
  if (start.kind === 'resume') {
    const t = start.training;
    hooks.resume = { progress: t.progress, optimizer: t.optimizerState, state: { h: t.state.h, c: t.state.c } };
  }

  const log = openEventLog(plan.checkpointDir, start.kind === 'resume', warn);
  const display = createDisplay({ json: flags.json === true, quiet: flags.quiet === true },
    { name: corpusName, chars: corpus.length, vocab: vocab.size, unit: unitOf(vocab.kind) });
  let interrupts = 0;
  const onSigint = (): void => {
    if (++interrupts > 1) process.exit(EXIT_SIGINT);
    controller.abort();
    if (!flags.quiet) display.note('stopping after this iteration and saving a checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  let diverged: string | null = null;
  let lastCheckpoint: string | null = null;
  let interrupted = false;
  try {
    for await (const event of train(model, corpus, options, hooks)) {
      log.write(event);
      if (event.type === 'done' && event.reason === 'diverged') {
        diverged = event.message;
        // In human mode the error line says it; the event would say it twice.
        if (!flags.json) continue;
      }
      display.show(event);
      const note = event.type === 'start' && !flags.quiet ? tuningNote(model.backend) : null;
      if (note !== null) display.note(note);
      if (event.type === 'checkpoint') lastCheckpoint = event.path;
      if (event.type === 'done' && event.reason === 'interrupted') {
        interrupted = true;
        if (lastCheckpoint !== null && !flags.json && !flags.quiet) {
          display.note(`continue with: charrnn train --resume ${lastCheckpoint.replace(/[^/\\]+$/, 'latest.safetensors')}`);
        }
      }
    }
  } finally {
    display.close();
    log.close();
    process.off('SIGINT', onSigint);
  }
  if (diverged !== null) throw new UserError(diverged);
  return interrupted ? 'interrupted' : 'finished';
}

// Same weights and vocabulary on other text still train, but the batches, and so the losses,
// are no longer those the interrupted run would have seen.
function warnIfCorpusChanged(was: CorpusSource, now: CorpusSource, unit: string, warn: (message: string) => void): void {
  const size = (n: number): string => `${thousands(n)} ${unit}s`;
  if (now.source !== was.source) {
    warn(`resuming on ${now.source} (${size(now.chars)}), not ${was.source} (${size(was.chars)}) as trained: the continuation will not be exact`);
  } else if (now.chars !== was.chars) {
    warn(`${now.source} has ${size(now.chars)} now, ${size(was.chars)} when trained on: the continuation will not be exact`);
  }
}

// Names a checkpoint written between evaluations: the recent training loss stands in for the
// validation loss in its file name.
function recentLoss(req: CheckpointRequest): number {
  const h = req.progress.trainHistory.slice(-LOSS_WINDOW);
  if (h.length === 0) return req.progress.bestValLoss ?? Number.NaN;
  return h.reduce((s, [, loss]) => s + loss, 0) / h.length;
}
