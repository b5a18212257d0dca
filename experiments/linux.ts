// Linux C source. The post: the samples "look like" kernel code, with mostly balanced brackets and
// sane indentation, though the model cannot keep track of variables. Measured here on samples and,
// as the yardstick, on pieces of the held-out source of the same length (which also begin mid-function).
import { checkpointDir, corpusText, int, lossChart, pct, plan, runFacts, samplesBesideSource, trainRun, type Context, type RunResult } from './common.js';
import { fence, table, title, section } from './doc.js';
import { cBrackets, cIndentation, total, type Brackets, type Indentation } from './measure.js';

/** The Linux model, its checkpoint in the linux experiment's directory (the cells experiment reads it). */
export async function trainLinux(ctx: Context): Promise<RunResult> {
  const text = await corpusText(ctx, 'linux.txt', 'mobydick');
  // A smaller validation share than the default: 2 % of 8.6 MB is still 170,000 characters.
  const p = plan(ctx, {
    model: { model: 'lstm', layers: 2, hidden: 256 },
    train: { batch: 50, seq: 50, lr: 2e-3, evalEvery: 400 },
  }, 600);
  return trainRun(ctx, { text, valFrac: 0.02, ...p, checkpointDir: checkpointDir(ctx, 'linux'), log: 'linux' });
}

export async function linux(ctx: Context): Promise<string> {
  const run = await trainLinux(ctx);
  const { samples, real, described } = await samplesBesideSource(ctx, run);
  const measured = [samples, real].map((t) => {
    const each = t.map(cBrackets);
    const b = total<Brackets>(each), ind = total<Indentation>(t.map(cIndentation));
    return {
      b, mismatched: b.mismatched / Math.max(1, b.pairs), deepest: Math.max(...each.map((x) => x.maxDepth)),
      tabs: ind.tabsOnly / Math.max(1, ind.indented), depth: ind.matchesDepth / Math.max(1, ind.depthLines),
    };
  });
  const rows = measured.map((m, k) => [k === 0 ? 'samples' : 'held-out source', int(m.b.pairs), pct(m.mismatched),
    int(m.b.strayClosers), int(m.b.unclosed), String(m.deepest), pct(m.tabs), pct(m.depth)]);
  const [gen, ref] = measured;
  const summary = `Brackets: ${pct(gen.mismatched)} of the samples' closing brackets close an opening bracket of another ` +
    `kind (held-out source: ${pct(ref.mismatched)}), and ${int(gen.b.unclosed)} are still open at the ends of the ` +
    `samples (held-out source: ${int(ref.b.unclosed)}). Indentation: ${pct(gen.depth)} of the checked lines of the ` +
    `samples are indented by exactly their brace depth (held-out source: ${pct(ref.depth)}), and ${pct(gen.tabs)} of ` +
    `their indented lines use tabs only (held-out source: ${pct(ref.tabs)}). The post found the samples well-formed ` +
    'at a glance; these counts say how far that holds when checked.\n';
  return section([
    title(ctx.name),
    runFacts(ctx, [run]),
    await lossChart(ctx, 'linux-loss.svg', [run], 'Linux source (fs/, kernel/, mm/)'),
    `${described}. Brackets ( [ { are counted outside strings, character literals and comments: ` +
      '"mismatched" is the share of closing brackets that close an opening one of another kind, "stray" are closers with ' +
      'nothing open (a piece may begin inside a function), "unclosed" are openers still open at the end. Indentation: the ' +
      'share of indented lines indented with tabs only (the kernel\'s style), and the share of lines, from the first one at ' +
      'the top level on, whose number of leading tabs equals the brace depth there (continuation lines, labels and ' +
      'preprocessor lines excluded).\n',
    table(['text', 'bracket pairs', 'mismatched', 'stray closers', 'unclosed at end', 'deepest nesting', 'tab-indented', 'indent = brace depth'], rows),
    summary,
    '### Sample\n',
    fence(samples[0], 'c'),
    '### Another sample\n',
    fence(samples[1], 'c'),
  ]);
}
