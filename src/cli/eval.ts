// `charrnn eval`: loss and bits per character of a checkpoint on a text file, or on a split
// of the corpus it was trained on (rebuilt from the checkpoint's record of it).
import { Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { createBackend } from '../node/backend.js';
import { modelFromCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { readCheckpoint } from '../node/checkpoint-file.js';
import { loadTextFile } from '../node/corpus-file.js';
import { openCorpus } from '../node/datasets.js';
import { evaluate } from '../train/evaluate.js';
import { thousands, unitOf } from './format.js';
import { intArg } from './parse.js';
import { requireSameVocab } from './vocab-match.js';

interface EvalFlags {
  split: 'val' | 'test';
  batch: number;
  seq: number;
  backend: string;
  threads?: number;
  tune: boolean;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program.command('eval')
    .description('loss and bits per character of a model on a text file, or on a split of its training corpus')
    .argument('<ckpt>', 'a checkpoint (.safetensors)')
    .argument('[file]', 'a UTF-8 text file (default: a split of the corpus the checkpoint was trained on)')
    .addOption(new Option('--split <name>', 'which split of the training corpus, without a file').choices(['val', 'test']).default('val'))
    .option('--batch <n>', 'sequences evaluated side by side', intArg, 50)
    .option('--seq <n>', 'characters per sequence', intArg, 50)
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'js', 'wasm', 'webgpu']).default('auto'))
    .option('--threads <n>', 'worker threads for the wasm backend (default: all cores)', intArg)
    .option('--no-tune', 'webgpu: keep the fixed kernel plans, and a layer\'s steps a dispatch each, instead of timing them on this GPU')
    .option('--json', 'print the result as one JSON object')
    .action(async (path: string, file: string | undefined, flags: EvalFlags, cmd: Command) => {
      // --split always has a value (its default), so only its source tells whether the user chose
      // one that the file would silently override.
      if (file !== undefined && cmd.getOptionValueSource('split') === 'cli') {
        throw new UserError('--split applies to the checkpoint\'s own corpus; it cannot be used with a file');
      }
      await runEval(path, file, flags);
    });
}

async function runEval(path: string, file: string | undefined, f: EvalFlags): Promise<void> {
  for (const [flag, v] of [['batch', f.batch], ['seq', f.seq]] as const) {
    if (!(Number.isInteger(v) && v >= 1 && v <= 65536)) throw new UserError(`--${flag} must be an integer from 1 to 65536, got ${v}`);
  }
  const backend = await createBackend(f.backend, { threads: f.threads, tune: f.tune ? undefined : false });
  const ck = await readCheckpoint(path);
  const { ids, what } = file !== undefined ? await fileIds(ck, file) : await splitIds(ck, path, f.split);
  const model = modelFromCheckpoint(backend, ck);
  const r = await evaluate(model, ids, f.batch, f.seq, what.file ?? `the ${what.split} split of ${what.corpus}`);
  const unit = unitOf(ck.vocab.kind);
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ loss: r.loss, bpc: r.bpc, chars: r.chars, unit, ...what })}\n`);
  } else {
    const of = what.file !== undefined ? what.file : `${what.split} split of ${what.corpus}`;
    process.stdout.write(`loss ${r.loss.toFixed(4)} nats/${unit}, ${r.bpc.toFixed(3)} bits/${unit} over ${thousands(r.chars)} ${unit}s (${of})\n`);
  }
}

interface Source {
  ids: ArrayLike<number>;
  what: { file?: string; corpus?: string; split?: string };
}

async function fileIds(ck: Checkpoint, file: string): Promise<Source> {
  const text = await loadTextFile(file);
  return { ids: ck.vocab.encode(text, `${file} has ${ck.vocab.kind === 'bytes' ? 'bytes' : 'characters'} the model never saw`), what: { file } };
}

async function splitIds(ck: Checkpoint, path: string, split: 'val' | 'test'): Promise<Source> {
  if (!ck.training) throw new UserError(`${path} has no training record, so its corpus is unknown: name a text file to evaluate on`);
  const c = ck.training.corpus;
  const { corpus } = await openCorpus(c.source, { bytes: c.bytes, valFrac: c.valFrac, testFrac: c.testFrac });
  requireSameVocab(ck.vocab, corpus.vocab, `${c.source} has changed since ${path} was trained on it`);
  if (corpus.length !== c.chars) {
    process.stderr.write(`charrnn: warning: ${c.source} has ${thousands(corpus.length)} ${unitOf(ck.vocab.kind)}s now, ${thousands(c.chars)} when trained on; the split may differ\n`);
  }
  const ids = corpus.split(split);
  if (ids.length === 0) {
    const frac = split === 'val' ? `--val-frac ${c.valFrac}` : `--test-frac ${c.testFrac}`;
    throw new UserError(`the ${split} split of ${c.source} is empty (trained with ${frac}): name a text file to evaluate on`);
  }
  return { ids, what: { corpus: c.source, split } };
}
