/// <reference types="@webgpu/types" />
// The web app on WebGPU, in Chromium with WebGPU enabled. Without a GPU, Chromium's adapter is
// SwiftShader (a CPU Vulkan): `auto` passes it over for wasm, as the command line does, and
// choosing webgpu trains and samples on it. SwiftShader runs the page's 16 × 50 batches at about a
// second per iteration, so the training worker is served here with shorter sequences, and with an
// evaluation (and so a checkpoint to download) and a sample every few iterations instead of 100.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, chooseOption, setInput, startWebApp, watchOutputLengths, type WebApp } from './helpers/browser.js';
import { runCli, trainSmallModelOn } from './helpers/charrnn-cli.js';
import { current, untilIteration, untilStopped } from './helpers/train-page.js';
import { practiceText, repetitiveText } from './helpers/web-text.js';

const EVERY = 4;
const SAMPLE_LENGTH = 120;

interface Offered { vendor: string; architecture: string; fallback: boolean }

/** The adapter Chromium's navigator.gpu gives a page, or null. */
function offeredAdapter(page: Page): Promise<Offered | null> {
  return page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    const info = (a as GPUAdapter & { info: { vendor: string; architecture: string; isFallbackAdapter?: boolean } }).info;
    return { vendor: info.vendor, architecture: info.architecture, fallback: info.isFallbackAdapter === true };
  });
}

/** Serves the training worker with 16 × 10 batches, evaluations and samples every EVERY iterations, and short samples. */
async function evaluateOften(page: Page): Promise<void> {
  await page.context().route('**/app/train-worker.js', async (route) => {
    const response = await route.fetch();
    let body = await response.text();
    for (const [option, value] of [['seq: 50,', 'seq: 10,'], ['evalEvery: 100,', `evalEvery: ${EVERY},`],
      ['sampleEvery: 100,', `sampleEvery: ${EVERY},`], ['sampleLength: 300,', 'sampleLength: 40,']]) {
      assert.ok(body.includes(option), `the training worker has no "${option}" for this test to change`);
      body = body.replace(option, value);
    }
    await route.fulfill({ response, body });
  });
}

const statusOf = async (page: Page): Promise<string> => (await page.textContent('#status')) ?? '';

describe('the web app on WebGPU', { skip: browserSkip() }, () => {
  let app: WebApp;
  let adapter: Offered | null = null;
  let corpus = '';
  const needsAdapter = (t: TestContext): boolean => {
    if (adapter) return true;
    t.skip('this Chromium gives navigator.gpu no adapter, even with --enable-unsafe-webgpu');
    return false;
  };

  before(async () => {
    app = await startWebApp({ webgpu: true });
    const page = await app.open('train.html');
    adapter = await offeredAdapter(page);
    await page.context().close();
    corpus = practiceText(6000);
    await trainSmallModelOn(corpus, app.dir);
  });
  after(async () => { await app?.close(); });

  it('auto trains on wasm when the only adapter is a CPU rasteriser', async (t) => {
    if (!needsAdapter(t)) return;
    if (!adapter?.fallback && !/swiftshader|llvmpipe|lavapipe/i.test(adapter?.architecture ?? '')) {
      return t.skip(`this machine has a hardware adapter (${adapter?.vendor} ${adapter?.architecture}), where auto runs webgpu`);
    }
    const page = await app.open('train.html');
    assert.equal(await page.inputValue('#engine-select'), 'auto');
    await page.fill('#corpus-input', repetitiveText(3000));
    await page.click('#start-button');
    await untilIteration(page, 1);
    assert.match(await statusOf(page), /with the wasm engine on \d+ threads?$/);
    assert.deepEqual(app.errors, []);
  });

  it('trains on webgpu when chosen: the loss falls, and a downloaded checkpoint samples on the command line', async (t) => {
    if (!needsAdapter(t)) return;
    const page = await app.open('train.html');
    await evaluateOften(page);
    const text = repetitiveText(3000);
    await page.fill('#corpus-input', text);
    await page.selectOption('#size-select', 'tiny');
    await page.selectOption('#engine-select', 'webgpu');
    await page.click('#start-button');
    await untilIteration(page, 1);
    const first = await current(page);
    // The status names the adapter, as the command line's --backend webgpu does.
    assert.match(await statusOf(page), new RegExp(`with the webgpu engine on ${adapter?.vendor} ${adapter?.architecture}$`));

    await untilIteration(page, 2 * EVERY);
    await page.locator('#samples .sample').first().waitFor();
    await page.click('#pause-button');
    const pausedAt = await untilStopped(page);
    assert.ok(pausedAt.loss < first.loss - 0.2, `loss ${pausedAt.loss} at iteration ${pausedAt.iter} is not clearly below ${first.loss} at ${first.iter}`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-button')]);
    const file = join(app.dir, download.suggestedFilename());
    await download.saveAs(file);
    const inspected = await runCli(['inspect', file, '--json']);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.equal((JSON.parse(inspected.stdout) as { training: { iter: number } }).training.iter, pausedAt.iter);
    const r = await runCli(['sample', file, '--length', '50', '--seed', '7']);
    assert.equal(r.code, 0, r.stderr);
    const known = new Set(text);
    assert.ok([...r.stdout.replace(/\n$/, '')].every((ch) => known.has(ch)), `the sample has characters the text lacks: ${JSON.stringify(r.stdout)}`);
    assert.doesNotMatch(await statusOf(page), /Error/);
    assert.deepEqual(app.errors, []);
  });

  it('samples on webgpu when chosen, streaming the text as it is drawn', async (t) => {
    if (!needsAdapter(t)) return;
    const page = await app.open('sample.html');
    await chooseOption(page, '#checkpoint-select', 'model/latest.safetensors');
    await page.selectOption('#engine-select', 'webgpu');
    await setInput(page, '#length', String(SAMPLE_LENGTH));
    const lengths = await watchOutputLengths(page);
    await page.click('#sample-button');
    await page.waitForFunction(() => /^(Done|Error)/.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: 30_000 });
    assert.match(await statusOf(page), new RegExp(`^Done: ${SAMPLE_LENGTH} characters`));
    assert.match((await page.textContent('#model-info')) ?? '', new RegExp(`webgpu backend on ${adapter?.vendor} ${adapter?.architecture}$`));
    const out = [...(await page.textContent('#output')) ?? ''];
    assert.equal(out.length, SAMPLE_LENGTH);
    const known = new Set(corpus);
    assert.ok(out.every((ch) => known.has(ch)), `characters the model never saw: ${out.join('')}`);
    const seen = await lengths();
    assert.ok(seen.some((n) => n > 0 && n < SAMPLE_LENGTH), `the text came all at once (lengths seen: ${seen.join(', ')})`);
    assert.deepEqual(app.errors, []);
  });
});
