// The training loop, as char-rnn's train.lua: truncated BPTT over the char-rnn batch
// layout with the state carried from batch to batch, clipping, an optimiser step,
// learning-rate decay per epoch, validation and checkpoints, a divergence guard.
import type { CharLM, RecurrentState } from '../model/charlm.js';
import type { Corpus } from '../text/corpus.js';
import { Batcher } from '../text/batches.js';
import { slice } from '../backend/backend.js';
import { redoLostWork } from '../errors.js';
import { checkTrainOptions, defaultTrainOptions, type TrainOptions } from './options.js';
import { Optimizer } from './optimizer.js';
import { evaluate } from './evaluate.js';
import type { StopReason, TrainEvent } from './events.js';
import { sampleText } from '../sample/sample.js';

/** Where a run stands: everything a checkpoint needs to continue exactly. */
export interface TrainingProgress {
  iter: number; // iterations completed
  lr: number;
  optimizerStep: number;
  firstLoss: number | null; // the divergence guard compares against it
  bestValLoss: number | null;
  trainHistory: [number, number][]; // [iter, loss]
  valHistory: [number, number][];
  elapsed: number; // seconds of training before this process
}

/** What the caller gets to write a checkpoint; it returns the path written. */
export interface CheckpointRequest {
  model: CharLM;
  optimizer: Optimizer;
  state: RecurrentState; // the carried training state
  progress: TrainingProgress;
  options: TrainOptions;
  epoch: number;
  valLoss: number | null;
}

export interface TrainHooks {
  checkpoint?: (req: CheckpointRequest) => Promise<string>;
  resume?: { progress: TrainingProgress; optimizer: Map<string, Float32Array>; state: { h: Float32Array; c: Float32Array | null } };
  signal?: AbortSignal; // aborting stops after the current iteration, with a checkpoint
  now?: () => number; // milliseconds; injectable for tests
}

const MAX_HISTORY = 20_000;

export async function* train(model: CharLM, corpus: Corpus, opts: Partial<TrainOptions> = {},
  hooks: TrainHooks = {}): AsyncGenerator<TrainEvent> {
  const o = checkTrainOptions({ ...defaultTrainOptions, ...opts });
  const be = model.backend;
  const now = hooks.now ?? (() => performance.now());
  const batcher = new Batcher(corpus.split('train'), o.batch, o.seq);
  const valIds = corpus.split('val');
  const perEpoch = batcher.numBatches;
  const totalIters = Math.max(1, Math.floor(o.epochs * perEpoch));
  const lastIter = o.maxIters > 0 ? Math.min(totalIters, o.maxIters) : totalIters;

  const optimizer = new Optimizer(be, o.optimizer, model.layout.total);
  const state = model.newState(o.batch);
  const p: TrainingProgress = hooks.resume?.progress ?? {
    iter: 0, lr: o.lr, optimizerStep: 0, firstLoss: null, bestValLoss: null, trainHistory: [], valHistory: [], elapsed: 0,
  };
  if (hooks.resume) {
    optimizer.importState(hooks.resume.optimizer, p.optimizerStep);
    be.upload(state.h, hooks.resume.state.h);
    if (state.c && hooks.resume.state.c) be.upload(state.c, hooks.resume.state.c);
  }

  yield { type: 'start', config: model.config, options: o, params: model.layout.total, vocab: model.vocabSize,
    itersPerEpoch: perEpoch, totalIters: lastIter, iter: p.iter, backend: be.name };

  const x = new Int32Array(o.seq * o.batch), y = new Int32Array(o.seq * o.batch);
  const sumsq = slice(be.alloc(1));
  const start = now();
  const startIter = p.iter, elapsedBefore = p.elapsed;
  const epochOf = (iter: number): number => iter / perEpoch;
  const elapsed = (): number => elapsedBefore + (now() - start) / 1000;
  let savedAt = -1;
  // The validation loss at this iteration, if it has been measured.
  const valLossNow = (): number | null => {
    const last = p.valHistory.at(-1);
    return last !== undefined && last[0] === p.iter ? last[1] : null;
  };

  async function* validate(): AsyncGenerator<TrainEvent> {
    if (valIds.length === 0) return;
    const r = await evaluate(model, valIds, o.batch, o.seq, 'the validation split');
    p.valHistory.push([p.iter, r.loss]);
    if (p.bestValLoss === null || r.loss < p.bestValLoss) p.bestValLoss = r.loss;
    yield { type: 'eval', iter: p.iter, epoch: epochOf(p.iter), valLoss: r.loss, bpc: r.bpc, chars: r.chars };
  }

  async function* save(): AsyncGenerator<TrainEvent> {
    if (!hooks.checkpoint || savedAt === p.iter) return;
    savedAt = p.iter;
    p.elapsed = elapsed();
    const path = await hooks.checkpoint({ model, optimizer, state, progress: p, options: o, epoch: epochOf(p.iter), valLoss: valLossNow() });
    yield { type: 'checkpoint', iter: p.iter, path };
  }

  let reason: StopReason = o.maxIters > 0 && o.maxIters < totalIters ? 'max-iters' : 'epochs';
  let message = '';
  while (p.iter < lastIter) {
    if (hooks.signal?.aborted) { reason = 'interrupted'; break; }
    if (o.maxTime > 0 && elapsed() - elapsedBefore >= o.maxTime) { reason = 'max-time'; break; }
    const t0 = now();
    batcher.fill(p.iter % perEpoch, x, y);
    const [loss, sumsqRead] = await redoLostWork(() => {
      be.fill(model.grads, 0);
      // The gradient norm is asked for before the loss is awaited, so that a GPU returns both
      // after one wait instead of two in a row.
      const lossRead = model.lossAndGrad(x, y, o.seq, o.batch, state, { train: true, seed: o.seed, iteration: p.iter });
      be.sumSquares(model.grads, sumsq);
      return Promise.all([lossRead, be.download(sumsq)]);
    }, () => model.rewind(state));
    if (!Number.isFinite(loss) || (p.firstLoss !== null && loss > 3 * p.firstLoss)) {
      reason = 'diverged';
      message = `loss ${Number.isFinite(loss) ? `${loss.toFixed(4)} is above 3× the first loss ${p.firstLoss!.toFixed(4)}` : 'is not a number'} at iteration ${p.iter + 1}: stopped; the last good checkpoint is kept (try a lower --lr)`;
      break;
    }
    p.firstLoss ??= loss;
    const gradNorm = Math.sqrt(sumsqRead[0]);
    // char-rnn differentiates the loss summed over the sequence, not its mean, so its
    // ±gradClip clamp is ±gradClip/seq on these mean-loss gradients.
    if (o.clipNorm > 0) be.clipByNorm(model.grads, sumsq, o.clipNorm);
    else if (o.gradClip > 0) be.clamp(model.grads, -o.gradClip / o.seq, o.gradClip / o.seq);
    optimizer.update(model.params, model.grads, p.lr, o);
    p.optimizerStep = optimizer.step;
    p.iter++;
    p.trainHistory.push([p.iter, loss]);
    // Every checkpoint carries the history in its header: keep it bounded by halving its resolution.
    if (p.trainHistory.length > MAX_HISTORY) p.trainHistory = p.trainHistory.filter((_, i) => i % 2 === 1);
    if (p.iter % perEpoch === 0 && o.lrDecay < 1 && epochOf(p.iter) >= o.lrDecayAfter) p.lr *= o.lrDecay;

    const secs = (now() - t0) / 1000;
    const done = p.iter - startIter;
    const perIter = (elapsed() - elapsedBefore) / done;
    let eta = (lastIter - p.iter) * perIter;
    if (o.maxTime > 0) eta = Math.min(eta, Math.max(0, o.maxTime - (elapsed() - elapsedBefore)));
    // A backend that computes synchronously resolves every await at once; without this the
    // host (Ctrl-C, a progress bar, a browser page) would get no turn until training ends.
    await nextTurn();
    yield { type: 'iteration', iter: p.iter, epoch: epochOf(p.iter), loss, lr: p.lr, gradNorm,
      charsPerSec: (o.batch * o.seq) / Math.max(secs, 1e-9), elapsed: elapsed(), eta };

    if (o.sampleEvery > 0 && p.iter % o.sampleEvery === 0) {
      const text = await sampleText(model, corpus.vocab, { length: o.sampleLength, temperature: o.sampleTemperature, seed: (o.seed + p.iter) >>> 0 });
      yield { type: 'sample', iter: p.iter, text, temperature: o.sampleTemperature };
    }
    if (p.iter % o.evalEvery === 0 && p.iter < lastIter) {
      yield* validate();
      yield* save();
    }
  }
  if (reason !== 'diverged') {
    // Ctrl-C should stop promptly: the checkpoint is named by the recent training loss instead.
    if (p.iter > startIter && valLossNow() === null && reason !== 'interrupted') yield* validate();
    if (p.iter > startIter || reason === 'interrupted') yield* save();
  }
  if (!message) message = stopMessage(reason, p.iter);
  yield { type: 'done', iter: p.iter, epoch: epochOf(p.iter), reason, message, bestValLoss: p.bestValLoss, elapsed: elapsed() };
}

// One turn of the host's event loop. Not setTimeout(…, 0): its delay is at least 1 ms in Node
// and 4 ms in a browser after a few nested calls, which a small model's iteration on a GPU
// (a few ms) would spend idle.
function nextTurn(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });
}

function stopMessage(reason: StopReason, iter: number): string {
  switch (reason) {
    case 'epochs': return `finished all epochs after ${iter} iterations`;
    case 'max-iters': return `reached --max-iters at iteration ${iter}`;
    case 'max-time': return `reached --max-time at iteration ${iter}`;
    case 'interrupted': return `interrupted at iteration ${iter}`;
    case 'diverged': return `diverged at iteration ${iter}`;
  }
}
