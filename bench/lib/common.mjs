// What every JavaScript measurement child shares with the others (the Python peer mirrors
// it): the spec it is given, the timing rule, the corpus and char-rnn's batch layout.
import { readFileSync } from 'node:fs';

/** The standard configurations (BENCHMARKS.md; L and XL for the GPU). */
export const CONFIGS = {
  S: { name: 'S', layers: 2, hidden: 128, batch: 50, seq: 50, dropout: 0 },
  M: { name: 'M', layers: 2, hidden: 512, batch: 50, seq: 50, dropout: 0.5 },
  L: { name: 'L', layers: 3, hidden: 512, batch: 128, seq: 100, dropout: 0.5 },
  XL: { name: 'XL', layers: 3, hidden: 1024, batch: 256, seq: 100, dropout: 0.5 },
};

/** The benchmark corpus, relative to the repository root. */
export const DATA = '../shared/data/tinyshakespeare.txt';

/** The library's corpus over the benchmark text, with the 90/10 split of the quality runs. */
export function benchCorpus(lib, path) {
  return lib.Corpus.fromText(readFileSync(path, 'utf8'), { valFrac: 0.1 });
}

/** A configuration's LSTM (one-hot input), with the seed every measurement uses. */
export function benchModel(lib, backend, c, vocabSize) {
  return lib.CharLM.create(backend, { model: 'lstm', layers: c.layers, hidden: c.hidden, embedding: 0, dropout: c.dropout }, vocabSize, 123);
}

/** Training options for `maxIters` iterations of a configuration; evaluation never runs inside them. */
export function benchTrainOptions(c, maxIters) {
  return { batch: c.batch, seq: c.seq, maxIters, evalEvery: 2 ** 31 - 1, sampleEvery: 0, seed: 123 };
}

/** The configuration a --config flag names (any case); an unknown name is an error. */
export function configNamed(name) {
  const c = CONFIGS[name.toUpperCase()];
  if (!c) throw new Error(`--config must be one of ${Object.keys(CONFIGS).join(', ')}, got ${name}`);
  return c;
}

/**
 * `maxIters` iterations of the library's train() loop on a configuration: next() resolves to
 * the next iteration event (and throws if training stops first); end() ends the run there,
 * which skips the final validation and checkpoint of a finished one.
 */
export function benchTraining(lib, model, corpus, c, maxIters) {
  const events = lib.train(model, corpus, benchTrainOptions(c, maxIters))[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const { value, done } = await events.next();
        if (done) throw new Error('training stopped before the measurement finished');
        if (value.type === 'iteration') return value;
        if (value.type === 'done') throw new Error(`training stopped: ${value.message}`);
      }
    },
    end: () => events.return(undefined),
  };
}

/**
 * Routes every outermost call of a backend method through `around(name, args, call)`; the
 * method's own calls to other methods run as they are. Accessors are left alone.
 */
export function interceptCalls(backend, around) {
  let depth = 0;
  for (let proto = Object.getPrototypeOf(backend); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const f = Object.getOwnPropertyDescriptor(proto, name).value;
      if (name === 'constructor' || typeof f !== 'function' || Object.hasOwn(backend, name)) continue;
      backend[name] = function (...args) {
        if (depth > 0) return f.apply(this, args);
        depth++;
        try { return around(name, args, () => f.apply(this, args)); } finally { depth--; }
      };
    }
  }
}

/** The single `--spec JSON` argument run.mjs passes to every child. */
export function readSpec(argv = process.argv.slice(2)) {
  const i = argv.indexOf('--spec');
  if (i < 0 || !argv[i + 1]) throw new Error('usage: --spec JSON (this script is run by bench/run.mjs)');
  return JSON.parse(argv[i + 1]);
}

/** Prints the one JSON line run.mjs reads, and exits. */
export function report(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** A child that cannot run says why on its last line and exits 2, so run.mjs can list it as not run. */
export function notRun(reason) {
  process.stdout.write(`${JSON.stringify({ notRun: reason })}\n`);
  process.exit(2);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The timing rule, identical in every child: up to `warmup` untimed iterations (fewer when
 * they alone would eat a quarter of the cap), then timed ones until `iters` are done, or
 * until `cap` seconds of timed work once `minIters` are done — so a very slow peer still
 * finishes, and the table says how few iterations its median rests on. Each on the wall clock.
 */
export async function timeIterations(step, { warmup, iters, minIters, cap }) {
  let warm = 0, warmSecs = 0, first = null;
  while (warm < warmup) {
    const s = await timed(step);
    first ??= s;
    warmSecs += s;
    warm++;
    if (warmSecs > cap / 4) break;
  }
  const secs = [];
  let total = 0;
  while (secs.length < iters && !(total >= cap && secs.length >= minIters)) {
    const s = await timed(step);
    secs.push(s);
    total += s;
  }
  return { median: median(secs), n: secs.length, warmup: warm, secs, first };
}

async function timed(step) {
  const t0 = performance.now();
  await step();
  return (performance.now() - t0) / 1000;
}

/** The corpus as ids over its sorted code points, as our vocabulary numbers them. */
export function loadCorpus(path) {
  const text = readFileSync(path, 'utf8');
  const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0) - b.codePointAt(0));
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c));
  return { ids, vocab: chars.length };
}

/**
 * char-rnn's layout: the training text cut into `batch` contiguous streams; batch i is the
 * next `seq` characters of each stream, targets shifted by one. Fills x and y ([batch·seq],
 * batch-major, as Keras-style [B, T] inputs want).
 */
export function batcher(ids, batch, seq) {
  const perStream = Math.floor((ids.length - 1) / batch);
  const count = Math.floor(perStream / seq);
  return (i, x, y) => {
    const off = (i % count) * seq;
    for (let b = 0; b < batch; b++) {
      const base = b * perStream + off;
      for (let t = 0; t < seq; t++) {
        x[b * seq + t] = ids[base + t];
        y[b * seq + t] = ids[base + t + 1];
      }
    }
  };
}

/** Inverse-CDF draw from probabilities p[0..V) with a uniform u. */
export function draw(p, u) {
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i];
    if (u < acc) return i;
  }
  return p.length - 1;
}
