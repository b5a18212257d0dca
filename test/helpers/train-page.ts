// Reading the training page's progress, for the tests that train in it.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

export interface Progress {
  iter: number;
  loss: number;
}

/** The figures #stats shows, by name ("iteration", "loss", …). */
function figures(page: Page): Promise<Record<string, string>> {
  return page.locator('#stats .stat').evaluateAll((spans) => Object.fromEntries(spans.map((s) => {
    const name = s.querySelector('b')?.textContent ?? '';
    return [name, (s.textContent ?? '').slice(name.length).trim()];
  })));
}

/** The iteration and training loss #stats shows, or null before the first iteration. */
export async function progress(page: Page): Promise<Progress | null> {
  const f = await figures(page);
  if (f.iteration === undefined || f.loss === undefined) return null;
  return { iter: Number(f.iteration.replace(/,/g, '')), loss: Number(f.loss) };
}

export async function current(page: Page): Promise<Progress> {
  const p = await progress(page);
  assert.ok(p, `#stats shows no progress: ${await page.textContent('#stats')}`);
  return p;
}

export function untilIteration(page: Page, n: number, timeout = 60_000): Promise<unknown> {
  return page.waitForFunction((least) => {
    const m = /iteration ([\d,]+)/.exec(document.querySelector('#stats')?.textContent ?? '');
    return m !== null && Number(m[1].replace(/,/g, '')) >= least;
  }, n, { timeout });
}

/**
 * Waits until a paused run has stopped: the iteration it was computing when the pause was
 * asked for still reports, however long it takes (a software GPU on a busy machine can take
 * seconds), and then the figures stay as they are for `quiet` ms.
 */
export async function untilStopped(page: Page, quiet = 1000, timeout = 60_000): Promise<Progress> {
  const until = Date.now() + timeout;
  let last = await current(page);
  for (;;) {
    await page.waitForTimeout(quiet);
    const now = await current(page);
    if (now.iter === last.iter) return now;
    assert.ok(Date.now() < until, `training still runs ${timeout} ms after the pause (iteration ${now.iter})`);
    last = now;
  }
}

/** Starts training on `text` and waits for the status line to say it failed; returns that line. */
export async function startError(page: Page, text: string): Promise<string> {
  await page.fill('#corpus-input', text);
  await page.click('#start-button');
  await page.waitForFunction(() => /^Error: /.test(document.querySelector('#status')?.textContent ?? ''), null, { timeout: 20_000 });
  return (await page.textContent('#status')) ?? '';
}
