// How much of a sample is copied from the training text: for lengths 10 to 50, the share of the
// sample's substrings of that length that occur verbatim in the training split (torch-rnn's check
// for novel substrings). Held-out text of the same length is the yardstick: real text the model
// never saw also shares short substrings with the training text, and few long ones.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Corpus, modelFromCheckpoint, sampleTexts, type CharLM } from '../src/index.js';
import { readCheckpoint } from '../src/node/index.js';
import { checkpointDir, corpusText, describeModel, factsHead, int, lossChart, lossText, pct, relativeToRoot, runFacts, type Context } from './common.js';
import { fence, table, title, section } from './doc.js';
import { excerpts, overlap, type Overlap } from './measure.js';
import { trainShakespeare } from './shakespeare.js';

const LENGTHS = [10, 20, 30, 40, 50];
const STREAMS = 4;
const LENGTH = 2500;
const TEMPERATURES = [1, 0.5];

export async function memorisation(ctx: Context): Promise<string> {
  const text = await corpusText(ctx, 'tinyshakespeare.txt', 'shakespeare');
  // The shakespeare experiment's model when it is there (the same text and split), else one trained here.
  const reused = join(checkpointDir(ctx, 'shakespeare'), 'latest.safetensors');
  let model: CharLM, corpus: Corpus, facts: string;
  const ck = existsSync(reused) ? await readCheckpoint(reused) : null;
  if (ck && ck.training && ck.training.corpus.chars === [...text.text].length) {
    corpus = Corpus.fromText(text.text, { valFrac: ck.training.corpus.valFrac });
    model = modelFromCheckpoint(ctx.backend, ck);
    const p = ck.training.progress;
    const val = p.valHistory.at(-1);
    facts = `${factsHead(ctx)}\nModel: the shakespeare experiment's checkpoint (\`${relativeToRoot(reused)}\`), ` +
      `${describeModel(ck.config, model.layout.total)}, trained ${int(p.iter)} iterations on ${text.label}; ` +
      `validation loss ${val ? lossText(val[1]) : '– nats (– bits per character)'}.\n`;
  } else {
    const run = await trainShakespeare(ctx, text);
    ({ model, corpus } = run);
    facts = 'No checkpoint of the shakespeare experiment was found, so this run trained its own model.\n\n' +
      runFacts(ctx, [run]) + '\n' + await lossChart(ctx, 'memorisation-loss.svg', [run], 'Tiny Shakespeare');
  }
  const trainText = corpus.vocab.decode(corpus.split('train'));
  const n = ctx.opts.quick ? 2 : STREAMS, len = ctx.opts.quick ? 200 : LENGTH;
  const rows: string[][] = [];
  const measured: Overlap[][] = [];
  let shown = '';
  for (const t of TEMPERATURES) {
    const samples = await sampleTexts(model, corpus.vocab, { count: n, length: len, temperature: t, seed: 9 });
    if (t === 1) shown = samples[0].slice(0, 800);
    measured.push(overlap(samples, trainText, LENGTHS));
    rows.push([`samples, temperature ${t}`, ...measured.at(-1)!.map((o) => pct(o.fraction))]);
  }
  const real = overlap(excerpts(corpus.vocab.decode(corpus.split('val')), n, len), trainText, LENGTHS);
  rows.push(['held-out text', ...real.map((o) => pct(o.fraction))]);
  // Copying shows at the lengths where real text stops matching by chance: 30 characters and more.
  const long = measured[0].filter((o) => o.length >= 30);
  const most = long.reduce((a, b) => (b.fraction > a.fraction ? b : a));
  const verdict = most.fraction <= 0.01
    ? `At temperature 1, at most ${pct(most.fraction)} of the substrings of 30 characters or more are found in the training ` +
      'text: the model writes new text rather than replaying its training text, which is what torch-rnn\'s check looks for.\n'
    : `At temperature 1, ${pct(most.fraction)} of the substrings of ${most.length} characters are found verbatim in the ` +
      'training text: the model replays pieces of what it read.\n';
  return section([
    title(ctx.name),
    facts,
    `${n} samples of ${int(len)} characters at each temperature (seed 9, no prime), and ${n} ` +
      `pieces of the held-out text of the same length. Each cell is the share of all the text's substrings of that length ` +
      `(every start position) that occur verbatim in the training split (${int(trainText.length)} characters).\n`,
    table(['text', ...LENGTHS.map((L) => `${L} characters`)], rows),
    'Short substrings are shared by any English text; what tells copying from writing is how fast the share falls with ' +
      'the length, against the held-out text\'s.\n',
    verdict,
    '### A sample at temperature 1\n',
    fence(shown),
  ]);
}
