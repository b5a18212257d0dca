// Wikipedia's XML dump. The post reports 1.57 bits per character on the whole of enwik8 (100 MB)
// with a 3×700 LSTM trained on a GPU; this is the first 1 MB of it (enwik6), a smaller model and
// minutes on a CPU, so the figure is not the same measurement: it says how far this budget gets.
import { sampleText } from '../src/index.js';
import { corpusText, describeModel, int, lossChart, num, plan, runFacts, trainRun, type Context } from './common.js';
import { fence, title, section } from './doc.js';

const POST_BPC = 1.57;

export async function wikipedia(ctx: Context): Promise<string> {
  const text = await corpusText(ctx, 'enwik6.txt', 'mobydick');
  const p = plan(ctx, {
    model: { model: 'lstm', layers: 2, hidden: 256 },
    train: { batch: 50, seq: 50, lr: 2e-3, evalEvery: 300 },
  }, 480);
  const run = await trainRun(ctx, { text, ...p });
  const sample = await sampleText(run.model, run.corpus.vocab, { length: ctx.opts.quick ? 300 : 1500, temperature: 1, seed: 11 });
  const valChars = run.corpus.split('val').length;
  return section([
    title(ctx.name),
    runFacts(ctx, [run]),
    await lossChart(ctx, 'wikipedia-loss.svg', [run], 'enwik6 (first 1 MB of enwik8)'),
    `Validation: the last ${int(valChars)} characters of the text (${run.spec.text.label}), ` +
      `${int(run.corpus.vocab.size)} distinct symbols in the whole text. Bits per character: **${num(run.bpc, 3)}**.\n`,
    `The post reports ${POST_BPC} bits per character on enwik8 with a 3-layer LSTM of 700 units, trained on the 100 MB ` +
      'file. This run trained on a 1 MB excerpt of it (the first 10^6 bytes, enwik6) ' +
      `for ${Math.round(run.seconds / 60)} minutes with a ${describeModel(run.config, run.params)}, so its ${num(run.bpc, 3)} measures what this budget ` +
      'reaches on this excerpt, not the post\'s setting: a hundred times less text, which the model cannot generalise ' +
      'from as well, and a far smaller model and budget.\n',
    '### Sample (temperature 1, seed 11)\n',
    fence(sample, 'xml'),
  ]);
}
