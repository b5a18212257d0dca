// The command line as a user meets it: the real binary, run as a child process, on tiny models
// that train in a fraction of a second.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reportError } from '../src/cli/errors.js';

const BIN = resolve('bin/charrnn.js');
const SHAKESPEARE = resolve('../shared/data/tinyshakespeare.txt');
const CORPUS_CHARS = 20_000;
const SHAPE = ['--hidden', '16', '--layers', '1', '--batch', '8', '--seq', '16'];
const TINY = [...SHAPE, '--max-iters', '30', '--eval-every', '10'];
const CHECKPOINT_NAME = /^lm_lstm_epoch\d+\.\d{2}_\d+\.\d{4}\.safetensors$/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let tmp = '';
let env: NodeJS.ProcessEnv = {};

function run(args: string[], cwd = tmp): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[], cwd = tmp): Promise<Run> {
  const r = await run(args, cwd);
  assert.equal(r.code, 0, `charrnn ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

/** A mistake the user made: non-zero exit, one `charrnn:` line on stderr, no stack trace. */
async function fails(args: string[], pattern: RegExp): Promise<Run> {
  const r = await run(args);
  assert.notEqual(r.code, 0, `expected charrnn ${args.join(' ')} to fail`);
  assert.match(r.stderr, /^charrnn: [^\n]+\n$/, `stderr must be exactly one charrnn: line, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.match(r.stderr, pattern);
  return r;
}

type Event = { type: string } & Record<string, unknown>;

function events(stdout: string): Event[] {
  return stdout.trimEnd().split('\n').map((line) => {
    const e: unknown = JSON.parse(line);
    assert.ok(typeof e === 'object' && e !== null && 'type' in e, `not an event: ${line}`);
    assert.equal(Object.keys(e)[0], 'type');
    return e as Event;
  });
}

function num(e: Event, key: string): number {
  const v = e[key];
  assert.equal(typeof v, 'number', `${e.type}.${key}`);
  return v as number;
}

async function checkpoints(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort() : [];
}

async function inspectJson(ckpt: string): Promise<{ config: { model: string; hidden: number }; vocab: { kind: string };
  training: { iter: number; history: { train: [number, number][] } } | null }> {
  return JSON.parse((await ok(['inspect', ckpt, '--json'])).stdout) as Awaited<ReturnType<typeof inspectJson>>;
}

// Without the shared copy of tiny Shakespeare, a deterministic stand-in of English-like text.
function generatedText(n: number): string {
  const words = ['the', 'king', 'shall', 'not', 'speak', 'of', 'love', 'and', 'death', 'my', 'lord', 'good', 'night',
    'sweet', 'prince', 'what', 'is', 'a', 'man', 'to', 'be', 'or', 'here', 'come', 'away'];
  let seed = 12345;
  let s = '';
  while (s.length < n) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    s += words[seed % words.length] + (seed % 7 === 0 ? '.\n' : ' ');
  }
  return s.slice(0, n);
}

let corpus = '';
let text = '';
let base = ''; // the checkpoint directory of one finished tiny run, shared by the read-only tests
let prime = '';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'charrnn-cli-'));
  env = { ...process.env, CHARRNN_CACHE_DIR: join(tmp, 'cache'), NO_COLOR: '1' };
  text = existsSync(SHAKESPEARE) ? (await readFile(SHAKESPEARE, 'utf8')).slice(0, CORPUS_CHARS) : generatedText(CORPUS_CHARS);
  prime = text.slice(0, 5);
  corpus = join(tmp, 'input.txt');
  await writeFile(corpus, text);
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('charrnn train', () => {
  it('trains, writes char-rnn-named checkpoints and latest.safetensors into ./cv, and says it is done', async () => {
    const r = await ok(['train', 'input.txt', ...TINY]);
    base = join(tmp, 'cv');
    const files = await checkpoints(base);
    assert.ok(files.includes('latest.safetensors'), files.join());
    assert.equal(files.filter((f) => CHECKPOINT_NAME.test(f)).length, 3, files.join());
    assert.equal(r.stdout, '', 'human output goes to stderr');
    assert.match(r.stderr, /corpus input\.txt: 20,000 chars, vocabulary \d+/);
    assert.match(r.stderr, /iter 10 \(epoch 0\.\d\d\): val loss \d\.\d{4}, \d\.\d{3} bits\/char/);
    assert.match(r.stderr, /reached --max-iters at iteration 30/);
  });

  it('--json prints only events, one per line, and the loss falls', async () => {
    const dir = join(tmp, 'cv-json');
    const r = await ok(['train', corpus, ...TINY, '--checkpoint-dir', dir, '--json']);
    const ev = events(r.stdout);
    const types = new Set(ev.map((e) => e.type));
    for (const t of ['start', 'iteration', 'eval', 'checkpoint', 'done']) assert.ok(types.has(t), `no ${t} event`);
    const iters = ev.filter((e) => e.type === 'iteration');
    assert.equal(iters.length, 30);
    assert.ok(num(iters[29], 'loss') < num(iters[0], 'loss'), `loss ${num(iters[0], 'loss')} → ${num(iters[29], 'loss')}`);
    const done = ev.at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.reason, 'max-iters');
    assert.equal(r.stderr, '');
  });

  it('--resume continues from the checkpoint\'s iteration, in its directory', async () => {
    const dir = join(tmp, 'cv-resume');
    await cp(base, dir, { recursive: true });
    const r = await ok(['train', '--resume', join(dir, 'latest.safetensors'), '--max-iters', '40', '--json']);
    const ev = events(r.stdout);
    assert.equal(num(ev[0], 'iter'), 30);
    assert.equal(num(ev.find((e) => e.type === 'iteration')!, 'iter'), 31);
    assert.equal(ev.at(-1)!.iter, 40);
    assert.equal((await inspectJson(join(dir, 'latest.safetensors'))).training?.iter, 40);
  });

  it('--resume without --max-iters goes on to the epochs limit, not the first run\'s --max-iters', async () => {
    const dir = join(tmp, 'cv-resume-on');
    await ok(['train', corpus, ...SHAPE, '--epochs', '0.3', '--max-iters', '30', '--eval-every', '10', '--checkpoint-dir', dir, '--quiet']);
    const r = await ok(['train', '--resume', join(dir, 'latest.safetensors'), '--json']);
    const ev = events(r.stdout);
    const total = num(ev[0], 'totalIters');
    assert.ok(total > 30, `the resumed run plans ${total} iterations`);
    assert.equal(ev.filter((e) => e.type === 'iteration').at(-1)?.iter, total);
    assert.equal(ev.at(-1)!.reason, 'epochs');
    assert.equal(r.stderr, '');
  });

  it('--resume on a corpus of another length warns that the continuation is not exact', async () => {
    const dir = join(tmp, 'cv-resume-longer');
    await cp(base, dir, { recursive: true });
    const longer = join(tmp, 'longer.txt');
    await writeFile(longer, text + text.slice(0, 1000));
    const r = await ok(['train', longer, '--resume', join(dir, 'latest.safetensors'), '--max-iters', '32', '--json']);
    assert.match(r.stderr, /^charrnn: warning: resuming on .*longer\.txt \(21,000 chars\), not .*input\.txt \(20,000 chars\) as trained: the continuation will not be exact\n$/);
  });

  it('--resume continues exactly: the same losses as one uninterrupted run, dropout included', async () => {
    const args = [corpus, ...SHAPE, '--dropout', '0.2', '--eval-every', '10', '--json'];
    const losses = (stdout: string): [number, number][] =>
      events(stdout).filter((e) => e.type === 'iteration').map((e) => [num(e, 'iter'), num(e, 'loss')]);
    const whole = losses((await ok(['train', ...args, '--max-iters', '40', '--checkpoint-dir', join(tmp, 'cv-exact-whole')])).stdout);
    const dir = join(tmp, 'cv-exact-split');
    await ok(['train', ...args, '--max-iters', '30', '--checkpoint-dir', dir]);
    const resumed = losses((await ok(['train', '--resume', join(dir, 'latest.safetensors'), '--max-iters', '40', '--json'])).stdout);
    assert.deepEqual(resumed.map(([i]) => i), [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    assert.deepEqual(resumed, whole.slice(30));
  });

  it('--init-from starts from the checkpoint\'s weights and model, at iteration 1', async () => {
    const dir = join(tmp, 'cv-init');
    const r = await ok(['train', corpus, '--init-from', join(base, 'latest.safetensors'), '--batch', '8', '--seq', '16',
      '--max-iters', '5', '--checkpoint-dir', dir, '--json']);
    const ev = events(r.stdout);
    assert.equal(num(ev.find((e) => e.type === 'iteration')!, 'iter'), 1);
    // Already trained for 30 iterations: far below the ln(vocab) ≈ 4 of a fresh model.
    assert.ok(num(ev.find((e) => e.type === 'iteration')!, 'loss') < 3.7);
    const ck = await inspectJson(join(dir, 'latest.safetensors'));
    assert.equal(ck.config.hidden, 16);
    assert.equal(ck.training?.iter, 5);
  });

  it('--init-from refuses a corpus with another vocabulary', async () => {
    const other = join(tmp, 'other.txt');
    await writeFile(other, `${text}~{}`);
    const dir = join(tmp, 'cv-init-bad');
    await fails(['train', other, '--init-from', join(base, 'latest.safetensors'), '--checkpoint-dir', dir], /never saw: .*~/);
    assert.equal(existsSync(dir), false);
  });

  for (const model of ['gru', 'rnn']) {
    it(`trains a ${model}`, async () => {
      const dir = join(tmp, `cv-${model}`);
      await ok(['train', corpus, ...TINY, '--model', model, '--checkpoint-dir', dir, '--quiet']);
      const files = await checkpoints(dir);
      assert.ok(files.some((f) => f.startsWith(`lm_${model}_epoch`)), files.join());
      assert.equal((await inspectJson(join(dir, 'latest.safetensors'))).config.model, model);
    });
  }

  it('--bytes trains a byte-level model on non-ASCII text, and samples it', async () => {
    const file = join(tmp, 'unicode.txt');
    await writeFile(file, 'héllo wörld, ñandú 😀 — ça va? '.repeat(200));
    const dir = join(tmp, 'cv-bytes');
    const t = await ok(['train', file, ...TINY, '--bytes', '--checkpoint-dir', dir]);
    assert.match(t.stderr, /val loss \d\.\d{4}, \d\.\d{3} bits\/byte/);
    assert.match(t.stderr, /[\d,]+ bytes\/s, ETA/);
    assert.doesNotMatch(t.stderr, /bits\/char|chars\/s/);
    const ckpt = join(dir, 'latest.safetensors');
    assert.equal((await inspectJson(ckpt)).vocab.kind, 'bytes');
    const r = await ok(['sample', ckpt, '--prime', 'héllo 😀', '--length', '50']);
    assert.ok(r.stdout.startsWith('héllo 😀'), r.stdout);
  });

  it('--help lists the defaults', async () => {
    const r = await ok(['train', '--help']);
    assert.match(r.stdout, /--hidden <n>\s+units per layer \(default: 128\)/);
    assert.match(r.stdout, /--lr <rate>\s+learning rate \(default: 2e-3\)/);
    for (const cmd of ['sample', 'eval', 'inspect']) assert.match((await ok([cmd, '--help'])).stdout, /Usage: charrnn /);
  });
});

describe('charrnn sample', () => {
  it('is deterministic for a seed and starts with the prime text', async () => {
    const args = ['sample', join(base, 'latest.safetensors'), '--prime', prime, '--length', '200', '--seed', '7'];
    const a = await ok(args);
    const b = await ok(args);
    assert.equal(a.stdout, b.stdout);
    assert.ok(a.stdout.startsWith(prime), a.stdout);
    assert.ok([...a.stdout].length >= prime.length + 200);
    const c = await ok([...args.slice(0, -1), '8']);
    assert.notEqual(c.stdout, a.stdout);
  });

  it('--count 3 prints three samples, each ended by a separator', async () => {
    const r = await ok(['sample', join(base, 'latest.safetensors'), '--count', '3', '--length', '60', '--prime', prime, '-t', '0.8']);
    const parts = r.stdout.split('\n\n----\n');
    assert.equal(parts.length, 4);
    assert.equal(parts[3], '');
    for (const p of parts.slice(0, 3)) assert.ok(p.startsWith(prime), p);
  });
});

describe('charrnn eval', () => {
  const line = /^loss \d+\.\d{4} nats\/char, \d+\.\d{3} bits\/char over [\d,]+ chars \((.*)\)\n$/;

  it('evaluates a file', async () => {
    const r = await ok(['eval', join(base, 'latest.safetensors'), corpus]);
    assert.match(r.stdout, line);
  });

  it('evaluates the validation split of the training corpus', async () => {
    const r = await ok(['eval', join(base, 'latest.safetensors')]);
    assert.equal(line.exec(r.stdout)?.[1], `val split of ${corpus}`);
    const j = JSON.parse((await ok(['eval', join(base, 'latest.safetensors'), '--json'])).stdout) as Record<string, unknown>;
    assert.equal(j.split, 'val');
    assert.ok(typeof j.loss === 'number' && j.loss > 0 && typeof j.bpc === 'number' && typeof j.chars === 'number');
  });

  it('refuses an empty split and characters the model never saw', async () => {
    await fails(['eval', join(base, 'latest.safetensors'), '--split', 'test'], /test split .* is empty/);
    const odd = join(tmp, 'odd.txt');
    await writeFile(odd, `${text.slice(0, 500)}§~`);
    await fails(['eval', join(base, 'latest.safetensors'), odd], /odd\.txt has characters the model never saw: "§".*"~"/);
  });

  it('refuses --split with a file, even the default split named explicitly', async () => {
    await fails(['eval', join(base, 'latest.safetensors'), corpus, '--split', 'val'],
      /--split applies to the checkpoint's own corpus; it cannot be used with a file/);
  });
});

describe('charrnn inspect', () => {
  it('shows the model, vocabulary, tensors and training record', async () => {
    const r = await ok(['inspect', join(base, 'latest.safetensors')]);
    for (const want of [/model\s+lstm, 1 layer of 16/, /vocabulary\s+\d+ chars: "\\n /, /parameters\s+[\d,]+/,
      /rnn\.weight_ih_l0\s+64 × \d+/, /training\s+iteration 30, epoch 0\.\d\d/, /optimizer\s+rmsprop/, /corpus\s+.*input\.txt/]) {
      assert.match(r.stdout, want);
    }
  });

  it('--json holds everything, histories included', async () => {
    const j = await inspectJson(join(base, 'latest.safetensors'));
    assert.equal(j.config.model, 'lstm');
    assert.equal(j.training?.iter, 30);
    assert.equal(j.training?.history.train.length, 30);
  });
});

describe('mistakes end with one line and leave files alone', () => {
  const fresh = (): string => join(tmp, `never-${Math.random().toString(36).slice(2)}`);
  async function trainFails(args: string[], pattern: RegExp): Promise<void> {
    const dir = fresh();
    await fails(['train', ...TINY, ...args, '--checkpoint-dir', dir], pattern);
    assert.equal(existsSync(dir), false, 'no checkpoint directory is made');
  }

  it('a missing, empty, binary, or too small corpus; an unknown dataset', async () => {
    await trainFails([join(tmp, 'missing.txt')], /no such file or dataset: .*missing\.txt/);
    const empty = join(tmp, 'empty.txt');
    await writeFile(empty, '');
    await trainFails([empty], /empty\.txt is empty/);
    const binary = join(tmp, 'binary.bin');
    await writeFile(binary, Buffer.from([0x61, 0x62, 0x63, 0xff, 0xfe, 0x00, 0x01]));
    await trainFails([binary], /not UTF-8 text: invalid byte 0xff at byte 3/);
    const small = join(tmp, 'small.txt');
    await writeFile(small, text.slice(0, 100));
    await trainFails([small], /too small: \d+ characters, but batch 8 × sequence 16 needs at least 129/);
    await trainFails(['shakespear'], /no such file or dataset: shakespear \(datasets: mobydick, names, shakespeare\)/);
  });

  it('flags out of range or not numbers', async () => {
    await trainFails([corpus, '--lr', '-1'], /--lr must be above 0/);
    await trainFails([corpus, '--hidden', '0'], /--hidden must be an integer from 1/);
    await trainFails([corpus, '--dropout', '1'], /--dropout must be in \[0, 1\)/);
    await trainFails([corpus, '--batch', 'abc'], /--batch <n>' argument 'abc' is invalid/);
    await trainFails([corpus, '--lr', '1e-3x'], /--lr <rate>' argument '1e-3x' is invalid/);
    await trainFails([corpus, '--model', 'foo'], /--model <type>' argument 'foo' is invalid.*lstm, gru, rnn/);
    await trainFails([corpus, '--threads', '0'], /--threads must be an integer from 1/);
    await trainFails([corpus, '--bogus'], /unknown option '--bogus'/);
    await fails(['sample', join(base, 'latest.safetensors'), '-t', '0'], /--temperature must be above 0/);
  });

  it('unreadable and truncated checkpoints', async () => {
    await fails(['sample', tmp], /is a directory, not a checkpoint/);
    await fails(['sample', join(tmp, 'nope.safetensors')], /no such checkpoint/);
    const garbage = join(tmp, 'garbage.safetensors');
    await writeFile(garbage, createHash('sha256').update('x').digest().toString('hex').repeat(20));
    await fails(['inspect', garbage], /garbage\.safetensors: not a safetensors file/);
    const good = await readFile(join(base, 'latest.safetensors'));
    const cut = join(tmp, 'cut.safetensors');
    await writeFile(cut, good.subarray(0, good.length >> 1));
    await fails(['eval', cut], /truncated/);
  });

  it('a failing run never overwrites a good latest.safetensors', async () => {
    const dir = join(tmp, 'cv-keep');
    await cp(base, dir, { recursive: true });
    const latest = join(dir, 'latest.safetensors');
    const before = await readFile(latest);
    const listing = await readdir(dir);
    const good = await readFile(join(base, 'latest.safetensors'));
    const cut = join(tmp, 'cut-resume.safetensors');
    await writeFile(cut, good.subarray(0, good.length >> 1));
    const small = join(tmp, 'small2.txt');
    await writeFile(small, text.slice(0, 100));
    for (const args of [['--resume', cut], [small], [corpus, '--lr', '-1'], [join(tmp, 'missing.txt')]]) {
      await fails(['train', ...args, ...TINY, '--checkpoint-dir', dir], /./);
      assert.deepEqual(await readFile(latest), before);
      assert.deepEqual(await readdir(dir), listing);
    }
  });

  it('a prime with characters the model never saw prints nothing', async () => {
    const r = await fails(['sample', join(base, 'latest.safetensors'), '--prime', 'ab§€'], /prime text has characters the model never saw: "§".*"€"/);
    assert.equal(r.stdout, '');
  });

  it('a model too large for memory', async () => {
    await trainFails([corpus, '--hidden', '16384', '--layers', '64'], /out of memory|parameters/);
  });

  it('an allocation V8 refuses is reported as out of memory, in one line', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array): boolean => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
    let code: number;
    try {
      code = reportError(new RangeError('Array buffer allocation failed'));
    } finally {
      process.stderr.write = write;
    }
    assert.equal(code, 1);
    assert.deepEqual(written, ['charrnn: out of memory: the model or batch is too large for this machine (Array buffer allocation failed)\n']);
  });

  it('a checkpoint directory that cannot be made', async () => {
    const afile = join(tmp, 'afile');
    await writeFile(afile, 'not a directory');
    await fails(['train', corpus, ...TINY, '--checkpoint-dir', join(afile, 'cv')], /checkpoint directory .*afile\/cv is not writable/);
  });
});

describe('Ctrl-C', () => {
  it('stops after the iteration, writes a checkpoint and exits 0', async () => {
    const dir = join(tmp, 'cv-interrupt');
    await mkdir(dir);
    const child = spawn(process.execPath, [BIN, 'train', corpus, ...SHAPE, '--max-iters', '100000', '--eval-every', '100000',
      '--checkpoint-dir', dir, '--json'], { env, cwd: tmp });
    let out = '';
    let sent = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!sent && out.includes('"type":"iteration"')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => { err += chunk; });
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    clearTimeout(guard);
    assert.equal(code, 0, err);
    const done = events(out).at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.reason, 'interrupted');
    const ck = await inspectJson(join(dir, 'latest.safetensors'));
    assert.ok((ck.training?.iter ?? 0) >= 1);
    assert.ok(ck.training!.iter < 1000, 'stopped soon after the signal');
  });
});
