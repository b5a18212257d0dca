// Inspection: the per-character states and guesses are the model's own (the same numbers a
// plain forward gives), reading in chunks changes nothing, the features mean what their
// definitions say, the ranking finds a cell that tracks a feature, and the page's data format
// carries all of it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend } from '../src/backend/js/index.js';
import type { CellType } from '../src/model/config.js';
import { CharLM } from '../src/model/charlm.js';
import { Vocab } from '../src/text/vocab.js';
import { UserError } from '../src/errors.js';
import { inspectText, positionSymbols, symbolTexts, type Inspection, type StateTrace } from '../src/inspect/activations.js';
import { column, cComment, depth, quote, texComment, textFeatures, wordStart, type Feature } from '../src/inspect/features.js';
import { correlations, rankCells } from '../src/inspect/ranking.js';
import { encodeInspection } from '../src/inspect/encode.js';
import { decodeViz } from '../web/app/viz-view.js';

const TEXT = 'int f(int a) { /* "x" */ return a[1] % 2; }\n"Hi," she said (twice).\n'.repeat(3);

// A model with larger weights than the initialisation's, so states saturate and the guesses are
// far from uniform: the checks below then compare numbers that differ from cell to cell.
async function makeModel(model: CellType, vocab: Vocab, layers = 2, hidden = 6): Promise<CharLM> {
  const m = CharLM.create(new JsBackend(), { model, layers, hidden }, vocab.size, 7);
  const params = await m.exportParams();
  for (const t of params.values()) for (let i = 0; i < t.length; i++) t[i] *= 30;
  m.importParams(params);
  return m;
}

function near(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function trace(ins: Inspection, layer: number, kind: 'h' | 'c'): StateTrace {
  const t = ins.traces.find((x) => x.layer === layer && x.kind === kind);
  assert.ok(t, `no ${kind} trace for layer ${layer}`);
  return t;
}

describe('activations', () => {
  const vocab = Vocab.fromText(TEXT, false);

  for (const cell of ['lstm', 'gru', 'rnn'] as const) {
    it(`${cell}: the state at position m is the state after a plain forward over the first m+1 characters`, async () => {
      const model = await makeModel(cell, vocab);
      const ins = await inspectText(model, vocab, TEXT, { chunk: 16 });
      const H = model.config.hidden, ids = vocab.encode(TEXT);
      assert.equal(ins.traces.length, cell === 'lstm' ? 4 : 2);
      for (const m of [1, 17, 40, ids.length]) {
        const state = model.newState(1);
        model.logits(ids.subarray(0, m), m, 1, state);
        for (let layer = 0; layer < 2; layer++) {
          const want = state.layer(layer);
          near(trace(ins, layer, 'h').values.subarray((m - 1) * H, m * H), await model.backend.download(want.h), 1e-6, `${cell} h l${layer} @${m}`);
          if (cell === 'lstm') {
            near(trace(ins, layer, 'c').values.subarray((m - 1) * H, m * H), await model.backend.download(want.c!), 1e-5, `c l${layer} @${m}`);
          }
        }
      }
    });
  }

  it('the guesses are the five most probable next characters, with the softmax of the logits', async () => {
    const model = await makeModel('lstm', vocab);
    const ins = await inspectText(model, vocab, TEXT);
    const ids = vocab.encode(TEXT), N = ids.length, V = vocab.size, k = ins.guesses.k;
    assert.equal(k, 5);
    const logits = await model.backend.download(model.logits(ids, N, 1, model.newState(1)));
    let spread = 0;
    for (let n = 0; n < N; n++) {
      const row = Array.from(logits.subarray(n * V, (n + 1) * V));
      const max = Math.max(...row);
      const e = row.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const probs = e.map((x) => x / sum);
      const sorted = [...probs].sort((a, b) => b - a);
      const got = ins.guesses.probs.subarray(n * k, (n + 1) * k);
      near(got, sorted.slice(0, k), 1e-6, `probs @${n}`);
      for (let j = 0; j < k; j++) assert.ok(Math.abs(probs[ins.guesses.ids[n * k + j]] - got[j]) <= 1e-6, `id of guess ${j} @${n}`);
      assert.ok(got.reduce((a, b) => a + b, 0) <= 1 + 1e-6);
      spread = Math.max(spread, got[0] - got[k - 1]);
    }
    assert.ok(spread > 0.1, 'the test model\'s guesses should not be uniform');
  });

  it('reading in chunks of 7 or of 128 gives the same states and guesses', async () => {
    const model = await makeModel('lstm', vocab);
    const a = await inspectText(model, vocab, TEXT, { chunk: 7 });
    const b = await inspectText(model, vocab, TEXT, { chunk: 128 });
    for (let i = 0; i < a.traces.length; i++) near(a.traces[i].values, b.traces[i].values, 1e-6, `trace ${i}`);
    assert.deepEqual(a.guesses.ids, b.guesses.ids);
    near(a.guesses.probs, b.guesses.probs, 1e-6, 'probs');
  });

  it('text the model cannot read is a UserError naming the unseen characters', async () => {
    const model = await makeModel('gru', vocab, 1, 4);
    await assert.rejects(inspectText(model, vocab, 'int Q = 1 ~ 2;'),
      (e: unknown) => e instanceof UserError && /never saw/.test(e.message) && e.message.includes('"Q"') && e.message.includes('"~"'));
    await assert.rejects(inspectText(model, vocab, ''), (e: unknown) => e instanceof UserError && /empty/.test(e.message));
  });

  it('a byte-level model reads bytes, shown as U+FFFD when not ASCII', async () => {
    const text = 'naïve "café"\n';
    const bytes = Vocab.fromText(text, true);
    const model = await makeModel('rnn', bytes, 1, 4);
    const ins = await inspectText(model, bytes, text);
    assert.equal(ins.ids.length, new TextEncoder().encode(text).length);
    assert.equal(positionSymbols(ins).join(''), 'na\uFFFD\uFFFDve "caf\uFFFD\uFFFD"\n');
  });
});

describe('features', () => {
  const f = (fn: (s: readonly string[]) => Float32Array, text: string): number[] => Array.from(fn(Array.from(text)));

  it('quote: inside after an opening quote, outside after the closing one; \\" does not count', () => {
    assert.deepEqual(f(quote, 'a"b\\"c"d'), [0, 1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual(f(quote, '"x\ny"z'), [1, 1, 1, 1, 0, 0]);
  });

  it('column: characters read on the current line; a newline starts again at 0', () => {
    assert.deepEqual(f(column, 'ab\ncd\n\ne'), [1, 2, 0, 1, 2, 0, 0, 1]);
  });

  it('depth: open brackets of any kind, closers with nothing open ignored', () => {
    assert.deepEqual(f(depth, 'f(a[1])'), [0, 1, 1, 2, 2, 1, 0]);
    assert.deepEqual(f(depth, ')x({]}'), [0, 0, 1, 2, 1, 0]);
  });

  it('comment: C block and line comments, not inside strings', () => {
    assert.deepEqual(f(cComment, 'a/b/*c*/d//e\nf"//"g'), [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // "/*/" does not close the comment it opens; a '*' right after "*/" opens nothing.
    assert.deepEqual(f(cComment, '/*/x*/*y'), [0, 1, 1, 1, 1, 0, 0, 0]);
    // A string ends at a newline, so a stray quote does not hide the comments after it.
    assert.deepEqual(f(cComment, '"a\n//b'), [0, 0, 0, 0, 1, 1]);
  });

  it('tex-comment: from an unescaped % to the end of the line', () => {
    assert.deepEqual(f(texComment, 'a%b\nc\\%d'), [0, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('word-start: the first letter, digit or underscore after anything else', () => {
    assert.deepEqual(f(wordStart, 'hi, yo_2 été'), [1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('textFeatures gives every feature, one value per position', () => {
    const all = textFeatures(Array.from('x = "(a)"'));
    assert.deepEqual(all.map((x) => x.name), ['quote', 'column', 'depth', 'comment', 'tex-comment', 'word-start']);
    for (const x of all) assert.equal(x.values.length, 9);
  });
});

describe('ranking', () => {
  // Deterministic noise in [−1, 1).
  let seed = 99;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 30) - 1;
  };
  const N = 2000, H = 32;
  const feature = (name: Feature['name'], values: Float32Array): Feature => ({ name, description: name, values });
  const inQuotes = feature('quote', Float32Array.from({ length: N }, (_, n) => (Math.floor(n / 37) % 3 === 0 ? 1 : 0)));
  const col = feature('column', Float32Array.from({ length: N }, (_, n) => n % 53));
  const flat = feature('comment', new Float32Array(N));
  const traces: StateTrace[] = [0, 1].flatMap((layer) => (['h', 'c'] as const).map((kind) => ({
    layer, kind, values: Float32Array.from({ length: N * H }, () => noise()),
  })));
  // Planted: layer 1 c 5 follows the quotes, layer 0 h 9 runs against the column.
  for (let n = 0; n < N; n++) {
    traces[3].values[n * H + 5] = inQuotes.values[n] + 0.2 * noise();
    traces[0].values[n * H + 9] = -col.values[n] / 53 + 0.2 * noise();
  }

  it('puts a planted cell first, keeping the sign of its correlation', () => {
    const [q, c, constant] = rankCells(traces, [inQuotes, col, flat], 3);
    assert.deepEqual({ ...q.best[0], r: 0 }, { layer: 1, kind: 'c', cell: 5, r: 0 });
    assert.ok(q.best[0].r > 0.9, `r = ${q.best[0].r}`);
    assert.deepEqual({ ...c.best[0], r: 0 }, { layer: 0, kind: 'h', cell: 9, r: 0 });
    assert.ok(c.best[0].r < -0.9, `r = ${c.best[0].r}`);
    assert.ok(Math.abs(q.best[1].r) < 0.2, 'the runner-up is noise');
    assert.equal(q.best.length, 3);
    assert.deepEqual(constant.best, [], 'a constant feature ranks nothing');
  });

  it('correlations are Pearson\'s r', () => {
    const r = correlations(traces[0].values, [col]);
    for (const h of [0, 9, 31]) {
      const a = Array.from({ length: N }, (_, n) => traces[0].values[n * H + h]);
      const x = Array.from(col.values);
      const mean = (v: number[]): number => v.reduce((s, y) => s + y, 0) / v.length;
      const ma = mean(a), mx = mean(x);
      let sax = 0, saa = 0, sxx = 0;
      for (let n = 0; n < N; n++) {
        sax += (a[n] - ma) * (x[n] - mx);
        saa += (a[n] - ma) ** 2;
        sxx += (x[n] - mx) ** 2;
      }
      assert.ok(Math.abs(r[0][h] - sax / Math.sqrt(saa * sxx)) < 1e-9, `cell ${h}`);
    }
  });
});

describe('page data', () => {
  const vocab = Vocab.fromText(TEXT, false);

  for (const deflate of [false, true]) {
    it(`encodes and decodes the text, activations and guesses${deflate ? ', deflated' : ''}`, async () => {
      const model = await makeModel('lstm', vocab, 2, 5);
      const ins = await inspectText(model, vocab, TEXT);
      const ranking = rankCells(ins.traces, textFeatures(positionSymbols(ins)));
      const json = await encodeInspection(ins, ranking, { title: 't', deflate });
      const back = await decodeViz(JSON.parse(JSON.stringify(json)) as typeof json);
      const N = ins.ids.length, H = 5, k = ins.guesses.k;
      assert.deepEqual(Array.from(back.ids), Array.from(ins.ids));
      assert.deepEqual(json.symbols, symbolTexts(vocab));
      assert.equal(back.traces.length, 4);
      for (const [t, tr] of back.traces.entries()) {
        const src = ins.traces[t];
        assert.deepEqual([tr.layer, tr.kind], [src.layer, src.kind]);
        for (let n = 0; n < N; n++) {
          for (let h = 0; h < H; h++) {
            const v = src.values[n * H + h];
            const want = src.kind === 'c' ? Math.tanh(v) : v;
            const got = tr.values[h * N + n] * tr.scale; // cell-major
            assert.ok(Math.abs(got - want) <= tr.scale / 2 + 1e-6, `${src.kind}${src.layer} cell ${h} @${n}: ${got} vs ${want}`);
          }
        }
      }
      assert.deepEqual(Array.from(back.guessIds), Array.from(ins.guesses.ids));
      for (let i = 0; i < N * k; i++) {
        assert.ok(Math.abs(back.guessProbs[i] * json.guesses.scale - ins.guesses.probs[i]) <= json.guesses.scale / 2 + 1e-6);
      }
      assert.deepEqual(back.json.ranking.map((x) => x.feature), ranking.map((x) => x.feature));
    });
  }

  it('deflating makes the activations smaller', async () => {
    const model = await makeModel('lstm', vocab, 2, 16);
    const ins = await inspectText(model, vocab, TEXT.repeat(4));
    const plain = await encodeInspection(ins, [], { title: 't', deflate: false });
    const packed = await encodeInspection(ins, [], { title: 't', deflate: true });
    const size = (j: typeof plain): number => j.traces.reduce((s, t) => s + t.data.base64.length, 0);
    assert.ok(size(packed) < 0.7 * size(plain), `${size(packed)} vs ${size(plain)}`);
  });
});
