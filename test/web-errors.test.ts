/// <reference types="@webgpu/types" />
// What a browser cannot get from the server, how a bad checkpoint shows in the sampler, and what
// the training page says when webgpu is chosen in a browser that has no adapter to give.
import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { browserSkip, chooseOption, startWebApp, type WebApp } from './helpers/browser.js';
import { startError, untilIteration } from './helpers/train-page.js';
import { repetitiveText } from './helpers/web-text.js';

describe('web app errors', { skip: browserSkip() }, () => {
  let app: WebApp;
  before(async () => {
    app = await startWebApp();
    // The header length says more bytes than the file has.
    await writeFile(join(app.dir, 'broken.safetensors'), Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
    await symlink('/etc/passwd', join(app.dir, 'outside.safetensors'));
  });
  after(async () => { await app?.close(); });

  it('answers 404 to every path that leads out of its roots, through the browser\'s fetch', async () => {
    const page = await app.open('train.html');
    const absolute = encodeURIComponent(join(app.dir, 'broken.safetensors'));
    const refused = [
      '/..%2fpackage.json', '/app/..%2f..%2fpackage.json', '/app/%2e%2e%2f%2e%2e%2fpackage.json',
      '/src/..%5c..%5cpackage.json', '/src/node/server.js', '/src/cli/main.js', '/wasm/..%2f..%2fpackage.json',
      '/vendor/..%2fpackage.json', '/%2fetc%2fpasswd', '/api/checkpoint?path=..%2Fpackage.json',
      `/api/checkpoint?path=${absolute}`, '/api/checkpoint?path=outside.safetensors', '/api/events?run=..',
    ];
    const served = ['/app/trainer.js', '/src/index.js', '/api/checkpoint?path=broken.safetensors'];
    const statuses = await page.evaluate((paths) => Promise.all(paths.map(async (p) => [p, (await fetch(p)).status] as const)),
      [...refused, ...served]);
    assert.deepEqual(statuses, [...refused.map((p) => [p, 404]), ...served.map((p) => [p, 200])]);
    const listed = await page.evaluate(async () => (await (await fetch('/api/checkpoints')).json()) as { path: string }[]);
    assert.deepEqual(listed.map((c) => c.path), ['broken.safetensors']);
  });

  it('shows a malformed checkpoint\'s error in the sampler, and the server goes on answering', async () => {
    const page = await app.open('sample.html');
    await chooseOption(page, '#checkpoint-select', 'broken.safetensors');
    await page.click('#sample-button');
    await page.waitForFunction(() => /^Error: /.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: 20_000 });
    assert.equal((await page.textContent('#output'))?.trim() ?? '', '');
    const status = await page.evaluate(async () => (await fetch('/api/checkpoints')).status);
    assert.equal(status, 200);
    assert.equal((await fetch(new URL('sample.html', app.url))).status, 200);
  });

  it('says in one line that webgpu cannot run where the browser has no adapter, and auto trains on wasm', async (t) => {
    const page = await app.open('train.html');
    // Chromium on Linux without --enable-unsafe-webgpu: navigator.gpu is there, but no adapter.
    if (await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) != null)) {
      return t.skip('this Chromium has a WebGPU adapter without being asked');
    }
    await page.selectOption('#engine-select', 'webgpu');
    const line = await startError(page, repetitiveText(3000));
    assert.match(line, /^Error: the browser found no WebGPU adapter \(.+\): choose the wasm engine$/);
    assert.doesNotMatch(line, /\n/);
    await page.selectOption('#engine-select', 'auto');
    await page.click('#start-button');
    await untilIteration(page, 1);
    assert.match((await page.textContent('#status')) ?? '', /with the wasm engine on \d+ threads?$/);
    assert.deepEqual(app.errors, []);
  });
});
