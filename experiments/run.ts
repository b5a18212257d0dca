// npm run experiments -- NAME [options]: reruns one of the post's experiments (or `all`, in order)
// and writes its section of docs/experiments.md, with its figures under docs/experiments/.
//   --quick          seconds: a tiny model on a slice of the text, written to a temporary directory
//   --docs DIR       where experiments.md and experiments/ go (default docs; with --quick a temporary one)
//   --cv DIR         checkpoints (default cv/experiments; with --quick under the docs directory)
//   --data DIR       the corpora (default ../shared/data)
//   --max-time S     seconds of training per model instead of the experiment's default
//   --backend NAME   auto (default: the fastest here), wasm, webgpu or js; --threads N for wasm
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../src/index.js';
import { ROOT, WALL_TIME, closeBackend, openBackend, progress, seconds, type Context, type Options } from './common.js';
import { SECTIONS, writeSection } from './doc.js';
import { shakespeare } from './shakespeare.js';
import { evolution } from './evolution.js';
import { names } from './names.js';
import { linux } from './linux.js';
import { latex } from './latex.js';
import { wikipedia } from './wikipedia.js';
import { cells } from './cells.js';
import { gruLstmRnn } from './gru-vs-lstm-vs-rnn.js';
import { memorisation } from './memorisation.js';

/** An experiment returns the Markdown of its section. */
export type Experiment = (ctx: Context) => Promise<string>;

const EXPERIMENTS: Record<string, Experiment> = {
  shakespeare, evolution, names, linux, latex, wikipedia, cells, 'gru-vs-lstm-vs-rnn': gruLstmRnn, memorisation,
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      docs: { type: 'string' },
      cv: { type: 'string' },
      data: { type: 'string', default: join(ROOT, '..', 'shared', 'data') },
      'max-time': { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
    },
  });
  const known = SECTIONS.map((s) => s.name);
  if (positionals.length !== 1 || !(positionals[0] === 'all' || positionals[0] in EXPERIMENTS)) {
    throw new UserError(`usage: npm run experiments -- NAME [--quick] [--docs DIR] [--cv DIR] [--data DIR] [--max-time S] [--backend NAME] [--threads N]\nNAME: all, ${known.join(', ')}`);
  }
  const positive = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new UserError(`--${flag} must be a positive number, got ${v}`);
    return n;
  };
  const quick = values.quick === true;
  const docs = resolve(values.docs ?? (quick ? await mkdtemp(join(tmpdir(), 'charrnn-experiments-')) : join(ROOT, 'docs')));
  const opts: Options = {
    quick, docs,
    cv: resolve(values.cv ?? (quick ? join(docs, 'cv') : join(ROOT, 'cv', 'experiments'))),
    data: resolve(values.data),
    maxTime: positive('max-time', values['max-time']),
    backend: values.backend,
    threads: positive('threads', values.threads),
    // Repeated in each section's command, so the section says how to get exactly it again.
    extra: process.argv.slice(2).filter((a) => a !== positionals[0]),
  };
  const names = positionals[0] === 'all' ? known : [positionals[0]];
  const doc = join(docs, 'experiments.md');
  for (const name of names) {
    const backend = await openBackend(opts);
    const started = performance.now();
    const command = ['npm run experiments --', name, ...opts.extra].join(' ');
    progress(`${name}: ${command}`);
    try {
      const body = await EXPERIMENTS[name]({ name, opts, backend, command, started });
      await writeSection(doc, name, body.replaceAll(WALL_TIME, seconds((performance.now() - started) / 1000)));
    } finally {
      closeBackend(backend);
    }
    progress(`${name}: wrote its section of ${doc} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`experiments: ${err instanceof UserError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
