// The visualiser in Chromium, on a small model the command line trained: the text coloured by
// a cell, the five guesses on hover, and a ranked cell shown on click.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkip, chooseOption, startWebApp, type WebApp } from './helpers/browser.js';
import { trainSmallModelOn } from './helpers/charrnn-cli.js';
import { practiceText } from './helpers/web-text.js';

/** Each character's colours, as the page computes them. */
function colours(page: Page): Promise<string[]> {
  return page.locator('#viz span.ch').evaluateAll((spans) => spans.map((s) => {
    const style = getComputedStyle(s);
    return `${style.backgroundColor} ${style.color}`;
  }));
}

describe('visualiser', { skip: browserSkip() }, () => {
  let app: WebApp;
  let corpus = '';
  before(async () => {
    app = await startWebApp();
    corpus = practiceText(8000);
    await trainSmallModelOn(corpus, app.dir);
  });
  after(async () => { await app?.close(); });

  it('colours each character, shows five guesses on hover, and shows a ranked cell on click', async () => {
    const page = await app.open('viz.html');
    await chooseOption(page, '#checkpoint-select', 'model/latest.safetensors');
    const text = corpus.slice(0, 300);
    await page.fill('#text-input', text);
    await page.click('#run-button');
    const n = [...text].length;
    await page.waitForFunction((count) => document.querySelectorAll('#viz span.ch').length === count, n, { timeout: 30_000 });

    const indices = await page.locator('#viz span.ch').evaluateAll((spans) => spans.map((s) => s.getAttribute('data-i')));
    assert.deepEqual(indices, Array.from({ length: n }, (_, i) => String(i)));
    const shown = await colours(page);
    assert.ok(new Set(shown).size > 1, `every character has the same colour: ${shown[0]}`);

    await page.hover('#viz span.ch[data-i="40"]');
    await page.waitForFunction(() => document.querySelectorAll('#guesses .guess').length === 5, null, { timeout: 10_000 });
    const guesses = await page.locator('#guesses .guess').allTextContents();
    assert.ok(guesses.every((g) => g.trim().length > 0), `an empty guess: ${JSON.stringify(guesses)}`);

    // The cell shown first may be a ranked one; of two different ranked cells, one is another.
    const buttons = page.locator('#ranking button.show-cell');
    const names = (await buttons.allTextContents()).map((t) => t.split(':')[0].trim());
    const distinct = names.map((name, i) => names.indexOf(name) === i ? i : -1).filter((i) => i >= 0).slice(0, 2);
    assert.equal(distinct.length, 2, `the ranking lists fewer than two cells: ${JSON.stringify(names)}`);
    let changed = false;
    for (const i of distinct) {
      await buttons.nth(i).click();
      changed = await page.waitForFunction((before) => Array.from(document.querySelectorAll('#viz span.ch')).some((s, j) => {
        const style = getComputedStyle(s);
        return `${style.backgroundColor} ${style.color}` !== before[j];
      }), shown, { timeout: 3000 }).then(() => true, () => false);
      if (changed) break;
    }
    assert.ok(changed, 'showing a ranked cell did not change the colouring');
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /^Error/);
    assert.deepEqual(app.errors, []);
  });
});
