// `charrnn viz` as a user meets it: the real binary on a tiny model trained here, writing one
// self-contained page; every mistake is one line and leaves no page behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli, type CliResult } from './helpers/charrnn-cli.js';
import type { VizJSON } from '../src/inspect/encode.js';

const TEXT = 'int main(void) {\n  /* say "hi" */\n  printf("hi (%d)\\n", f(a[1]));\n  return 0; // done\n}\n'.repeat(8);

let tmp = '';
let ckpt = '';
let textFile = '';

async function ok(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `charrnn ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

/** One `charrnn:` line, exit 1, and no page (nor a temporary file) left in the output directory. */
async function fails(args: string[], pattern: RegExp, outDir: string): Promise<void> {
  const before = existsSync(outDir) ? await readdir(outDir) : [];
  const r = await runCli(args);
  assert.equal(r.code, 1, `expected charrnn ${args.join(' ')} to fail with exit 1, got ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, /^charrnn: [^\n]+\n$/, `stderr must be exactly one charrnn: line, got:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  if (existsSync(outDir)) assert.deepEqual(await readdir(outDir), before, 'nothing may be written');
}

function pageData(html: string): VizJSON {
  const m = /<script type="application\/json" id="viz-data">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]) as VizJSON;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'charrnn-viz-'));
  textFile = join(tmp, 'input.c');
  await writeFile(textFile, TEXT);
  await ok(['train', textFile, '--layers', '2', '--hidden', '8', '--batch', '4', '--seq', '16', '--max-iters', '5',
    '--eval-every', '100', '--checkpoint-dir', join(tmp, 'cv'), '--threads', '1', '--quiet']);
  ckpt = join(tmp, 'cv', 'latest.safetensors');
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('charrnn viz', () => {
  it('writes one self-contained page holding the data and the view', async () => {
    const dir = join(tmp, 'page');
    await mkdir(dir);
    const out = join(dir, 'page.html');
    const r = await ok(['viz', ckpt, textFile, '--out', out, '--threads', '1']);
    assert.match(r.stderr, /wrote .*page\.html \(\d+\.\d MB\)/);
    assert.deepEqual(await readdir(dir), ['page.html'], 'no temporary file is left beside the page');
    const html = await readFile(out, 'utf8');
    for (const external of ['http://', 'https://', 'src="/', 'href="/', '<link']) assert.ok(!html.includes(external), `the page has ${external}`);
    assert.match(html, /function renderViz\(/);
    assert.match(html, /async function decodeViz\(/);
    const data = pageData(html);
    assert.equal(data.format, 'charrnn-viz/1');
    assert.deepEqual(data.model, { model: 'lstm', layers: 2, hidden: 8 });
    assert.equal(data.ids.length, TEXT.length);
    assert.deepEqual(data.traces.map((t) => `${t.layer}${t.kind}`), ['0h', '0c', '1h', '1c']);
    for (const t of data.traces) assert.equal(t.data.length, TEXT.length * 8);
    assert.equal(data.guesses.k, 5);
    assert.deepEqual(data.ranking.map((f) => f.feature), ['quote', 'column', 'depth', 'comment', 'tex-comment', 'word-start']);
    assert.ok(data.ranking.find((f) => f.feature === 'depth')!.best.length > 0);
  });

  it('the inline script is a valid module', async () => {
    const out = join(tmp, 'script.html');
    await ok(['viz', ckpt, textFile, '--out', out, '--max-chars', '20', '--backend', 'js']);
    const scripts = [...(await readFile(out, 'utf8')).matchAll(/<script type="module">([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    const file = join(tmp, 'inline.mjs');
    await writeFile(file, scripts[0][1]);
    await promisify(execFile)(process.execPath, ['--check', file]);
  });

  it('--max-chars reads only the start of the file and says so', async () => {
    const out = join(tmp, 'short.html');
    const r = await ok(['viz', ckpt, textFile, '--out', out, '--max-chars', '50', '--threads', '1']);
    assert.match(r.stderr, /reading only the first 50 chars of .*input\.c \(--max-chars\)/);
    assert.equal(pageData(await readFile(out, 'utf8')).ids.length, 50);
  });

  it('an existing page is replaced only by a complete new one', async () => {
    const dir = join(tmp, 'keep');
    await mkdir(dir);
    const out = join(dir, 'page.html');
    await writeFile(out, 'the previous page');
    const bad = join(tmp, 'unseen.txt');
    await writeFile(bad, 'int a @ 1;');
    await fails(['viz', ckpt, bad, '--out', out], /never saw: "@" \(U\+0040\)\n$/, dir);
    assert.equal(await readFile(out, 'utf8'), 'the previous page');
  });

  it('mistakes are one line each, and write nothing', async () => {
    const dir = join(tmp, 'mistakes');
    await mkdir(dir);
    const out = join(dir, 'page.html');
    const garbage = join(tmp, 'garbage.safetensors');
    await writeFile(garbage, 'not a checkpoint at all');
    const empty = join(tmp, 'empty.txt');
    await writeFile(empty, '');
    await fails(['viz', join(tmp, 'missing.safetensors'), textFile, '--out', out], /no such checkpoint/, dir);
    await fails(['viz', garbage, textFile, '--out', out], /garbage\.safetensors: not a safetensors file/, dir);
    await fails(['viz', ckpt, join(tmp, 'missing.txt'), '--out', out], /no such file/, dir);
    await fails(['viz', ckpt, empty, '--out', out], /empty/, dir);
    await fails(['viz', ckpt, textFile, '--out', join(dir, 'no', 'such', 'dir', 'page.html')], /cannot write .*page\.html: ENOENT/, dir);
    await fails(['viz', ckpt, textFile, '--out', dir], /cannot write .*: it is a directory/, dir);
    await fails(['viz', ckpt, textFile, '--out', out, '--max-chars', '0'], /--max-chars must be an integer from 1/, dir);
    await fails(['viz', ckpt, textFile, '--out', out, '--max-chars', '12x'], /--max-chars/, dir);
    await fails(['viz', ckpt, textFile], /required option '--out <page>'/, dir);
  });

  it('--help describes the flags', async () => {
    const r = await ok(['viz', '--help']);
    for (const flag of ['--out <page>', '--max-chars <n>', 'default: 4000', '--backend <name>', '--threads <n>']) {
      assert.ok(r.stdout.includes(flag), `--help lacks ${flag}`);
    }
  });
});
