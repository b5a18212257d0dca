import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../src/errors.js';
import { Batcher } from '../src/text/batches.js';
import { decodeCache, encodeCache } from '../src/text/cache.js';
import { Corpus } from '../src/text/corpus.js';
import { Vocab } from '../src/text/vocab.js';

const UNICODE = 'Zoë said “hi” — 日本語 😀 ok\nsecond line 😀 é\t!';

function userError(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'message must be one line');
    return true;
  };
}

describe('Vocab', () => {
  it('chars: sorted code points, one symbol per code point, round trip', () => {
    const v = Vocab.fromText(UNICODE, false);
    assert.equal(v.kind, 'chars');
    const expected = [...new Set(UNICODE)].sort((a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number));
    assert.deepEqual(v.symbols, expected);
    assert.ok(v.symbols.includes('😀'), 'an emoji is one symbol');
    assert.equal(v.symbols.at(-1), '😀');
    const ids = v.encode(UNICODE);
    assert.ok(ids instanceof Int32Array);
    assert.equal(ids.length, [...UNICODE].length);
    assert.equal(v.decode(ids), UNICODE);
  });

  it('bytes: sorted byte values, decode is UTF-8, round trip', () => {
    const v = Vocab.fromText(UNICODE, true);
    assert.equal(v.kind, 'bytes');
    const bytes = new TextEncoder().encode(UNICODE);
    const distinct = [...new Set(bytes)].sort((a, b) => a - b);
    assert.deepEqual(v.symbols, distinct.map((b) => String.fromCharCode(b)));
    const ids = v.encode(UNICODE);
    assert.equal(ids.length, bytes.length);
    assert.equal(v.decode(ids), UNICODE);
  });

  it('bytes streaming decoder holds partial characters until complete', () => {
    const v = Vocab.fromText(UNICODE, true);
    const d = v.decoder();
    const pieces = [...v.encode(UNICODE)].map((id) => d.push(id));
    pieces.push(d.end());
    assert.equal(pieces.join(''), UNICODE);
    const emoji = new TextEncoder().encode('😀').length;
    const start = [...v.encode(UNICODE)].findIndex((_, i, a) => v.decode(a.slice(i, i + emoji)) === '😀');
    assert.deepEqual(pieces.slice(start, start + emoji), ['', '', '', '😀']);
  });

  it('bytes streaming decoder ends an unfinished character with a replacement', () => {
    const v = Vocab.fromText('😀', true);
    const d = v.decoder();
    const ids = v.encode('😀');
    assert.equal(d.push(ids[0]) + d.push(ids[1]), '');
    assert.equal(d.end(), '\uFFFD');
  });

  it('chars decoder maps each id', () => {
    const v = Vocab.fromText(UNICODE, false);
    const d = v.decoder();
    assert.equal([...v.encode(UNICODE)].map((id) => d.push(id)).join('') + d.end(), UNICODE);
  });

  it('encode names every unknown character once', () => {
    const v = Vocab.fromText('abc', false);
    assert.throws(
      () => v.encode('abécé—\u2014x', 'prime text has characters the model never saw'),
      userError(/^prime text has characters the model never saw: "é" \(U\+00E9\), "—" \(U\+2014\), "x" \(U\+0078\)$/),
    );
    assert.throws(() => v.encode('a\nb'), userError(/not in the vocabulary: "\\n" \(U\+000A\)$/));
    const many = Array.from({ length: 15 }, (_, i) => String.fromCharCode(0x41 + i)).join('');
    assert.throws(() => v.encode(many), userError(/"J" \(U\+004A\) and 5 more$/));
  });

  it('bytes encode names the characters whose bytes are unknown', () => {
    const v = Vocab.fromText('aé', true);
    assert.throws(() => v.encode('aéè'), userError(/: "è" \(U\+00E8\)$/));
  });

  it('JSON round trip and validation', () => {
    for (const bytes of [false, true]) {
      const v = Vocab.fromText(UNICODE, bytes);
      const w = Vocab.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
      assert.equal(w.kind, v.kind);
      assert.deepEqual(w.symbols, v.symbols);
      assert.equal(w.decode(w.encode(UNICODE)), UNICODE);
    }
    for (const bad of [null, 3, {}, { kind: 'words', symbols: ['a'] }, { kind: 'chars', symbols: [] },
      { kind: 'chars', symbols: ['b', 'a'] }, { kind: 'chars', symbols: ['a', 'a'] }, { kind: 'chars', symbols: ['ab'] },
      { kind: 'chars', symbols: [1] }, { kind: 'bytes', symbols: ['é', 'ē'] }]) {
      assert.throws(() => Vocab.fromJSON(bad), userError(/^malformed vocabulary: /), JSON.stringify(bad));
    }
  });

  it('ids array type follows the vocabulary size', () => {
    const ofSize = (n: number): Vocab =>
      Vocab.fromJSON({ kind: 'chars', symbols: Array.from({ length: n }, (_, i) => String.fromCodePoint(i < 0xd800 ? i : i + 0x800)) });
    assert.ok(ofSize(256).allocIds(1) instanceof Uint8Array);
    assert.ok(ofSize(257).allocIds(1) instanceof Uint16Array);
    assert.ok(ofSize(65536).allocIds(1) instanceof Uint16Array);
    assert.ok(ofSize(65537).allocIds(1) instanceof Uint32Array);
    assert.ok(Corpus.fromText('hello').ids instanceof Uint8Array);
    const wide = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    const c = Corpus.fromText(wide);
    assert.ok(c.ids instanceof Uint16Array);
    assert.equal(c.vocab.decode(c.ids), wide);
  });
});

describe('Corpus', () => {
  const text1000 = Array.from({ length: 1000 }, (_, i) => 'abcdefghij'[i % 10]).join('');

  it('val is the last 5% by default, train the rest', () => {
    const c = Corpus.fromText(text1000);
    assert.equal(c.length, 1000);
    assert.deepEqual(c.range('train'), { start: 0, end: 950 });
    assert.deepEqual(c.range('val'), { start: 950, end: 1000 });
    assert.equal(c.split('val').length, 50);
    assert.equal(c.split('test').length, 0);
    assert.equal(c.vocab.decode(c.split('val')), text1000.slice(950));
  });

  it('train, val, test are contiguous in that order', () => {
    const c = Corpus.fromText(text1000, { valFrac: 0.1, testFrac: 0.2 });
    assert.deepEqual(c.range('train'), { start: 0, end: 700 });
    assert.deepEqual(c.range('val'), { start: 700, end: 800 });
    assert.deepEqual(c.range('test'), { start: 800, end: 1000 });
    assert.equal(c.split('test')[0], c.ids[800]);
  });

  it('splits count characters, not UTF-16 units', () => {
    const text = '😀a'.repeat(50);
    const c = Corpus.fromText(text, { valFrac: 0.1 });
    assert.equal(c.length, 100);
    assert.equal(c.vocab.decode(c.split('val')), '😀a'.repeat(5));
  });

  it('rejects bad fractions and empty text', () => {
    assert.throws(() => Corpus.fromText('abc', { valFrac: -0.1 }), userError(/validation fraction/));
    assert.throws(() => Corpus.fromText('abc', { testFrac: 1 }), userError(/test fraction/));
    assert.throws(() => Corpus.fromText('abc', { valFrac: Number.NaN }), userError(/validation fraction/));
    assert.throws(() => Corpus.fromText('abc', { valFrac: 0.5, testFrac: 0.5 }), userError(/leave text to train on/));
    assert.throws(() => Corpus.fromText(''), userError(/is empty/));
  });

  it('fromIds keeps a fitting array and checks ids', () => {
    const v = Vocab.fromText('abc', false);
    const ids = Uint8Array.of(0, 1, 2, 1);
    assert.equal(Corpus.fromIds(v, ids).ids, ids);
    const copied = Corpus.fromIds(v, [2, 1, 0]);
    assert.ok(copied.ids instanceof Uint8Array);
    assert.deepEqual([...copied.ids], [2, 1, 0]);
    assert.throws(() => Corpus.fromIds(v, [0, 3]), userError(/outside the vocabulary/));
  });
});

describe('Batcher', () => {
  // n = 15, B = 2, S = 3: numBatches = floor(14 / 6) = 2, streams start at 0 and 6.
  const ids = Array.from({ length: 15 }, (_, i) => 100 + i);

  it('matches the hand-computed layout, time-major', () => {
    const bt = new Batcher(ids, 2, 3);
    assert.equal(bt.numBatches, 2);
    const x = new Int32Array(6);
    const y = new Int32Array(6);
    bt.fill(0, x, y);
    // t = 0: streams (b = 0, b = 1), then t = 1, t = 2.
    assert.deepEqual([...x], [100, 106, 101, 107, 102, 108]);
    assert.deepEqual([...y], [101, 107, 102, 108, 103, 109]);
    bt.fill(1, x, y);
    assert.deepEqual([...x], [103, 109, 104, 110, 105, 111]);
    assert.deepEqual([...y], [104, 110, 105, 111, 106, 112]);
  });

  it('each stream continues where the previous batch left off', () => {
    const long = Array.from({ length: 1000 }, (_, i) => i);
    const B = 4;
    const S = 7;
    const bt = new Batcher(long, B, S);
    const x = new Int32Array(B * S);
    const y = new Int32Array(B * S);
    let last: number[] | undefined;
    for (let i = 0; i < bt.numBatches; i++) {
      bt.fill(i, x, y);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < S; t++) assert.equal(y[t * B + b], x[t * B + b] + 1);
        if (last) assert.equal(x[b], last[b] + 1, `stream ${b} continues at batch ${i}`);
      }
      last = Array.from({ length: B }, (_, b) => x[(S - 1) * B + b]);
    }
    assert.equal(bt.numBatches, Math.floor(999 / 28));
  });

  it('too small a split states the minimum', () => {
    assert.throws(() => new Batcher(ids, 2, 8), userError(/too small: 15 characters.*at least 17\b.*--batch or --seq/));
    assert.equal(new Batcher(ids, 2, 7).numBatches, 1);
    assert.throws(() => new Batcher([1, 2, 3], 1, 3), userError(/at least 4/));
    assert.throws(() => new Batcher(ids, 0, 3), userError(/batch size/));
  });
});

describe('corpus cache format', () => {
  it('round trips', () => {
    for (const text of [UNICODE, Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('')]) {
      const c = Corpus.fromText(text);
      const bytes = encodeCache({ key: 'k1', vocab: c.vocab, ids: c.ids });
      const back = decodeCache(bytes);
      assert.ok(back);
      assert.equal(back.key, 'k1');
      assert.deepEqual(back.vocab.symbols, c.vocab.symbols);
      assert.equal(back.ids.constructor, c.ids.constructor);
      assert.deepEqual([...back.ids], [...c.ids]);
    }
  });

  it('starts with the magic and aligns the ids', () => {
    const c = Corpus.fromText('abcabc');
    const bytes = encodeCache({ key: 'x', vocab: c.vocab, ids: c.ids });
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), 'CHRNCACH');
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
    assert.deepEqual(header, { version: 1, key: 'x', vocab: c.vocab.toJSON(), idsType: 'u8', length: 6 });
    assert.equal((bytes.length - 6) % 4, 0);
  });

  it('returns null for anything malformed', () => {
    const c = Corpus.fromText(UNICODE);
    const good = encodeCache({ key: 'k', vocab: c.vocab, ids: c.ids });
    assert.equal(decodeCache(good.subarray(0, good.length - 1)), null);
    assert.equal(decodeCache(good.subarray(0, 10)), null);
    assert.equal(decodeCache(new Uint8Array(0)), null);
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    assert.equal(decodeCache(longer), null);
    const badMagic = good.slice();
    badMagic[0] = 0;
    assert.equal(decodeCache(badMagic), null);
    const badId = good.slice();
    badId[badId.length - 1] = 255;
    assert.equal(decodeCache(badId), null);
    const badHeader = good.slice();
    badHeader[12] = 0x7b + 1;
    assert.equal(decodeCache(badHeader), null);
  });
});
