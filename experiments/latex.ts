// The LaTeX source of the Stacks project, the algebraic-geometry book of the post. The post: the
// samples almost compile, though the model opens environments it closes as others
// (\begin{proof} … \end{lemma}). Measured here: \begin/\end nesting and brace balance, on samples
// and on pieces of the held-out source of the same length.
import { checkpointDir, corpusText, int, lossChart, pct, plan, runFacts, samplesBesideSource, trainRun, type Context } from './common.js';
import { fence, table, title, section } from './doc.js';
import { latexEnvironments, texBraces, total, type Brackets, type Environments } from './measure.js';

export async function latex(ctx: Context): Promise<string> {
  const text = await corpusText(ctx, 'latex.txt', 'mobydick');
  const p = plan(ctx, {
    model: { model: 'lstm', layers: 2, hidden: 256 },
    train: { batch: 50, seq: 50, lr: 2e-3, evalEvery: 300 },
  }, 420);
  const run = await trainRun(ctx, { text, valFrac: 0.02, ...p, checkpointDir: checkpointDir(ctx) });
  const { samples, real, described } = await samplesBesideSource(ctx, run);
  const measured = [samples, real].map((t) => {
    const e = total<Environments>(t.map(latexEnvironments)), b = total<Brackets>(t.map(texBraces));
    return { e, b, same: e.matched / Math.max(1, e.matched + e.mismatched) };
  });
  const rows = measured.map(({ e, b, same }, k) => [k === 0 ? 'samples' : 'held-out source', int(e.begins), int(e.ends),
    pct(same), int(e.mismatched), int(b.pairs), int(b.strayClosers), int(b.unclosed)]);
  const [gen, ref] = measured;
  const summary = `Of the samples' \\end{…} that close an open environment, ${pct(gen.same)} close one of the same name ` +
    `(held-out source: ${pct(ref.same)}); ${int(gen.e.mismatched)} close one of another name, the post's ` +
    `\\begin{proof} … \\end{lemma}, and ${int(gen.b.unclosed)} braces are left open at the ends of the samples ` +
    `(held-out source: ${int(ref.b.unclosed)}).\n`;
  return section([
    title(ctx.name),
    runFacts(ctx, [run]),
    await lossChart(ctx, 'latex-loss.svg', [run], 'The Stacks project (LaTeX)'),
    `${described}, outside % comments. "Closed by the same name" is the share of \\end{…} ` +
      'that close an open \\begin{…} of the same name, the post\'s \\begin{proof} … \\end{lemma} being the other kind; ' +
      'braces are counted without \\{ and \\}.\n',
    table(['text', '\\begin', '\\end', 'closed by the same name', 'closed by another', 'brace pairs', 'stray }', 'unclosed {'], rows),
    summary,
    '### Sample\n',
    fence(samples[0], 'latex'),
    '### Another sample\n',
    fence(samples[1], 'latex'),
  ]);
}
