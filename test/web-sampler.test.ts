/// <reference types="@webgpu/types" />
// The sampler in Chromium, on a small model the command line trained.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, chooseOption, setInput, startWebApp, watchOutputLengths, type WebApp } from './helpers/browser.js';
import { trainSmallModelOn } from './helpers/charrnn-cli.js';
import { practiceText } from './helpers/web-text.js';

const LENGTH = 400;

interface Sampled {
  text: string;
  /** The lengths #output had as it changed, in order. */
  lengths: number[];
}

async function sample(page: Page, temperature: string, seed: string): Promise<Sampled> {
  await setInput(page, '#temperature', temperature);
  await setInput(page, '#seed', seed);
  await setInput(page, '#length', String(LENGTH));
  await setInput(page, '#prime', '');
  const lengths = await watchOutputLengths(page);
  await page.click('#sample-button');
  await page.waitForFunction((n) => [...document.querySelector('#output')?.textContent ?? ''].length >= n, LENGTH, { timeout: 30_000 });
  // Anything after the last character would be a bug the length check below catches.
  await page.waitForTimeout(200);
  return {
    text: (await page.textContent('#output')) ?? '',
    lengths: await lengths(),
  };
}

describe('sampler', { skip: browserSkip() }, () => {
  let app: WebApp;
  let corpus = '';
  before(async () => {
    app = await startWebApp();
    corpus = practiceText(8000);
    await trainSmallModelOn(corpus, app.dir);
  });
  after(async () => { await app?.close(); });

  it('streams text into #output, colder at a low temperature, the same again for the same seed', async () => {
    const page = await app.open('sample.html');
    await chooseOption(page, '#checkpoint-select', 'model/latest.safetensors');

    const cold = await sample(page, '0.1', '5');
    const chars = [...cold.text];
    assert.equal(chars.length, LENGTH, `expected ${LENGTH} characters, got ${JSON.stringify(cold.text)}`);
    const known = new Set(corpus);
    assert.ok(chars.every((ch) => known.has(ch)), `characters the model never saw: ${JSON.stringify(cold.text)}`);
    assert.ok(cold.lengths.some((n) => n > 0 && n < LENGTH), `the text came all at once, not streamed (lengths seen: ${cold.lengths.join(', ')})`);

    const hot = await sample(page, '2.0', '5');
    assert.equal([...hot.text].length, LENGTH);
    assert.notEqual(hot.text, cold.text, 'temperature 2.0 gave the same text as 0.1');
    assert.equal((await sample(page, '0.1', '5')).text, cold.text, 'the same seed and temperature gave another text');
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /^Error/);
    assert.deepEqual(app.errors, []);
  });

  it('says in one line that webgpu cannot run where the browser has no adapter, and samples again on auto', async (t) => {
    const page = await app.open('sample.html');
    if (await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null)) {
      return t.skip('this Chromium has a WebGPU adapter without being asked');
    }
    await chooseOption(page, '#checkpoint-select', 'model/latest.safetensors');
    await page.selectOption('#engine-select', 'webgpu');
    await page.click('#sample-button');
    await page.waitForFunction(() => /^Error: /.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: 20_000 });
    assert.match((await page.textContent('#status')) ?? '', /^Error: the browser found no WebGPU adapter \(.+\): choose the wasm engine$/);
    await page.selectOption('#engine-select', 'auto');
    assert.equal([...(await sample(page, '1', '3')).text].length, LENGTH);
    assert.match((await page.textContent('#model-info')) ?? '', /wasm backend on \d+ threads?$/);
    assert.deepEqual(app.errors, []);
  });
});
