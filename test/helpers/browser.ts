// Debian's Chromium, driven by playwright-core, against the web app's own server over a
// temporary directory: one browser and one server per test file, both closed in after().
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/node/server.js';
import { CHROMIUM, CHROMIUM_FLAGS } from './chromium.js';

/**
 * Gives navigator.gpu an adapter on Linux, where Chromium does not enable WebGPU by default: on a
 * machine without a GPU it is SwiftShader, Chromium's own CPU Vulkan (libvk_swiftshader.so), which
 * works even with --disable-gpu.
 */
export const WEBGPU_FLAG = '--enable-unsafe-webgpu';

/** Why the browser tests cannot run on this machine, or false when they can. */
export function browserSkip(): string | false {
  return existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (install it with apt-get install chromium; .ci/run does)`;
}

export interface WebApp {
  /** The server's base URL, ending in a slash. */
  url: string;
  /** The temporary directory the server lists runs and checkpoints from. */
  dir: string;
  browser: Browser;
  /** Uncaught exceptions of every page opened, as "page: message". */
  errors: string[];
  /**
   * A new page (in its own context, downloads accepted) at `path` relative to the server;
   * `isolated: false` strips the cross-origin isolation headers, as a plain file server would.
   */
  open(path: string, opts?: { isolated?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

export async function startWebApp(opts: { webgpu?: boolean } = {}): Promise<WebApp> {
  const dir = await mkdtemp(join(tmpdir(), 'charrnn-web-'));
  let server: RunningServer | null = null;
  let browser: Browser | null = null;
  const close = async (): Promise<void> => {
    // Every step runs, in order, even when an earlier one fails, so nothing outlives the test file.
    let failure: unknown = null;
    for (const step of [() => browser?.close(), () => server?.close(), () => rm(dir, { recursive: true, force: true })]) {
      try {
        await step();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== null) throw failure;
  };
  try {
    server = await startServer({ dir, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: opts.webgpu ? [...CHROMIUM_FLAGS, WEBGPU_FLAG] : CHROMIUM_FLAGS });
  } catch (err) {
    await close();
    throw err;
  }
  const errors: string[] = [];
  const url = server.url;
  const b = browser;
  return {
    url, dir, browser: b, errors, close,
    async open(path: string, opts: { isolated?: boolean } = {}): Promise<Page> {
      const context = await b.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
      if (opts.isolated === false) {
        await context.route('**/*', async (route) => {
          const response = await route.fetch();
          const headers = { ...response.headers() };
          delete headers['cross-origin-opener-policy'];
          delete headers['cross-origin-embedder-policy'];
          await route.fulfill({ response, headers });
        });
      }
      const page = await context.newPage();
      page.on('pageerror', (err) => errors.push(`${path}: ${err.message}`));
      await page.goto(new URL(path, url).href);
      return page;
    },
  };
}

/** Selects the option of `select` whose value is `want` or whose text contains it, once it is listed. */
export async function chooseOption(page: Page, select: string, want: string): Promise<void> {
  const handle = await page.waitForFunction(({ select, want }) => {
    const el = document.querySelector(select);
    if (!(el instanceof HTMLSelectElement)) return null;
    const option = Array.from(el.options).find((o) => o.value === want || (o.textContent ?? '').includes(want));
    return option ? option.value : null;
  }, { select, want }, { timeout: 20_000 });
  await page.selectOption(select, await handle.jsonValue() as string);
}

/** Sets an input's value as a user would (range inputs cannot be typed into): input and change fire. */
export async function setInput(page: Page, selector: string, value: string): Promise<void> {
  await page.locator(selector).evaluate((el, v) => {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) throw new Error('not an input');
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

/** Starts recording the lengths #output takes as it changes; the returned function reads them. */
export async function watchOutputLengths(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(() => {
    const out = document.querySelector('#output')!;
    const lengths: number[] = [];
    (window as unknown as { lengths: number[] }).lengths = lengths;
    new MutationObserver(() => lengths.push([...out.textContent ?? ''].length))
      .observe(out, { childList: true, characterData: true, subtree: true });
  });
  return () => page.evaluate(() => (window as unknown as { lengths: number[] }).lengths);
}
