// Training in the browser page, in Chromium: errors for unusable text, a falling loss, pause
// and resume, and a downloaded checkpoint that the command line samples from.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { browserSkip, startWebApp, type WebApp } from './helpers/browser.js';
import { runCli } from './helpers/charrnn-cli.js';
import { current, progress, startError, untilIteration, untilStopped } from './helpers/train-page.js';
import { repetitiveText } from './helpers/web-text.js';

const CHECKPOINT_NAME = /^lm_lstm_epoch\d+\.\d{2}_\d+\.\d{4}\.safetensors$/;

describe('training in the browser', { skip: browserSkip() }, () => {
  let app: WebApp;
  before(async () => { app = await startWebApp(); });
  after(async () => { await app?.close(); });

  it('says what is wrong with an empty text and with one too short for a batch', async () => {
    const page = await app.open('train.html');
    assert.match(await startError(page, ''), /^Error: there is no text to train on/);
    assert.match(await startError(page, 'a short text. '.repeat(20)), /^Error: the text is too short: 280 characters/);
    assert.equal(await progress(page), null);
    assert.deepEqual(app.errors, []);
  });

  it('trains until the loss falls, holds while paused, and downloads a checkpoint the CLI samples from', async () => {
    const page = await app.open('train.html');
    const text = repetitiveText(3000);
    await page.fill('#corpus-input', text);
    await page.selectOption('#size-select', 'tiny');
    await page.click('#start-button');
    await untilIteration(page, 1);
    const first = await current(page);

    await untilIteration(page, 150);
    const later = await current(page);
    assert.ok(later.loss < first.loss / 2, `loss ${later.loss} at iteration ${later.iter} is not clearly below ${first.loss} at ${first.iter}`);
    assert.ok(await page.locator('#samples .sample[data-iter="100"]').count() === 1, 'no sample from iteration 100');
    assert.match(await page.textContent('#loss-chart') ?? '', /train loss/);

    await page.click('#pause-button');
    // The run stops at its next event.
    const pausedAt = await untilStopped(page);
    await page.waitForTimeout(1500);
    assert.equal((await current(page)).iter, pausedAt.iter, 'iterations went on while paused');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-button')]);
    const name = download.suggestedFilename();
    assert.match(name, CHECKPOINT_NAME);
    const file = join(app.dir, name);
    await download.saveAs(file);
    // The checkpoint is the run as it stands, not as it was at its last evaluation.
    const inspected = await runCli(['inspect', file, '--json']);
    assert.equal(inspected.code, 0, inspected.stderr);
    const training = (JSON.parse(inspected.stdout) as { training: { iter: number; corpus: { chars: number } } }).training;
    assert.equal(training.iter, pausedAt.iter);
    assert.equal(training.corpus.chars, text.length);

    await page.click('#pause-button');
    await untilIteration(page, pausedAt.iter + 20);

    const r = await runCli(['sample', file, '--length', '50', '--seed', '7']);
    assert.equal(r.code, 0, r.stderr);
    // The CLI ends the output with a newline unless the sample itself ended with one.
    const sampled = [...r.stdout];
    assert.ok(sampled.length === 50 || (sampled.length === 51 && r.stdout.endsWith('\n')), `sampled ${sampled.length} characters: ${JSON.stringify(r.stdout)}`);
    const known = new Set(text);
    assert.ok(sampled.every((ch) => known.has(ch)), `the sample has characters the text lacks: ${JSON.stringify(r.stdout)}`);
    assert.deepEqual(app.errors, []);
  });

  it('trains on one thread where the page is not cross-origin isolated', async () => {
    const page = await app.open('train.html', { isolated: false });
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    await page.fill('#corpus-input', repetitiveText(3000));
    await page.click('#start-button');
    await untilIteration(page, 5);
    // Worker threads need shared memory, which only an isolated page has; wasm may still run on one.
    assert.match((await page.textContent('#status')) ?? '', /with the (wasm engine on 1 thread$|js engine on 1 thread \(the plain JavaScript engine runs instead)/);
    assert.deepEqual(app.errors, []);
  });
});
