// `charrnn inspect`: what a checkpoint holds: the model, its vocabulary and tensors, and how it
// was trained. Reads the file only; nothing is computed on a backend.
import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import type { TrainingRecord } from '../io/checkpoint.js';
import { paramLayout } from '../model/params.js';
import { readCheckpoint } from '../node/checkpoint-file.js';
import { duration, escapeSymbols, thousands, unitOf } from './format.js';

const SHOWN_SYMBOLS = 40;

interface InspectFlags {
  json?: boolean;
}

export function registerInspect(program: Command): void {
  program.command('inspect')
    .description('show a checkpoint\'s model, vocabulary, tensors and training record')
    .argument('<ckpt>', 'a checkpoint (.safetensors)')
    .option('--json', 'print everything, loss histories included, as one JSON object')
    .action(async (path: string, flags: InspectFlags) => {
      await runInspect(path, flags);
    });
}

async function runInspect(path: string, f: InspectFlags): Promise<void> {
  const ck = await readCheckpoint(path);
  const fileBytes = (await stat(path)).size;
  const layout = paramLayout(ck.config, ck.vocab.size);
  const tensors = layout.specs.map((s) => ({ name: s.name, shape: s.shape, size: s.length }));
  const training = ck.training ? summarize(ck.training) : null;
  if (f.json) {
    process.stdout.write(`${JSON.stringify({
      path, fileBytes, config: ck.config,
      vocab: { kind: ck.vocab.kind, size: ck.vocab.size, symbols: ck.vocab.symbols },
      params: layout.total, tensors,
      training: training && ck.training
        ? { ...training, history: { train: ck.training.progress.trainHistory, val: ck.training.progress.valHistory } }
        : null,
    })}\n`);
    return;
  }
  const lines: string[] = [];
  const row = (label: string, value: string): void => { lines.push(`${label.padEnd(12)}${value}`); };
  const c = ck.config;
  row('file', `${path} (${thousands(fileBytes)} bytes)`);
  row('model', `${c.model}, ${c.layers} layer${c.layers > 1 ? 's' : ''} of ${c.hidden}, ` +
    `${c.embedding > 0 ? `embedding ${c.embedding}` : 'one-hot input'}, dropout ${c.dropout}`);
  const shown = ck.vocab.symbols.slice(0, SHOWN_SYMBOLS);
  const more = ck.vocab.size > SHOWN_SYMBOLS ? ` … (${ck.vocab.size - SHOWN_SYMBOLS} more)` : '';
  row('vocabulary', `${ck.vocab.size} ${unitOf(ck.vocab.kind)}s: ${escapeSymbols(shown, ck.vocab.kind)}${more}`);
  row('parameters', thousands(layout.total));
  const nameWidth = Math.max(...tensors.map((t) => t.name.length)) + 2;
  const shapeWidth = Math.max(...tensors.map((t) => t.shape.join(' × ').length)) + 2;
  for (const t of tensors) {
    lines.push(`  ${t.name.padEnd(nameWidth)}${t.shape.join(' × ').padEnd(shapeWidth)}${thousands(t.size).padStart(10)}`);
  }
  if (!training || !ck.training) {
    row('training', 'no record (weights only)');
  } else {
    const loss = (x: number | null): string => (x === null ? '-' : x.toFixed(4));
    row('training', `iteration ${thousands(training.iter)}, epoch ${training.epoch.toFixed(2)}, ${duration(training.elapsed)}`);
    row('train loss', `${loss(training.trainLoss)} (last)`);
    row('val loss', `${loss(training.bestValLoss)} best, ${loss(training.lastValLoss)} last`);
    row('optimizer', `${training.optimizer}, learning rate ${training.lr.toExponential(3)}`);
    row('options', Object.entries(training.options).map(([k, v]) => `${k} ${String(v)}`).join(', '));
    const src = training.corpus;
    row('corpus', `${src.source}: ${thousands(src.chars)} ${unitOf(ck.vocab.kind)}s, val ${src.valFrac}, test ${src.testFrac}${src.bytes ? ', bytes' : ''}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function summarize(t: TrainingRecord): {
  iter: number; epoch: number; trainLoss: number | null; bestValLoss: number | null; lastValLoss: number | null;
  elapsed: number; optimizer: string; lr: number; options: TrainingRecord['options']; corpus: TrainingRecord['corpus'];
} {
  const p = t.progress;
  return {
    iter: p.iter, epoch: epochOf(t), trainLoss: p.trainHistory.at(-1)?.[1] ?? null, bestValLoss: p.bestValLoss,
    lastValLoss: p.valHistory.at(-1)?.[1] ?? null, elapsed: p.elapsed, optimizer: t.optimizer, lr: p.lr,
    options: t.options, corpus: t.corpus,
  };
}

// The loop counts epochs in batches of the training split; the split's size follows from the
// corpus record the same way Corpus computes it.
function epochOf(t: TrainingRecord): number {
  const n = t.corpus.chars;
  const train = n - Math.round(n * t.corpus.valFrac) - Math.round(n * t.corpus.testFrac);
  const perEpoch = Math.floor((train - 1) / (t.options.batch * t.options.seq));
  return perEpoch > 0 ? t.progress.iter / perEpoch : 0;
}
