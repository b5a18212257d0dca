// The three cells on the same text, the same shape (2 layers of 256), the same settings and the
// same training time each. The post uses LSTMs and notes GRUs work about as well; vanilla RNNs
// are known to do worse on long dependencies.
import { corpusText, describeModel, int, lossChart, num, plan, runFacts, seconds, trainRun, type Context, type RunResult } from './common.js';
import { table, title, section } from './doc.js';
import type { CellType } from '../src/index.js';

const CELLS: CellType[] = ['lstm', 'gru', 'rnn'];

export async function gruLstmRnn(ctx: Context): Promise<string> {
  const text = await corpusText(ctx, 'tinyshakespeare.txt', 'shakespeare');
  const runs: RunResult[] = [];
  for (const cell of CELLS) {
    const p = plan(ctx, {
      model: { model: cell, layers: 2, hidden: 256 },
      train: { batch: 50, seq: 50, lr: 2e-3, evalEvery: 200 },
    }, 180);
    runs.push(await trainRun(ctx, { text, ...p, log: cell.toUpperCase() }));
  }
  const best = [...runs].sort((a, b) => a.valLoss - b.valLoss);
  const rows = runs.map((r) => [r.spec.log ?? '', describeModel(r.config, r.params), int(r.iters), seconds(r.seconds),
    int(Math.round(r.charsPerSec)), num(r.valLoss), num(r.bpc, 3)]);
  const budget = runs[0].options.maxTime > 0 ? `${seconds(runs[0].options.maxTime)} of training each` : `${int(runs[0].options.maxIters)} iterations each`;
  return section([
    title(ctx.name),
    runFacts(ctx, runs),
    await lossChart(ctx, 'gru-vs-lstm-vs-rnn-loss.svg', runs, 'LSTM, GRU and RNN on tiny Shakespeare'),
    `The same text (${runs[0].spec.text.label}), the same layers and units, the same training settings and the same budget: ` +
      `${budget}. A cell with fewer gates does less work per character (the chars/s column), so it gets through more ` +
      'iterations in the same time; at the same width it also has fewer parameters.\n',
    table(['cell', 'model', 'iterations', 'training time', 'chars/s', 'val loss (nats)', 'bits/char'], rows),
    `Ranked by validation loss: ${best.map((r) => `${r.spec.log} ${num(r.valLoss)}`).join(' < ')}.\n`,
  ]);
}
