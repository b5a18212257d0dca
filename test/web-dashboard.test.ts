// The dashboard in Chromium, following a training run of the command line as it happens.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, chooseOption, startWebApp, type WebApp } from './helpers/browser.js';
import { spawnCli, stopCli } from './helpers/charrnn-cli.js';
import { practiceText } from './helpers/web-text.js';

const ITERS = 200;
const EVERY = 50;

/** The iteration #stats shows, or 0 before the first. */
async function shownIteration(page: Page): Promise<number> {
  const m = /iter(?:ation)?\D{0,3}([\d,]+)/i.exec((await page.textContent('#stats')) ?? '');
  return m ? Number(m[1].replace(/,/g, '')) : 0;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('dashboard', { skip: browserSkip() }, () => {
  let app: WebApp;
  before(async () => { app = await startWebApp(); });
  after(async () => { await app?.close(); });

  it('shows the curves and samples of a run while the command line trains it', async () => {
    const text = join(app.dir, 'text.txt');
    await writeFile(text, practiceText(20_000));
    const runDir = join(app.dir, 'run');
    // One thread and a model big enough that the run lasts a few seconds: long enough to watch.
    const child = spawnCli(['train', text, '--hidden', '128', '--layers', '1', '--batch', '16', '--seq', '50',
      '--max-iters', String(ITERS), '--eval-every', String(EVERY), '--sample-every', String(EVERY),
      '--checkpoint-dir', runDir, '--threads', '1', '--quiet']);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until('the run\'s event log', async () => existsSync(join(runDir, 'train.jsonl')));
      const page = await app.open('/');
      await chooseOption(page, '#run-select', 'run');
      await until('a first iteration on the dashboard', async () => (await shownIteration(page)) > 0);
      const before = { iter: await shownIteration(page), chart: await page.locator('#loss-chart').screenshot() };
      assert.ok(before.iter < ITERS, `the run had ended (iteration ${before.iter}) before the dashboard showed it`);

      await until('the iteration to grow', async () => (await shownIteration(page)) >= Math.min(ITERS, before.iter + 20));
      const chart = await page.locator('#loss-chart').screenshot();
      assert.ok(!chart.equals(before.chart), 'the loss chart did not change while the run went on');

      await until('samples', async () => (await page.locator('#samples .sample').count()) > 0);
      assert.equal(await exited, 0, stderr);
      await until('the last iteration', async () => (await shownIteration(page)) === ITERS);
      await until('every sample', async () => (await page.locator('#samples .sample').count()) === ITERS / EVERY);
      const iters = await page.locator('#samples .sample').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-iter'))));
      assert.deepEqual([...iters].sort((a, b) => a - b), [50, 100, 150, 200]);
      const texts = await page.locator('#samples .sample').allTextContents();
      assert.ok(texts.every((t) => t.trim().length >= 100), `a sample is missing its text: ${JSON.stringify(texts)}`);
      assert.deepEqual(app.errors, []);
    } finally {
      await stopCli(child);
    }
  });
});
