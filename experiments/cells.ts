// The post's interpretable cells, looked for in the Linux model: the visualiser's ranking (the
// Pearson correlation of every cell's activation with a feature of the text) names the cell that
// best tracks each feature, `charrnn viz` writes the standalone page, and Chromium photographs it
// with that cell selected.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  Corpus, inspectText, modelFromCheckpoint, positionSymbols, rankCells, textFeatures,
  type FeatureName, type FeatureRanking, type RankedCell,
} from '../src/index.js';
import { readCheckpoint } from '../src/node/index.js';
import { checkpointDir, corpusText, describeModel, factsHead, figurePath, int, lossText, relativeToRoot, ROOT, type Context } from './common.js';
import { fence, table, title, section } from './doc.js';
import { excerpts } from './measure.js';
import { trainLinux } from './linux.js';
import { CHROMIUM, CHROMIUM_FLAGS } from '../test/helpers/chromium.js';

const FEATURES: FeatureName[] = ['quote', 'column', 'depth', 'comment'];
const PAGE_CHARS = 3000; // the page holds every cell at every character: about 1.3 MB for a 2×256 LSTM
const RANK_CHARS = 30_000; // a longer held-out text, to see whether a cell's score holds beyond the page

const cellName = (c: RankedCell): string => `layer ${c.layer} ${c.kind === 'c' ? 'tanh(c)' : 'h'} ${c.cell}`;
const same = (a: RankedCell, b: RankedCell): boolean => a.layer === b.layer && a.kind === b.kind && a.cell === b.cell;

/** A piece of the held-out source with every feature present: a string, a comment and brackets. */
function pageText(val: string, chars: number): string {
  const candidates = excerpts(val, 40, chars);
  const rich = (t: string): number => Math.min((t.match(/"/g) ?? []).length, (t.match(/\/\*|\/\//g) ?? []).length * 2);
  return candidates.reduce((best, t) => (rich(t) > rich(best) ? t : best), candidates[0]);
}

export async function cells(ctx: Context): Promise<string> {
  const ckPath = join(checkpointDir(ctx, 'linux'), 'latest.safetensors');
  const trained = !existsSync(ckPath);
  if (trained) await trainLinux(ctx);
  const ck = await readCheckpoint(ckPath);
  if (!ck.training) throw new Error(`${ckPath} has no training record: its corpus split is unknown`);
  const text = await corpusText(ctx, 'linux.txt', 'mobydick');
  const corpus = Corpus.fromText(text.text, { valFrac: ck.training.corpus.valFrac });
  const model = modelFromCheckpoint(ctx.backend, ck);
  const val = corpus.vocab.decode(corpus.split('val'));
  const pageChars = ctx.opts.quick ? 400 : PAGE_CHARS;
  const page = pageText(val, pageChars);
  const long = val.slice(0, ctx.opts.quick ? 2000 : RANK_CHARS);

  const rank = async (t: string, top: number): Promise<FeatureRanking[]> => {
    const ins = await inspectText(model, ck.vocab, t);
    return rankCells(ins.traces, textFeatures(positionSymbols(ins)), top);
  };
  const all = ck.config.layers * ck.config.hidden * (ck.config.model === 'lstm' ? 2 : 1);
  const onPage = await rank(page, 5), onLong = await rank(long, all);
  const rows = FEATURES.map((f) => {
    const p = onPage.find((x) => x.feature === f)!, l = onLong.find((x) => x.feature === f)!;
    const best = p.best[0];
    if (!best) return [f, p.description, 'constant in the page\'s text', '', '', ''];
    const there = l.best.find((c) => same(c, best));
    const bestLong = l.best[0];
    return [f, p.description, cellName(best), signed(best.r), there ? signed(there.r) : '–',
      bestLong ? `${cellName(bestLong)} (${signed(bestLong.r)})` : 'constant'];
  });

  // The page, written by the command line tool as a user would write it, from the repository
  // root, so that the page names its text and checkpoint by the paths in the command below.
  const html = await figurePath(ctx, 'cells-linux.html');
  const excerptFile = join(checkpointDir(ctx), 'linux-heldout.c');
  await mkdir(checkpointDir(ctx), { recursive: true });
  await writeFile(excerptFile, page);
  const vizArgs = ['viz', relativeToRoot(ckPath), relativeToRoot(excerptFile), '--out', relativeToRoot(html.path), '--max-chars', String(pageChars)];
  const backendArgs = ['--backend', ctx.opts.backend, ...(ctx.opts.threads ? ['--threads', String(ctx.opts.threads)] : [])];
  await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'charrnn.js'), ...vizArgs, ...backendArgs], { cwd: ROOT, maxBuffer: 16 << 20 });
  const pictures = await photograph(ctx, html.path, page, onPage);
  const size = (await stat(html.path)).size;
  const lastVal = ck.training.progress.valHistory.at(-1);

  return section([
    title(ctx.name),
    factsHead(ctx),
    `Model: the linux experiment's checkpoint \`${relativeToRoot(ckPath)}\`${trained ? ' (trained by this run: there was none)' : ''}, ` +
      `${describeModel(ck.config, model.layout.total)}, trained ${int(ck.training.progress.iter)} iterations` +
      (lastVal ? `; validation loss ${lossText(lastVal[1])}.\n` : '.\n'),
    `The visualiser's ranking (\`rankCells\`: the Pearson correlation r, over the characters of a text, between each cell's ` +
      'activation — every layer\'s h and tanh(c), every unit — and a feature of the text) on a piece of ' +
      `${int([...page].length)} characters of the held-out source (the page below), and, to see whether a cell's score holds ` +
      `beyond it, on the first ${int([...long].length)} characters of the held-out source. The features are those of ` +
      '`src/inspect/features.ts`; the post found a quote cell, a line-length cell, a bracket-depth cell and a comment cell.\n',
    table(['feature', 'meaning', 'best cell on the page', 'r on the page', `r of that cell on ${int([...long].length)} characters`, `best cell on ${int([...long].length)} characters`], rows),
    `The standalone page ([${html.link}](${html.link}), ${(size / 1e6).toFixed(1)} MB, opens from disk) was written with ` +
      `\`node bin/charrnn.js ${vizArgs.join(' ')}\`, where ${relativeToRoot(excerptFile)} is the piece of held-out source ` +
      'above, saved by the experiment. Blue is positive activation, red negative; ' +
      'in the page, hover over a character for the model\'s five guesses at the next one, or pick any other cell.\n',
    ...pictures,
    '### The text of the page (its first 600 characters)\n',
    fence(page.slice(0, 600), 'c'),
  ]);
}

function signed(r: number): string {
  return `${r >= 0 ? '+' : '−'}${Math.abs(r).toFixed(2)}`;
}

/** A picture of the page per feature, with its best cell selected; a note instead where there is no Chromium. */
async function photograph(ctx: Context, page: string, text: string, ranking: FeatureRanking[]): Promise<string[]> {
  if (!existsSync(CHROMIUM)) return [`(No pictures: no Chromium at ${CHROMIUM}.)\n`];
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  const out: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`file://${page}`);
    await tab.waitForSelector('#ranking button.show-cell', { timeout: 60_000 });
    const features = textFeatures(Array.from(text));
    for (const f of FEATURES) {
      const best = ranking.find((x) => x.feature === f)?.best[0];
      if (!best) continue;
      await tab.locator(`#ranking button.show-cell[data-cell="${best.layer}/${best.kind}/${best.cell}"]`).first().click();
      // The text box scrolls: show it where the feature is on (a string, a comment), the page
      // from its top, and the model's guesses at that character.
      const values = features.find((x) => x.name === f)!.values;
      const at = Math.max(0, values.findIndex((v) => v > 0));
      const span = tab.locator(`#viz span.ch[data-i="${at}"]`);
      await span.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await tab.evaluate(() => window.scrollTo(0, 0));
      await span.hover();
      const fig = await figurePath(ctx, `cells-${f}.png`);
      await tab.screenshot({ path: fig.path });
      out.push(`### ${f}: ${cellName(best)} (r = ${signed(best.r)})\n\n![${f} cell](${fig.link})\n`);
    }
    if (errors.length > 0) throw new Error(`the page failed: ${errors.join('; ')}`);
  } finally {
    await browser.close();
  }
  return out;
}
