// The training page's module Worker: runs the library's train() on the chosen engine, posts
// every training event to the page, holds the run while paused, and encodes a checkpoint in the
// format the command line writes whenever the page asks for one.
import {
  CharLM, Corpus, UserError, checkpointFromTraining, encodeCheckpoint, train,
  type CheckpointRequest, type ModelConfig, type TrainOptions, type Vocab,
} from '../../src/index.js';
import { checkpointName, type CorpusSource } from '../../src/io/checkpoint.js';
import { messageOf, startEngine } from './backends.js';
import type { EngineRequest } from './engine-choice.js';
import type { FromWorker, ModelSize, ToWorker } from './train-protocol.js';

const SIZES: Record<ModelSize, Pick<ModelConfig, 'layers' | 'hidden'>> = {
  tiny: { layers: 1, hidden: 64 },
  small: { layers: 2, hidden: 128 },
  medium: { layers: 2, hidden: 256 },
};

const VAL_FRAC = 0.05;
const OPTIONS = {
  // Smaller batches than char-rnn's 50 × 50, so a page of pasted text is enough to start.
  batch: 16,
  seq: 50,
  // A pasted text is a few batches long, so char-rnn's per-epoch decay would bring the
  // learning rate close to zero within minutes.
  lrDecay: 1,
  // Runs until the page is closed or starts over: there is no end to wait for.
  epochs: 1e6,
  evalEvery: 100,
  sampleEvery: 100,
  sampleLength: 300,
  seed: 123,
} satisfies Partial<TrainOptions>;

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

/** What a checkpoint needs beyond the loop's own request. */
interface Run {
  vocab: Vocab;
  source: CorpusSource;
  itersPerEpoch: number;
  elapsed: number; // seconds of training at the last iteration
  request: CheckpointRequest | null; // the loop's live objects, captured at its first checkpoint
}

let run: Run | null = null;
let paused = false;
let checkpointWanted = false;
let finished = false;
let wake: (() => void) | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case 'start': trainOn(m.text, m.size, m.source, m.engine).catch(report); return;
    case 'pause': paused = true; break;
    case 'resume': paused = false; break;
    case 'download': checkpointWanted = true; break;
  }
  // After the run ends nothing waits between events any more: answer here.
  if (finished) between().catch(report);
  else wake?.();
};

function report(err: unknown): void {
  post({ type: 'error', message: messageOf(err) });
}

async function trainOn(text: string, size: ModelSize, sourceName: string, engine: EngineRequest): Promise<void> {
  const corpus = corpusOf(text);
  const { backend, where, note, dispose } = await startEngine(engine);
  post({ type: 'ready', where, note });
  const model = CharLM.create(backend, { model: 'lstm', ...SIZES[size] }, corpus.vocab.size, OPTIONS.seed);
  const r: Run = {
    vocab: corpus.vocab,
    source: { source: sourceName, bytes: false, valFrac: VAL_FRAC, testFrac: 0, chars: corpus.length },
    itersPerEpoch: 1, elapsed: 0, request: null,
  };
  run = r;
  const hooks = {
    checkpoint: async (req: CheckpointRequest): Promise<string> => {
      // The request holds the loop's own model, optimiser, state and progress, which stay
      // current as training goes on: a later download encodes them as they are then.
      r.request = req;
      return downloadName(req, r.itersPerEpoch);
    },
  };
  for await (const event of train(model, corpus, OPTIONS, hooks)) {
    if (event.type === 'start') r.itersPerEpoch = event.itersPerEpoch;
    if (event.type === 'iteration') r.elapsed = event.elapsed;
    post({ type: 'event', event });
    await between();
  }
  finished = true;
  dispose();
}

/**
 * Runs while train() waits at a yield, where the model, optimiser and state are consistent:
 * sends a checkpoint if one was asked for, and holds the run while paused.
 */
async function between(): Promise<void> {
  for (;;) {
    if (checkpointWanted) {
      checkpointWanted = false;
      await sendCheckpoint();
    }
    if (!paused || finished) return;
    await new Promise<void>((resolve) => { wake = resolve; });
    wake = null;
  }
}

async function sendCheckpoint(): Promise<void> {
  const req = run?.request;
  if (!run || !req) return;
  const ck = await checkpointFromTraining({ ...req, progress: { ...req.progress, elapsed: run.elapsed } }, run.vocab, run.source);
  // A copy with its own buffer, which can be handed over to the page without copying again.
  const bytes = new Uint8Array(encodeCheckpoint(ck));
  post({ type: 'checkpoint', name: downloadName(req, run.itersPerEpoch), bytes }, [bytes.buffer]);
}

/** char-rnn's name for a checkpoint taken now: epoch and the latest validation loss. */
function downloadName(req: CheckpointRequest, itersPerEpoch: number): string {
  const p = req.progress;
  const loss = p.valHistory.at(-1)?.[1] ?? p.trainHistory.at(-1)?.[1] ?? Number.NaN;
  return checkpointName(req.model.config.model, p.iter / itersPerEpoch, loss);
}

/** The text as a corpus, or an error that says what to paste. */
function corpusOf(text: string): Corpus {
  if (text.length === 0) throw new UserError('there is no text to train on: paste some, or drop a .txt file');
  const corpus = Corpus.fromText(text, { valFrac: VAL_FRAC });
  const need = OPTIONS.batch * OPTIONS.seq + 1;
  if (corpus.split('train').length < need) {
    let least = need;
    while (least - Math.round(least * VAL_FRAC) < need) least++;
    throw new UserError(`the text is too short: ${corpus.length} characters, but one batch of ${OPTIONS.batch} × ${OPTIONS.seq} ` +
      `needs at least ${least} (${Math.round(VAL_FRAC * 100)}% is held out for validation)`);
  }
  return corpus;
}
