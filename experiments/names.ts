// Baby names: sampled names that are not in the training set. The post (8,000 names): "about 90%
// of the samples do not appear in the training data". Here the built-in `names` corpus (8,422
// names, about the post's) and the larger SSA list of makemore.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sampleTexts } from '../src/index.js';
import { resolveCorpusText } from '../src/node/index.js';
import { int, lossChart, pct, plan, relativeToRoot, runFacts, trainRun, type Context, type RunResult, type Text } from './common.js';
import { fence, table, title, section } from './doc.js';
import { novelty, sampledLines, type Novelty } from './measure.js';

const STREAMS = 40;
const LENGTH = 700;

async function texts(ctx: Context): Promise<Text[]> {
  const out: Text[] = [{ label: 'the built-in `names` corpus', source: 'names', text: (await resolveCorpusText('names')).text }];
  const file = join(ctx.opts.data, 'names.txt');
  if (existsSync(file)) out.push({ label: `\`${relativeToRoot(file)}\``, source: file, text: (await resolveCorpusText(file)).text });
  else if (!ctx.opts.quick) throw new Error(`${file} is missing: give the directory of corpora with --data DIR`);
  if (ctx.opts.quick) for (const t of out) t.text = t.text.slice(0, 20_000);
  return out;
}

interface Measured {
  run: RunResult;
  vsTrain: Novelty;
  vsAll: Novelty;
}

export async function names(ctx: Context): Promise<string> {
  const measured: Measured[] = [];
  for (const [k, text] of (await texts(ctx)).entries()) {
    // A short text gives few batches per epoch: smaller batches and a larger step (npm start's
    // recipe for short runs) make more of the minutes.
    // The built-in list is short enough to overfit: its validation loss bottomed out near epoch 20
    // (2.03) and rose to 2.21 by epoch 50, so its run stops at 20 epochs.
    const p = plan(ctx, {
      model: { model: 'lstm', layers: 2, hidden: 128, dropout: 0.25 },
      train: { batch: 25, seq: 50, lr: 4e-3, evalEvery: k === 0 ? 100 : 250, epochs: k === 0 ? 20 : 50 },
    }, 150);
    const run = await trainRun(ctx, { text, ...p, log: k === 0 ? 'names' : 'names.txt' });
    const lines = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    const trainSet = new Set(lines(run.corpus.vocab.decode(run.corpus.split('train'))));
    const allSet = new Set(lines(text.text));
    const samples = await sampleTexts(run.model, run.corpus.vocab, { count: ctx.opts.quick ? 4 : STREAMS, length: ctx.opts.quick ? 100 : LENGTH, temperature: 1, prime: '\n', seed: 3 });
    const got = sampledLines(samples);
    measured.push({ run, vsTrain: novelty(got, trainSet), vsAll: novelty(got, allSet) });
  }
  const rows = measured.map(({ run, vsTrain, vsAll }) => [
    run.spec.log ?? '', int(vsTrain.total), int(vsTrain.distinct), pct(vsTrain.fraction), pct(vsAll.fraction),
  ]);
  const examples = measured.map(({ run, vsAll }) => [
    `### ${run.spec.log}: new names`, '', fence(vsAll.novelExamples.join('\n')), '',
    `### ${run.spec.log}: sampled names that are in the corpus`, '', fence(vsAll.knownExamples.join('\n')), '',
  ].join('\n'));
  return section([
    title(ctx.name),
    runFacts(ctx, measured.map((m) => m.run)),
    await lossChart(ctx, 'names-loss.svg', measured.map((m) => m.run), 'Names'),
    `Each model wrote ${ctx.opts.quick ? 4 : STREAMS} samples of ${ctx.opts.quick ? 100 : LENGTH} characters at temperature 1 ` +
      '(seed 3), each primed with a newline so it starts at the beginning of a name; every complete line is one sampled name ' +
      '(the last, cut-off line of each sample is dropped). A name is new if it is not one of the names of the training ' +
      'split, or, stricter, of the whole corpus (validation names included).\n',
    table(['corpus', 'sampled names', 'distinct', 'new (not in the training split)', 'new (not anywhere in the corpus)'], rows),
    `The post found about 90 % of the sampled names new on its 8,000 names. Here: ${measured.map(({ run, vsTrain }) => `${pct(vsTrain.fraction)} on ${run.spec.log}`).join(', ')}.\n`,
    ...examples,
  ]);
}
