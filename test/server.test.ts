// The web app's server over a directory of runs: headers, content types, routes, the API's
// listings and event streams, and the requests it must refuse without ever falling over.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JsBackend } from '../src/backend/js/index.js';
import { encodeCheckpoint } from '../src/io/checkpoint.js';
import { CharLM } from '../src/model/charlm.js';
import { startServer, type RunningServer } from '../src/node/server.js';
import { Vocab } from '../src/text/vocab.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

let tmp = '';
let dir = '';
let server: RunningServer;
let checkpoint: Uint8Array;
const garbage = Buffer.from('{"not": "a checkpoint"} and then some bytes \u0000\u0001');

// The raw path goes out as written (fetch would normalise "..", which is what is being tested).
function get(path: string, opts: { method?: string; body?: Buffer; chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (opts.body) {
      if (opts.chunked) headers['Transfer-Encoding'] = 'chunked';
      else headers['Content-Length'] = opts.body.length;
    }
    const req = request({ host: '127.0.0.1', port: server.port, path, method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    // A refused upload may be cut off while it is still being sent; the answer is what counts.
    req.on('error', (err) => setTimeout(() => reject(err), 1000));
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

function assertIsolated(r: Reply, what: string): void {
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', what);
  assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', what);
  assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin', what);
}

const event = (type: string, iter: number): string => `${JSON.stringify({ type, iter, loss: 4 - iter / 100 })}\n`;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'charrnn-server-'));
  dir = join(tmp, 'cv');
  const vocab = Vocab.fromText('hello world\n', false);
  const model = CharLM.create(new JsBackend(), { model: 'lstm', layers: 1, hidden: 8 }, vocab.size, 1);
  checkpoint = encodeCheckpoint({ config: model.config, vocab, params: await model.exportParams(), training: null });
  await mkdir(join(dir, 'older'), { recursive: true });
  await mkdir(join(dir, 'newer', '.hidden'), { recursive: true });
  await writeFile(join(dir, 'newer', 'latest.safetensors'), checkpoint);
  await writeFile(join(dir, 'newer', 'garbage.safetensors'), garbage);
  await writeFile(join(dir, 'newer', '.latest.safetensors.123.tmp'), checkpoint);
  await writeFile(join(dir, 'newer', '.hidden', 'x.safetensors'), checkpoint);
  await writeFile(join(dir, 'older', 'train.jsonl'), event('start', 0) + event('iteration', 1));
  await writeFile(join(dir, 'newer', 'train.jsonl'), event('start', 0));
  const old = new Date(Date.now() - 3_600_000);
  await utimes(join(dir, 'older', 'train.jsonl'), old, old);
  // Outside the served directory, reachable only through a link: never listed, never served.
  await writeFile(join(tmp, 'secret.safetensors'), 'secret');
  await symlink(join(tmp, 'secret.safetensors'), join(dir, 'newer', 'link.safetensors'));
  server = await startServer({ dir, port: 0 });
});

after(async () => {
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('charrnn serve: pages and files', () => {
  it('serves every route with its content type and the cross-origin isolation headers', async () => {
    const cases: [string, RegExp][] = [
      ['/', /^text\/html/],
      ['/sample.html', /^text\/html/],
      ['/style.css', /^text\/css/],
      ['/app/dashboard.js', /^text\/javascript/],
      ['/app/engine.js', /^text\/javascript/],
      ['/src/index.js', /^text\/javascript/],
      ['/src/backend/wasm/web-worker.js', /^text\/javascript/],
      ['/wasm/charrnn-simd.wasm', /^application\/wasm$/],
      ['/wasm/charrnn-relaxed.wasm', /^application\/wasm$/],
      ['/vendor/uPlot.esm.js', /^text\/javascript/],
      ['/vendor/uPlot.min.css', /^text\/css/],
      ['/api/runs', /^application\/json/],
      ['/api/checkpoints', /^application\/json/],
    ];
    for (const [path, type] of cases) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), type, path);
      assert.equal(Number(r.headers['content-length']), r.body.length, path);
      assertIsolated(r, path);
    }
    assert.equal((await get('/')).body.toString(), await readFile('web/index.html', 'utf8'));
    const wasm = await get('/wasm/charrnn-simd.wasm');
    assert.deepEqual([...wasm.body.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  });

  it('HEAD answers with the headers of GET and no body', async () => {
    const r = await get('/style.css', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(Number(r.headers['content-length']), (await readFile('web/style.css')).length);
    assertIsolated(r, 'HEAD');
  });

  it('refuses traversal, Node-only engine code and unknown paths with 404', async () => {
    const paths = [
      '/../package.json', '/%2e%2e/package.json', '/%2E%2E/%2e%2e/package.json', '/app/../../package.json',
      '/app/%2e%2e/%2e%2e/package.json', '/src/..%2fnode/server.js', '/app/..%5c..%5cpackage.json',
      '/src/node/server.js', '/src/cli/main.js', '/src/%6eode/server.js', '/src/node/wasm-worker.js',
      '/src/index.d.ts', '/app/engine.d.ts', '/package.json', '/web/index.html', '/dist/src/index.js',
      '/wasm/other.wasm', '/vendor/uPlot.cjs.js', '/nope', '/app/', '/%', '/app/%zz.js', '/src/%00.js',
      '/api/checkpoint?path=../x', '/api/checkpoint?path=..%2Fsecret.safetensors', '/api/checkpoint?path=%2Fetc%2Fpasswd',
      '/api/checkpoint?path=newer/link.safetensors', '/api/checkpoint?path=newer/.hidden/x.safetensors',
      '/api/checkpoint?path=newer/train.jsonl', '/api/checkpoint', '/api/events?run=../cv/newer', '/api/events?run=nope',
      '/api/unknown',
    ];
    for (const path of paths) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assertIsolated(r, path);
    }
  });

  it('refuses methods other than GET and HEAD with 405, and bodies over 1 MiB with 413', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await get('/api/runs', { method, body: Buffer.from('{}') });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
      assertIsolated(r, method);
    }
    const big = Buffer.alloc((1 << 20) + 1, 0x61);
    const declared = await get('/', { method: 'POST', body: big });
    assert.equal(declared.status, 413);
    assertIsolated(declared, '413');
    const chunked = await get('/', { body: big, chunked: true });
    assert.equal(chunked.status, 413);
    assert.equal((await get('/api/runs')).status, 200, 'still serving');
  });
});

describe('charrnn serve: the API', () => {
  it('/api/checkpoints lists the checkpoints under the directory, not hidden or linked-out ones', async () => {
    const list = JSON.parse((await get('/api/checkpoints')).body.toString()) as { path: string; bytes: number; mtime: number }[];
    assert.deepEqual(list.map((c) => c.path).sort(), ['newer/garbage.safetensors', 'newer/latest.safetensors']);
    const latest = list.find((c) => c.path === 'newer/latest.safetensors')!;
    assert.equal(latest.bytes, checkpoint.length);
    assert.ok(Math.abs(latest.mtime - Date.now()) < 600_000, `mtime ${latest.mtime}`);
  });

  it('/api/checkpoint sends a listed file\'s bytes, a malformed one too, and keeps serving', async () => {
    const good = await get('/api/checkpoint?path=newer/latest.safetensors');
    assert.equal(good.status, 200);
    assert.equal(good.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(new Uint8Array(good.body), checkpoint);
    const bad = await get('/api/checkpoint?path=newer%2Fgarbage.safetensors');
    assert.equal(bad.status, 200);
    assert.deepEqual(bad.body, garbage);
    assert.equal((await get('/api/runs')).status, 200);
  });

  it('/api/runs lists the directories with an event log, most recently active first', async () => {
    const runs = JSON.parse((await get('/api/runs')).body.toString()) as { path: string; events: string; mtime: number }[];
    assert.deepEqual(runs.map((r) => [r.path, r.events]), [['newer', 'newer/train.jsonl'], ['older', 'older/train.jsonl']]);
    assert.ok(runs[0].mtime > runs[1].mtime);
  });

  it('/api/events streams the log\'s lines, then lines appended later, then a replaced log from its start', async () => {
    const log = join(dir, 'newer', 'train.jsonl');
    const received: string[] = [];
    let raw = '';
    let wake: (() => void) | null = null;
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path: '/api/events?run=newer' }, resolve).on('error', reject).end();
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    assertIsolated({ status: 200, headers: res.headers, body: Buffer.alloc(0) }, 'events');
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      raw += chunk;
      const messages = raw.split('\n\n');
      raw = messages.pop()!;
      received.push(...messages.filter((m) => !m.startsWith(':')));
      wake?.();
    });
    const until = async (n: number): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (received.length < n) {
        assert.ok(Date.now() < deadline, `waited for ${n} messages, got ${JSON.stringify(received)}`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
      }
    };
    await until(1);
    assert.deepEqual(received, [`data: ${event('start', 0).trim()}`]);
    // Half a line is held back until its end is written.
    await appendFile(log, event('iteration', 1) + event('iteration', 2).slice(0, 10));
    await until(2);
    await appendFile(log, event('iteration', 2).slice(10));
    await until(3);
    assert.deepEqual(received.slice(1), [`data: ${event('iteration', 1).trim()}`, `data: ${event('iteration', 2).trim()}`]);
    // A fresh run replaces the log: the client is told to start over and gets the new lines.
    await rm(log);
    await writeFile(log, event('start', 0));
    await until(5);
    assert.deepEqual(received.slice(3), ['event: reset\ndata: {}', `data: ${event('start', 0).trim()}`]);
    res.destroy();
  });

  it('close() ends open event streams and stops listening', async () => {
    const other = await startServer({ dir, port: 0 });
    const ended = new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port: other.port, path: '/api/events?run=older' }, (res) => {
        res.once('data', () => { void other.close(); });
        res.on('close', resolve);
        res.resume();
      }).on('error', reject).end();
    });
    await ended;
    await assert.rejects(fetch(other.url));
  });
});
