import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { UserError } from '../src/errors.js';
import { corpusCachePath, firstInvalidUtf8, loadCorpusFile, loadTextFile } from '../src/node/corpus-file.js';
import { listDatasets, openCorpus, resolveCorpusText } from '../src/node/datasets.js';

const SHAKESPEARE_COPY = resolve(process.cwd(), '../shared/data/tinyshakespeare.txt');

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'charrnn-test-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'message must be one line');
    return true;
  });
}

describe('loadTextFile', () => {
  it('reads UTF-8 and strips a BOM', async () => {
    const d = await tempDir();
    const p = join(d, 'bom.txt');
    await writeFile(p, '\uFEFFhé 😀\n');
    assert.equal(await loadTextFile(p), 'hé 😀\n');
  });

  it('names the first invalid byte with its line and column', async () => {
    const d = await tempDir();
    const p = join(d, 'latin1.txt');
    const bytes = Buffer.concat([Buffer.from('first line\nsecond é\nab'), Buffer.from([0x63, 0xff, 0x64])]);
    await writeFile(p, bytes);
    const at = bytes.indexOf(0xff);
    await rejectsWith(loadTextFile(p), new RegExp(`${p} is not UTF-8 text: invalid byte 0xff at byte ${at} \\(line 3, column 4\\)`));
    // A lone Latin-1 "é" in the middle of an otherwise valid line.
    await writeFile(p, Buffer.from([0x61, 0x0a, 0x62, 0xe9, 0x20, 0x63]));
    await rejectsWith(loadTextFile(p), /invalid byte 0xe9 at byte 3 \(line 2, column 2\)/);
    // A character cut off by the end of the file.
    await writeFile(p, Buffer.concat([Buffer.from('ok '), Buffer.from('😀').subarray(0, 2)]));
    await rejectsWith(loadTextFile(p), /invalid byte 0xf0 at byte 3 \(line 1, column 4\)/);
  });

  it('finds the first bad byte exactly where the decoder fails', () => {
    let seed = 1;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pool = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    for (let n = 0; n < 5000; n++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pool[Math.floor(rand() * pool.length)]);
      const at = firstInvalidUtf8(bytes);
      const valid = (b: Uint8Array): boolean => {
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(b);
          return true;
        } catch {
          return false;
        }
      };
      assert.equal(at === bytes.length, valid(bytes), `${[...bytes]}`);
      assert.ok(valid(bytes.subarray(0, at)), `prefix of ${[...bytes]}`);
    }
  });

  it('rejects missing, empty and directory paths', async () => {
    const d = await tempDir();
    await rejectsWith(loadTextFile(join(d, 'nope.txt')), new RegExp(`^no such file: ${join(d, 'nope.txt')}$`));
    const empty = join(d, 'empty.txt');
    await writeFile(empty, '');
    await rejectsWith(loadTextFile(empty), new RegExp(`^${empty} is empty$`));
    await writeFile(empty, '\uFEFF');
    await rejectsWith(loadTextFile(empty), /is empty$/);
    await rejectsWith(loadTextFile(d), /is a directory/);
  });
});

describe('loadCorpusFile cache', () => {
  it('a cache hit gives the same corpus without decoding the text again', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    const text = 'hello wörld 😀\n'.repeat(100);
    await writeFile(p, text);
    const first = await loadCorpusFile(p, { valFrac: 0.1 });
    const cache = corpusCachePath(p, false);
    assert.ok(existsSync(cache), 'cache written');
    const written = await stat(cache);
    const second = await loadCorpusFile(p, { valFrac: 0.1 });
    assert.equal((await stat(cache)).mtimeMs, written.mtimeMs, 'cache not rewritten on a hit');
    assert.deepEqual(second.vocab.symbols, first.vocab.symbols);
    assert.deepEqual([...second.ids], [...first.ids]);
    assert.deepEqual(second.range('val'), first.range('val'));
    assert.equal(second.vocab.decode(second.ids), text);
    // Only the cache and the corpus: the temporary file was renamed away.
    assert.deepEqual((await readdir(d)).sort(), ['in.txt', 'in.txt.charrnn-cache']);
  });

  it('the split fractions apply on a hit too', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    await writeFile(p, 'abcdefghij'.repeat(100));
    await loadCorpusFile(p, { valFrac: 0.05 });
    const c = await loadCorpusFile(p, { valFrac: 0.2, testFrac: 0.1 });
    assert.deepEqual(c.range('val'), { start: 700, end: 900 });
  });

  it('a changed corpus rebuilds the cache', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    await writeFile(p, 'aaaa bbbb\n');
    const before = await loadCorpusFile(p);
    assert.deepEqual(before.vocab.symbols, ['\n', ' ', 'a', 'b']);
    // Same length, so only the content tells them apart.
    await writeFile(p, 'aaaa cccc\n');
    const after = await loadCorpusFile(p);
    assert.deepEqual(after.vocab.symbols, ['\n', ' ', 'a', 'c']);
    assert.equal(after.vocab.decode(after.ids), 'aaaa cccc\n');
    const again = await loadCorpusFile(p);
    assert.deepEqual(again.vocab.symbols, ['\n', ' ', 'a', 'c']);
  });

  it('a truncated cache is ignored and rewritten', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    const text = 'the quick brown fox\n'.repeat(50);
    await writeFile(p, text);
    await loadCorpusFile(p);
    const cache = corpusCachePath(p, false);
    const full = await readFile(cache);
    await writeFile(cache, full.subarray(0, full.length - 7));
    const c = await loadCorpusFile(p);
    assert.equal(c.vocab.decode(c.ids), text);
    assert.deepEqual(await readFile(cache), full);
    await writeFile(cache, 'garbage');
    assert.equal((await loadCorpusFile(p)).vocab.decode(c.ids), text);
  });

  it('bytes mode has its own cache', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    await writeFile(p, 'né\n');
    const chars = await loadCorpusFile(p);
    const bytes = await loadCorpusFile(p, { bytes: true });
    assert.equal(chars.length, 3);
    assert.equal(bytes.length, 4);
    assert.equal(bytes.vocab.kind, 'bytes');
    assert.ok(existsSync(corpusCachePath(p, true)));
    assert.notEqual(corpusCachePath(p, true), corpusCachePath(p, false));
    assert.equal((await loadCorpusFile(p)).length, 3);
  });

  it('an unwritable directory only skips the cache', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    await writeFile(p, 'read only here\n');
    await chmod(d, 0o555);
    try {
      const c = await loadCorpusFile(p);
      assert.equal(c.vocab.decode(c.ids), 'read only here\n');
      assert.deepEqual(await readdir(d), ['in.txt']);
    } finally {
      await chmod(d, 0o755);
    }
  });

  it('a cache that cannot be written only skips the cache', async () => {
    const d = await tempDir();
    const p = join(d, 'in.txt');
    await writeFile(p, 'blocked cache\n');
    await mkdir(join(corpusCachePath(p, false), 'occupied'), { recursive: true });
    const c = await loadCorpusFile(p);
    assert.equal(c.vocab.decode(c.ids), 'blocked cache\n');
    assert.deepEqual((await readdir(d)).sort(), ['in.txt', 'in.txt.charrnn-cache']);
  });

  it('reports file problems as user errors', async () => {
    const d = await tempDir();
    await rejectsWith(loadCorpusFile(join(d, 'missing.txt')), /^no such file: /);
    const empty = join(d, 'empty.txt');
    await writeFile(empty, '');
    await rejectsWith(loadCorpusFile(empty), /is empty$/);
    const bad = join(d, 'bad.txt');
    await writeFile(bad, Buffer.from([0x61, 0xc0, 0x80]));
    await rejectsWith(loadCorpusFile(bad), /invalid byte 0xc0 at byte 1 \(line 1, column 2\)/);
  });
});

describe('named datasets', () => {
  it('lists the datasets', () => {
    assert.deepEqual(listDatasets().map((d) => d.name), ['mobydick', 'names', 'shakespeare']);
  });

  it('mobydick is the whole book, chapters in order', async () => {
    const { name, text, path } = await resolveCorpusText('mobydick');
    assert.equal(name, 'mobydick');
    assert.equal(path, undefined);
    assert.ok(text.length > 1_000_000, `${text.length} characters`);
    assert.ok(text.startsWith('CHAPTER 1. Loomings.\n\nCall me Ishmael.'));
    const c2 = text.indexOf('\n\nCHAPTER 2. ');
    const c10 = text.indexOf('\n\nCHAPTER 10. ');
    const c135 = text.indexOf('\n\nCHAPTER 135. ');
    assert.ok(c2 > 0 && c2 < c10 && c10 < c135, 'numeric chapter order');
    assert.ok(!text.includes('\n\n\n'), 'chapters joined by one blank line');
    assert.ok(text.endsWith('\n'));
  });

  it('names is one distinct name per line, in a fixed shuffled order', async () => {
    const { text } = await resolveCorpusText('names');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.ok(lines.length > 5000, `${lines.length} names`);
    assert.equal(new Set(lines).size, lines.length);
    assert.notDeepEqual([...lines].sort(), lines);
    assert.equal((await resolveCorpusText('names')).text, text);
    assert.ok(lines.every((l) => l.length > 0));
    // Shuffled: the last 5 % (the validation split) spans the alphabet.
    assert.ok(new Set(lines.slice(-Math.round(lines.length * 0.05)).map((l) => l[0])).size > 15);
  });

  it('a file path wins and uses the cache; unknown names fail clearly', async () => {
    const d = await tempDir();
    const p = join(d, 'mine.txt');
    await writeFile(p, 'my own text\n');
    const opened = await openCorpus(p, { valFrac: 0 });
    assert.equal(opened.name, 'mine.txt');
    assert.equal(opened.path, p);
    assert.equal(opened.corpus.vocab.decode(opened.corpus.ids), 'my own text\n');
    assert.ok(existsSync(corpusCachePath(p, false)));
    assert.equal((await resolveCorpusText(p)).text, 'my own text\n');
    await rejectsWith(openCorpus(join(d, 'nope')), /^no such file or dataset: .*nope \(datasets: mobydick, names, shakespeare\)$/);
    await rejectsWith(openCorpus(d), /is a directory/);
    const names = await openCorpus('names');
    assert.equal(names.name, 'names');
    assert.ok(names.corpus.length > 40_000);
  });
});

describe('shakespeare download', () => {
  let server: Server | undefined;
  let hits = 0;
  const saved = { cache: process.env.CHARRNN_CACHE_DIR, url: process.env.CHARRNN_SHAKESPEARE_URL };

  async function serve(body: Buffer): Promise<string> {
    hits = 0;
    server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
    });
    await new Promise<void>((ok) => server?.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/input.txt`;
  }

  beforeEach(async () => {
    process.env.CHARRNN_CACHE_DIR = join(await tempDir(), 'cache');
  });
  afterEach(async () => {
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    server = undefined;
    for (const [k, v] of [['CHARRNN_CACHE_DIR', saved.cache], ['CHARRNN_SHAKESPEARE_URL', saved.url]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('downloads, verifies and caches', { skip: existsSync(SHAKESPEARE_COPY) ? false : `no ${SHAKESPEARE_COPY}` }, async () => {
    const body = await readFile(SHAKESPEARE_COPY);
    process.env.CHARRNN_SHAKESPEARE_URL = await serve(body);
    const first = await resolveCorpusText('shakespeare');
    assert.equal(hits, 1);
    assert.equal(first.name, 'shakespeare');
    assert.equal(first.text, body.toString('utf8'));
    assert.ok(first.text.startsWith('First Citizen:'));
    const cacheDir = process.env.CHARRNN_CACHE_DIR as string;
    assert.deepEqual(await readdir(cacheDir), ['tinyshakespeare.txt']);
    const second = await openCorpus('shakespeare');
    assert.equal(hits, 1, 'second call reads the cache');
    assert.equal(second.corpus.vocab.size, 65);
  });

  it('wrong content is rejected and not cached', async () => {
    process.env.CHARRNN_SHAKESPEARE_URL = await serve(Buffer.from('not shakespeare\n'));
    await rejectsWith(resolveCorpusText('shakespeare'), /wrong SHA-256.*not saved/);
    assert.equal(hits, 1);
    const cacheDir = process.env.CHARRNN_CACHE_DIR as string;
    const left = existsSync(cacheDir) ? await readdir(cacheDir) : [];
    assert.deepEqual(left, []);
  });

  it('a corrupted cached copy is downloaded again', { skip: existsSync(SHAKESPEARE_COPY) ? false : `no ${SHAKESPEARE_COPY}` }, async () => {
    const body = await readFile(SHAKESPEARE_COPY);
    process.env.CHARRNN_SHAKESPEARE_URL = await serve(body);
    const cacheDir = process.env.CHARRNN_CACHE_DIR as string;
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, 'tinyshakespeare.txt'), body.subarray(0, 1000));
    assert.equal((await resolveCorpusText('shakespeare')).text.length, body.toString('utf8').length);
    assert.equal(hits, 1);
  });

  it('an unreachable server gives the offline message', async () => {
    // Bind and close to get a port that nothing listens on.
    const url = await serve(Buffer.alloc(0));
    await new Promise<void>((ok) => server?.close(() => ok()));
    server = undefined;
    process.env.CHARRNN_SHAKESPEARE_URL = url;
    await rejectsWith(
      resolveCorpusText('shakespeare'),
      /^could not download shakespeare \(.*ECONNREFUSED.*\): check your connection, or pass a text file instead$/,
    );
  });

  it('an HTTP error gives the offline message', async () => {
    server = createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((ok) => server?.listen(0, '127.0.0.1', ok));
    process.env.CHARRNN_SHAKESPEARE_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    await rejectsWith(resolveCorpusText('shakespeare'), /^could not download shakespeare \(HTTP 404 .*\): check your connection/);
  });
});
