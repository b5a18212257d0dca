// `charrnn serve` and what `charrnn train` does for the web app (the event log, --serve), run as
// the real binary on a tiny model.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = resolve('bin/charrnn.js');
const TINY = ['--hidden', '16', '--layers', '1', '--batch', '8', '--seq', '16'];

let tmp = '';
let corpus = '';
let env: NodeJS.ProcessEnv = {};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmp, env }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

async function fails(args: string[], pattern: RegExp): Promise<void> {
  const r = await run(args);
  assert.equal(r.code, 1, `expected charrnn ${args.join(' ')} to fail:\n${r.stderr}`);
  assert.match(r.stderr, /^charrnn: [^\n]+\n$/, `one charrnn: line, got:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
}

type Event = { type: string; iter: number } & Record<string, unknown>;

async function eventLog(dir: string): Promise<Event[]> {
  const text = await readFile(join(dir, 'train.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'), 'whole lines only');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Event);
}

/** A long-running charrnn whose output is watched until `pattern` shows up on `stream`. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  out = '';
  err = '';
  readonly exit: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env });
    this.proc.stdout.setEncoding('utf8').on('data', (c: string) => { this.out += c; });
    this.proc.stderr.setEncoding('utf8').on('data', (c: string) => { this.err += c; });
    const guard = setTimeout(() => this.proc.kill('SIGKILL'), 60_000);
    this.exit = new Promise((done) => this.proc.on('close', (code) => { clearTimeout(guard); done(code); }));
  }

  async waitFor(stream: 'out' | 'err', pattern: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = pattern.exec(this[stream]);
      if (m) return m;
      assert.ok(Date.now() < deadline, `no ${pattern} in:\n${this[stream]}\nstderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp');
  return (await res.json()) as T;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'charrnn-serve-cli-'));
  env = { ...process.env, CHARRNN_CACHE_DIR: join(tmp, 'cache'), NO_COLOR: '1' };
  const words = ['the', 'sea', 'was', 'grey', 'and', 'the', 'wind', 'came', 'from', 'west', 'ship', 'passed'];
  let s = '';
  for (let i = 0; s.length < 12_000; i++) s += words[(i * 7 + (i >> 3)) % words.length] + (i % 9 === 8 ? '.\n' : ' ');
  corpus = join(tmp, 'input.txt');
  await writeFile(corpus, s);
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('charrnn train: the event log', () => {
  it('writes every event to <checkpoint-dir>/train.jsonl; --resume appends; a fresh run starts it over', async () => {
    const dir = join(tmp, 'cv-log');
    const first = await run(['train', corpus, ...TINY, '--max-iters', '20', '--eval-every', '10', '--sample-every', '10',
      '--checkpoint-dir', dir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const ev = await eventLog(dir);
    // The same stream --json prints.
    assert.deepEqual(ev, first.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Event));
    assert.equal(ev[0].type, 'start');
    assert.equal(ev.at(-1)!.type, 'done');
    assert.deepEqual(ev.filter((e) => e.type === 'iteration').map((e) => e.iter), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(ev.filter((e) => e.type === 'eval').map((e) => e.iter), [10, 20]);
    assert.deepEqual(ev.filter((e) => e.type === 'sample').map((e) => e.iter), [10, 20]);
    assert.ok(ev.some((e) => e.type === 'checkpoint'));

    const resumed = await run(['train', '--resume', join(dir, 'latest.safetensors'), '--max-iters', '30', '--quiet']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const both = await eventLog(dir);
    assert.deepEqual(both.slice(0, ev.length), ev);
    const more = both.slice(ev.length);
    assert.equal(more[0].type, 'start');
    assert.equal(more[0].iter, 20);
    assert.deepEqual(more.filter((e) => e.type === 'iteration').map((e) => e.iter), Array.from({ length: 10 }, (_, i) => i + 21));
    assert.equal(more.at(-1)!.type, 'done');

    const fresh = await run(['train', corpus, ...TINY, '--max-iters', '5', '--checkpoint-dir', dir, '--quiet']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const again = await eventLog(dir);
    assert.equal(again.filter((e) => e.type === 'start').length, 1);
    assert.equal(again.filter((e) => e.type === 'iteration').length, 5);
  });
});

describe('charrnn serve', () => {
  it('serves a directory, prints its URL and stops on Ctrl-C with exit 0', async () => {
    const dir = join(tmp, 'cv-log');
    const child = new Child(['serve', '--dir', dir, '--port', '0']);
    const [, url] = await child.waitFor('out', /^serving .* at (http:\/\/127\.0\.0\.1:\d+\/) \(Ctrl-C to stop\)\n/);
    const runs = await getJson<{ path: string }[]>(`${url}api/runs`);
    assert.deepEqual(runs.map((r) => r.path), ['']);
    const cks = await getJson<{ path: string }[]>(`${url}api/checkpoints`);
    assert.ok(cks.some((c) => c.path === 'latest.safetensors'));
    child.proc.kill('SIGINT');
    assert.equal(await child.exit, 0, child.err);
    assert.equal(child.err, '');
  });

  it('a directory that does not exist, a bad port, a port in use: one line each', async () => {
    await fails(['serve', '--dir', join(tmp, 'missing')], /no such directory: .*missing/);
    await fails(['serve', '--dir', corpus], /input\.txt is not a directory/);
    await fails(['serve', '--dir', tmp, '--port', '70000'], /--port must be an integer from 0 to 65535, got 70000/);
    await fails(['serve', '--dir', tmp, '--port', 'http'], /--port <n>' argument 'http' is invalid/);
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      await fails(['serve', '--dir', tmp, '--port', String(port)], new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      await fails(['train', corpus, ...TINY, '--max-iters', '5', '--checkpoint-dir', join(tmp, 'cv-busy'), '--serve', '--port', String(port)],
        /already in use/);
    } finally {
      busy.close();
    }
  });
});

describe('charrnn train --serve', () => {
  it('serves the run while training, samples every 100 iterations, and serves on afterwards until Ctrl-C', async () => {
    const dir = join(tmp, 'cv-serve');
    const child = new Child(['train', corpus, ...TINY, '--max-iters', '200', '--eval-every', '100', '--checkpoint-dir', dir,
      '--serve', '--port', '0']);
    const [, url] = await child.waitFor('err', /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/);
    await child.waitFor('err', /still serving/);
    const runs = await getJson<{ path: string; events: string }[]>(`${url}api/runs`);
    assert.deepEqual(runs.map((r) => [r.path, r.events]), [['', 'train.jsonl']]);
    const page = await fetch(url);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const ev = await eventLog(dir);
    assert.deepEqual(ev.filter((e) => e.type === 'sample').map((e) => e.iter), [100, 200]);
    assert.equal(ev.at(-1)!.type, 'done');
    child.proc.kill('SIGINT');
    assert.equal(await child.exit, 0, child.err);
  });

  it('Ctrl-C during training saves a checkpoint and exits 0 without serving on', async () => {
    const dir = join(tmp, 'cv-serve-stop');
    const child = new Child(['train', corpus, ...TINY, '--max-iters', '1000000', '--eval-every', '1000000', '--checkpoint-dir', dir,
      '--serve', '--port', '0', '--json']);
    await child.waitFor('err', /dashboard at http/);
    await child.waitFor('out', /"type":"iteration"/);
    child.proc.kill('SIGINT');
    assert.equal(await child.exit, 0, child.err);
    const done = (await eventLog(dir)).at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.reason, 'interrupted');
    assert.doesNotMatch(child.err, /still serving/);
    assert.ok((await readFile(join(dir, 'latest.safetensors'))).length > 0);
  });
});
