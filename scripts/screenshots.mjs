// Screenshots of the web app's pages for docs/web.md, taken in Chromium on a trained run:
//   npm run screenshots -- RUN_DIR [--text FILE] [--feature quote] [--out DIR]
// RUN_DIR is a checkpoint directory `charrnn train` wrote (latest.safetensors and train.jsonl).
// The visualiser reads an excerpt of --text, else of the run's validation text (its training
// file or dataset), else of the run's last sample, coloured by the best cell for --feature
// (a row of its ranking: quote, column, depth, comment, tex-comment, word-start). Needs the build (npm run build) and Chromium at /usr/bin/chromium.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const VIEWPORT = { width: 1280, height: 1000 };
const EXCERPT = 1200; // characters the visualiser shows
const SAMPLE_LENGTH = 800;
const BROWSER_ITERS = 300; // iterations of the in-browser training before its screenshot
const TIMEOUT = 120_000;

const root = new URL('..', import.meta.url);
const { startServer } = await import(new URL('dist/src/node/server.js', root).href);
const { decodeCheckpoint } = await import(new URL('dist/src/index.js', root).href);
const { openCorpus } = await import(new URL('dist/src/node/datasets.js', root).href);
const { CHROMIUM, CHROMIUM_FLAGS } = await import(new URL('dist/test/helpers/chromium.js', root).href);

function fail(message) {
  process.stderr.write(`screenshots: ${message}\n`);
  process.exit(1);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { text: { type: 'string' }, feature: { type: 'string', default: 'quote' }, out: { type: 'string', default: 'docs/web' } },
});
if (positionals.length !== 1) fail('usage: npm run screenshots -- RUN_DIR [--text FILE] [--feature NAME] [--out DIR]');
const runDir = resolve(positionals[0]);
for (const file of ['latest.safetensors', 'train.jsonl']) {
  if (!existsSync(join(runDir, file))) fail(`${join(runDir, file)} is missing: train into RUN_DIR with charrnn train --checkpoint-dir RUN_DIR`);
}
if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
const outDir = resolve(values.out);

/** The text for the visualiser: --text, else the run's validation text, else its last sample. */
async function visualiserText() {
  if (values.text) return readFile(values.text, 'utf8');
  const ck = decodeCheckpoint(await readFile(join(runDir, 'latest.safetensors')));
  const c = ck.training?.corpus;
  if (c) {
    try {
      const { corpus } = await openCorpus(c.source, { bytes: c.bytes, valFrac: c.valFrac, testFrac: c.testFrac });
      const val = corpus.split('val');
      return corpus.vocab.decode(val.length > 0 ? val : corpus.ids);
    } catch {
      // The training file has moved or gone: the run's own samples remain.
    }
  }
  const events = (await readFile(join(runDir, 'train.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const sample = events.filter((e) => e.type === 'sample').at(-1)?.text;
  if (!sample) fail('no text for the visualiser: give one with --text FILE');
  return sample;
}

/** Some lines from the middle of the text, cut at line ends. */
async function excerpt() {
  const text = await visualiserText();
  const middle = text.indexOf('\n', Math.floor(text.length / 2 - EXCERPT / 2));
  const start = middle < 0 ? 0 : middle + 1;
  const piece = text.slice(start, start + EXCERPT);
  const end = piece.lastIndexOf('\n');
  return end > EXCERPT / 2 ? piece.slice(0, end + 1) : piece;
}

async function chooseFirst(page, select) {
  await page.waitForFunction((s) => (document.querySelector(s)?.options.length ?? 0) > 0, select, { timeout: TIMEOUT });
  const value = await page.$eval(select, (el) => {
    const latest = Array.from(el.options).find((o) => o.value.endsWith('latest.safetensors'));
    return (latest ?? el.options[0]).value;
  });
  await page.selectOption(select, value);
}

async function setInput(page, selector, value) {
  await page.locator(selector).evaluate((el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

// The training page and the visualiser are shown whole; the others as a window shows them.
async function shoot(page, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: name === 'train' || name === 'visualiser' });
  process.stdout.write(`${path}\n`);
}

const pages = {
  async dashboard(page) {
    await page.waitForFunction(() => document.querySelectorAll('#samples .sample').length > 0 &&
      document.querySelector('#loss-chart canvas') !== null, null, { timeout: TIMEOUT });
    await page.waitForTimeout(500);
  },
  async sampler(page) {
    await chooseFirst(page, '#checkpoint-select');
    await setInput(page, '#temperature', '0.8');
    await setInput(page, '#length', String(SAMPLE_LENGTH));
    await setInput(page, '#seed', '1');
    await page.click('#sample-button');
    await page.waitForFunction((n) => [...document.querySelector('#output')?.textContent ?? ''].length >= n,
      SAMPLE_LENGTH, { timeout: TIMEOUT });
  },
  async visualiser(page) {
    await chooseFirst(page, '#checkpoint-select');
    await page.fill('#text-input', await excerpt());
    await page.click('#run-button');
    await page.waitForSelector('#ranking button.show-cell', { timeout: TIMEOUT });
    const row = page.locator('#ranking tbody tr').filter({ has: page.locator('td:first-child', { hasText: new RegExp(`^${values.feature}$`) }) });
    if (await row.count() !== 1) fail(`the visualiser's ranking has no feature ${values.feature}`);
    await row.locator('button.show-cell').first().click();
    const chars = page.locator('#viz span.ch');
    await chars.nth(Math.floor((await chars.count()) / 4)).hover();
    await page.waitForFunction(() => document.querySelectorAll('#guesses .guess').length === 5, null, { timeout: TIMEOUT });
  },
  async train(page) {
    await page.selectOption('#size-select', 'tiny');
    await page.click('#start-button');
    await page.waitForFunction((n) => {
      const m = /iteration ([\d,]+)/.exec(document.querySelector('#stats')?.textContent ?? '');
      return m !== null && Number(m[1].replace(/,/g, '')) >= n;
    }, BROWSER_ITERS, { timeout: TIMEOUT });
    await page.click('#pause-button');
    await page.waitForTimeout(500);
  },
};
const paths = { dashboard: '/', sampler: '/sample.html', visualiser: '/viz.html', train: '/train.html' };

await mkdir(outDir, { recursive: true });
const server = await startServer({ dir: runDir, port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
try {
  for (const [name, prepare] of Object.entries(pages)) {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    // An error in the page fails the screenshot at once instead of at a timeout.
    const pageError = new Promise((_, reject) => page.on('pageerror', (err) => reject(new Error(`${name} page: ${err.message}`))));
    await page.goto(new URL(paths[name], server.url).href);
    await Promise.race([prepare(page), pageError]);
    await shoot(page, name);
    await context.close();
  }
} catch (err) {
  process.stderr.write(`screenshots: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
  await server.close();
}
