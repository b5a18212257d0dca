// The experiments' --quick variants, run as `npm run experiments` runs them: every section is
// written with its markers, its figures are numbers, its loss curves are well-formed SVG, and
// nothing of the committed docs/ is touched. The measures they report are checked on texts
// whose answers are known.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SECTIONS, readSection, writeSection } from '../experiments/doc.js';
import { cBrackets, cIndentation, latexEnvironments, novelty, overlap, repeatedFraction, sampledLines } from '../experiments/measure.js';

const RUN = resolve('dist/experiments/run.js');
const DOCS = resolve('docs');

let doc = '';
let outDir = '';
let docsBefore = '';

/** A fingerprint of the committed docs/experiments.md and docs/experiments/, to see that a quick run left them alone. */
async function docsState(): Promise<string> {
  const h = createHash('sha256');
  const file = join(DOCS, 'experiments.md');
  h.update(existsSync(file) ? await readFile(file) : 'absent');
  const dir = join(DOCS, 'experiments');
  for (const f of existsSync(dir) ? (await readdir(dir)).sort() : []) h.update(f).update(await readFile(join(dir, f)));
  return h.digest('hex');
}

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [RUN, ...args], { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
    });
  });
}

/** Every well-formed Markdown table row of a section whose first cell is `label`, split into cells. */
function rows(section: string, label: RegExp): string[][] {
  return section.split('\n').filter((l) => l.startsWith('| ')).map((l) => l.slice(2, -2).split(' | ')).filter((c) => label.test(c[0]));
}

const number = (s: string): number => {
  const x = Number(s.replace(/[ %,]/g, '').replace('−', '-'));
  assert.ok(Number.isFinite(x), `"${s}" is not a number`);
  return x;
};

/** Tags open and close in order, the root is <svg>, and there is a path with points. */
function checkSvg(svg: string, what: string): void {
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, `${what}: starts with <svg>`);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)\b[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `${what}: </${m[2]}> closes another element`);
    else stack.push(m[2]);
  }
  assert.deepEqual(stack, [], `${what}: unclosed elements`);
  assert.doesNotMatch(svg.replace(/<[^>]*>/g, ''), /[<>]/, `${what}: stray < or > in text`);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+"/, `${what}: a line`);
}

before(async () => {
  docsBefore = await docsState();
  const r = await run(['all', '--quick', '--threads', '1']);
  assert.equal(r.code, 0, `the quick experiments failed:\n${r.stderr}`);
  const m = /wrote its section of (.+experiments\.md)/.exec(r.stderr);
  assert.ok(m, `no output path in:\n${r.stderr}`);
  outDir = join(m[1], '..');
  doc = await readFile(m[1], 'utf8');
});

after(async () => {
  if (outDir && outDir.startsWith(tmpdir())) await rm(outDir, { recursive: true, force: true });
});

describe('npm run experiments -- all --quick', () => {
  it('writes to a temporary directory and leaves docs/ alone', async () => {
    assert.ok(outDir.startsWith(tmpdir()), `${outDir} is not under ${tmpdir()}`);
    assert.equal(await docsState(), docsBefore, 'docs/experiments.md or docs/experiments/ changed');
  });

  it('writes every section between its markers, with the command, the machine and the losses', () => {
    for (const { name } of SECTIONS) {
      const s = readSection(doc, name);
      assert.ok(s, `no section ${name}`);
      assert.match(s, new RegExp(`^## `), `${name}: a heading`);
      assert.match(s, new RegExp(`Command: \`npm run experiments -- ${name} --quick`), `${name}: the command`);
      assert.match(s, /Machine: .+, \d+ cores, Node v\d+/, `${name}: the machine`);
      assert.match(s, /Wall time of the whole experiment: \d+(\.\d)? s/, `${name}: the wall time`);
      // Up to the first sample: a sample may hold any text.
      assert.doesNotMatch(s.split('```')[0], /Not run yet|NaN|undefined|\{\{/, `${name}: a placeholder or a missing number`);
    }
  });

  it('states each training run\'s validation loss and bits per character, which agree', () => {
    for (const name of ['shakespeare', 'evolution', 'names', 'linux', 'latex', 'wikipedia', 'gru-vs-lstm-vs-rnn']) {
      const header = readSection(doc, name)!.split('\n').find((l) => l.startsWith('| run |'));
      assert.ok(header, `${name}: no table of runs`);
      const runs = rows(readSection(doc, name)!, /^(?!run$|---$)/).filter((r) => r.length === 9);
      assert.ok(runs.length > 0, `${name}: no runs`);
      for (const r of runs) {
        const loss = number(r[7]), bpc = number(r[8]);
        assert.ok(loss > 0 && loss < 10, `${name}: loss ${loss}`);
        assert.ok(Math.abs(bpc - loss / Math.LN2) < 2e-3, `${name}: ${bpc} bits is not ${loss} nats`);
      }
    }
    assert.equal(rows(readSection(doc, 'gru-vs-lstm-vs-rnn')!, /^(LSTM|GRU|RNN)$/).length, 6, 'three runs, in both tables');
  });

  it('draws each training run\'s loss curves as well-formed SVG, linked from its section', async () => {
    for (const name of ['shakespeare', 'evolution', 'names', 'linux', 'latex', 'wikipedia', 'gru-vs-lstm-vs-rnn']) {
      const link = /!\[[^\]]*\]\((experiments\/[\w-]+\.svg)\)/.exec(readSection(doc, name)!);
      assert.ok(link, `${name}: no chart`);
      checkSvg(await readFile(join(outDir, link[1]), 'utf8'), link[1]);
    }
  });

  it('measures what each experiment is about', async () => {
    const pcts = (name: string, label: RegExp, columns: number): number[] =>
      rows(readSection(doc, name)!, label).filter((r) => r.length === columns).flatMap((r) => r.filter((c) => c.endsWith(' %')).map(number));
    const within = (xs: number[], what: string): void => {
      assert.ok(xs.length > 0, `${what}: no figures`);
      for (const x of xs) assert.ok(x >= 0 && x <= 100, `${what}: ${x} %`);
    };
    within(pcts('shakespeare', /^(0\.2|0\.5|1|held-out text)$/, 3), 'repetition');
    within(pcts('names', /^names(\.txt)?$/, 5), 'novel names');
    within(pcts('linux', /^(samples|held-out source)$/, 8), 'brackets and indentation');
    within(pcts('latex', /^(samples|held-out source)$/, 8), 'environments');
    const memorised = rows(readSection(doc, 'memorisation')!, /^(samples|held-out)/);
    assert.equal(memorised.length, 3);
    for (const r of memorised) assert.equal(r.slice(1).map(number).length, 5);
    assert.match(readSection(doc, 'wikipedia')!, /Bits per character: \*\*\d\.\d{3}\*\*/);
    const cells = rows(readSection(doc, 'cells')!, /^(quote|column|depth|comment)$/);
    assert.equal(cells.length, 4);
    for (const r of cells.filter((c) => c[3].trim() !== '')) assert.ok(Math.abs(number(r[3])) <= 1, `r = ${r[3]}`);
    const page = join(outDir, 'experiments', 'cells-linux.html');
    assert.match(await readFile(page, 'utf8'), /id="viz-data"/, 'the viz page');
  });
});

describe('docs/experiments.md sections', () => {
  it('rewriting one section leaves the others as they were', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'charrnn-doc-'));
    try {
      const file = join(dir, 'experiments.md');
      await writeSection(file, 'names', '## names\n\nfirst');
      await writeSection(file, 'linux', '## linux\n\nsecond');
      const before = await readFile(file, 'utf8');
      await writeSection(file, 'names', '## names\n\nthird');
      const after = await readFile(file, 'utf8');
      assert.equal(readSection(after, 'names'), '## names\n\nthird');
      assert.equal(readSection(after, 'linux'), readSection(before, 'linux'));
      assert.match(readSection(after, 'cells')!, /Not run yet/);
      assert.equal(after.replace('third', 'first'), before);
      await writeFile(file, 'hand-written\n');
      await writeSection(file, 'cells', 'x');
      assert.equal(readSection(await readFile(file, 'utf8'), 'cells'), 'x', 'markers are added where missing');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the measures', () => {
  it('repetition: a loop repeats, a text of distinct windows does not', () => {
    assert.ok(repeatedFraction('the cat sat. '.repeat(20), 10) > 0.9);
    assert.equal(repeatedFraction('abcdefghijklmnopqrstuvwxyz', 5), 0);
  });

  it('novel names: complete lines only, checked against the known set', () => {
    const got = sampledLines(['\nAnna\nBob\nCa', '\nZed\nAnna\nx']);
    assert.deepEqual(got, ['Anna', 'Bob', 'Zed', 'Anna']);
    const n = novelty(got, new Set(['Anna', 'Bob']));
    assert.equal(n.novel, 1);
    assert.equal(n.fraction, 0.25);
    assert.deepEqual(n.novelExamples, ['Zed']);
  });

  it('overlap: the share of windows found verbatim', () => {
    const [o] = overlap(['abcdXY'], 'xxabcdxx', [4]);
    assert.deepEqual(o, { length: 4, total: 3, found: 1, fraction: 1 / 3 });
    assert.equal(overlap(['aaaa'], 'aaa', [3])[0].fraction, 1, 'a repeated window counts each time');
  });

  it('brackets: strings, characters and comments do not count; mismatches and strays do', () => {
    assert.deepEqual(cBrackets('f(a[1]) { s = "(("; c = \'{\'; /* ) */ } // ]'), { pairs: 3, mismatched: 0, strayClosers: 0, unclosed: 0, maxDepth: 2 });
    const b = cBrackets('}) x(a]; {');
    assert.equal(b.strayClosers, 2);
    assert.equal(b.mismatched, 1);
    assert.equal(b.unclosed, 1);
  });

  it('indentation: tabs equal to the brace depth from the first top-level line on', () => {
    const good = '\t\tx = 1;\n\t}\n}\nint f(void)\n{\n\tif (a) {\n\t\tb(1,\n\t\t  2);\n\t}\n\treturn 0;\n}\n';
    const r = cIndentation(good);
    assert.equal(r.depthLines, 8);
    assert.equal(r.matchesDepth, 8);
    const bad = cIndentation('int f(void)\n{\n    return 0;\n\t\t\tx;\n}\n');
    assert.equal(bad.matchesDepth, 3);
    assert.equal(bad.depthLines, 4);
    assert.equal(bad.tabsOnly, 1);
    assert.equal(bad.indented, 2);
  });

  it('LaTeX environments: closed by the same name or by another', () => {
    const e = latexEnvironments('\\begin{lemma}\\begin{proof}\\end{lemma}\\end{lemma}\n% \\end{x}\n\\end{y}');
    assert.deepEqual(e, { begins: 2, ends: 3, matched: 1, mismatched: 1, strayEnds: 1, unclosed: 0 });
  });
});
