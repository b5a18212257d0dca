// War and Peace: samples taken while the model trains, at the iterations the post shows
// (100, 300, 500, 700, 1200, 2000), to see spaces, words, punctuation and quotes appear in turn.
import { sampleText } from '../src/index.js';
import { corpusText, lossChart, plan, runFacts, trainRun, type Context } from './common.js';
import { fence, table, title, section } from './doc.js';

const AT = [100, 300, 500, 700, 1200, 2000];
const QUICK_AT = [2, 5, 10, 15, 20, 30];
const LENGTH = 300;
const TEMPERATURE = 1;

export async function evolution(ctx: Context): Promise<string> {
  const at = ctx.opts.quick ? QUICK_AT : AT;
  const text = await corpusText(ctx, 'warandpeace.txt', 'mobydick');
  // The post's figure is in iterations, so the run is 2000 of them, not a time budget.
  const p = plan(ctx, {
    model: { model: 'lstm', layers: 2, hidden: 256 },
    train: { batch: 50, seq: 50, lr: 2e-3, evalEvery: 100, maxIters: at.at(-1) },
  }, 0);
  const samples = new Map<number, string>();
  const run = await trainRun(ctx, {
    text, ...p,
    onIteration: async (iter, model, corpus) => {
      if (!at.includes(iter)) return;
      const s = await sampleText(model, corpus.vocab, { length: LENGTH, temperature: TEMPERATURE, seed: 1 });
      samples.set(iter, s);
    },
  });
  // The loss beside each sample: the training loss at that iteration (the mean of the 20 before it).
  const lossAt = (iter: number): number => {
    const pts = run.trainCurve.filter(([i]) => i > iter - 20 && i <= iter);
    return pts.reduce((s, [, l]) => s + l, 0) / pts.length;
  };
  const valAt = (iter: number): string => {
    const v = run.valCurve.find(([i]) => i === iter);
    return v ? v[1].toFixed(3) : '–';
  };
  const rows = at.map((i) => [String(i), samples.has(i) ? lossAt(i).toFixed(3) : 'not reached', valAt(i)]);
  const shown = at.filter((i) => samples.has(i)).map((i) => `### Iteration ${i}\n\n${fence(samples.get(i)!)}`);
  return section([
    title(ctx.name),
    runFacts(ctx, [run]),
    await lossChart(ctx, 'evolution-loss.svg', [run], 'War and Peace'),
    `A sample of ${LENGTH} characters at temperature ${TEMPERATURE} (seed 1, no prime) was drawn at iterations ${at.join(', ')}, ` +
      `each iteration being one batch of ${run.options.batch} × ${run.options.seq} characters, as in the post (whose iterations ` +
      'were of a larger model). The training loss is the mean of the 20 iterations up to that one.\n',
    table(['iteration', 'training loss', 'validation loss'], rows),
    'The post saw the model learn first that words are separated by spaces, then short common words, then punctuation ' +
      'and quotes, and then longer words spelled right; the samples below can be read against that.\n',
    ...shown,
  ]);
}
