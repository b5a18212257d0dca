import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { UserError } from '../src/errors.js';

function sample(): Record<string, Tensor> {
  return {
    'rnn.weight_ih_l0': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0.1, 1e-30, -0]) },
    'decoder.bias': { dtype: 'F32', shape: [3], data: new Float32Array([Infinity, -1, 0.25]) },
    'optim.step': { dtype: 'I32', shape: [], data: new Int32Array([42]) },
    'empty': { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    'ids': { dtype: 'I32', shape: [1, 2], data: new Int32Array([-7, 2 ** 31 - 1]) },
  };
}

function headerOf(bytes: Uint8Array): { len: number; text: string } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, text: new TextDecoder().decode(bytes.subarray(8, 8 + len)) };
}

// Builds a file around a hand-written header, as another writer (or a corrupted disk) might.
function withHeader(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeSafetensors(bytes),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'message is one line');
      return true;
    },
  );
}

test('round trip keeps names, dtypes, shapes, values and metadata', () => {
  const tensors = sample();
  const metadata = { config: '{"model":"lstm"}', note: 'héllo ✓\nline two' };
  const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
  assert.deepEqual(decoded.metadata, metadata);
  assert.deepEqual(Object.keys(decoded.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const d = decoded.tensors[name]!;
    assert.equal(d.dtype, t.dtype, name);
    assert.deepEqual(d.shape, t.shape, name);
    assert.equal(d.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(d.data), Array.from(t.data), name);
  }
  assert.ok(Object.is(decoded.tensors['rnn.weight_ih_l0']!.data[5], -0));
});

test('no metadata decodes to an empty map', () => {
  const decoded = decodeSafetensors(encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: new Float32Array([2]) } }));
  assert.deepEqual(decoded.metadata, {});
  assert.deepEqual(Array.from(decoded.tensors['x']!.data), [2]);
});

test('header is what Python safetensors writes: sorted, contiguous, space-padded to 8 bytes', () => {
  const bytes = encodeSafetensors(sample(), { a: 'b' });
  const { len, text } = headerOf(bytes);
  assert.equal(len % 8, 0);
  assert.match(text, /^\{.*\} *$/);
  // Only as much padding as alignment needs, as Python writes it.
  assert.ok(len - text.trimEnd().length < 8, `${len - text.trimEnd().length} bytes of padding`);
  const header = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(header), ['__metadata__', 'decoder.bias', 'empty', 'ids', 'optim.step', 'rnn.weight_ih_l0']);
  assert.deepEqual(header['__metadata__'], { a: 'b' });
  assert.deepEqual(header['decoder.bias'], { dtype: 'F32', shape: [3], data_offsets: [0, 12] });
  assert.deepEqual(header['empty'], { dtype: 'F32', shape: [0, 4], data_offsets: [12, 12] });
  assert.deepEqual(header['ids'], { dtype: 'I32', shape: [1, 2], data_offsets: [12, 20] });
  assert.deepEqual(header['optim.step'], { dtype: 'I32', shape: [], data_offsets: [20, 24] });
  assert.deepEqual(header['rnn.weight_ih_l0'], { dtype: 'F32', shape: [2, 3], data_offsets: [24, 48] });
  assert.deepEqual(Object.keys(header['ids'] as object), ['dtype', 'shape', 'data_offsets']);
  assert.equal(bytes.length, 8 + len + 48);
  // Raw data is little-endian f32, exactly as numpy's '<f4' would read it.
  const dv = new DataView(bytes.buffer, 8 + len);
  assert.equal(dv.getFloat32(4, true), -1);
  assert.equal(dv.getInt32(12, true), -7);
});

test('decodes from an unaligned view into aligned typed arrays', () => {
  const bytes = encodeSafetensors(sample());
  for (const shift of [1, 2, 3, 5]) {
    const host = new Uint8Array(bytes.length + shift);
    host.set(bytes, shift);
    const decoded = decodeSafetensors(host.subarray(shift));
    const w = decoded.tensors['rnn.weight_ih_l0']!.data;
    assert.equal(w.byteOffset % 4, 0);
    assert.deepEqual(Array.from(w), Array.from(sample()['rnn.weight_ih_l0']!.data));
  }
});

test('decoded arrays do not alias the file bytes', () => {
  const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const decoded = decodeSafetensors(bytes);
  bytes.fill(0);
  assert.deepEqual(Array.from(decoded.tensors['x']!.data), [1, 2]);
});

test('accepts a header that is not padded (other writers)', () => {
  const data = new Uint8Array(new Float32Array([3]).buffer);
  const decoded = decodeSafetensors(withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', data));
  assert.deepEqual(Array.from(decoded.tensors['x']!.data), [3]);
});

test('encode refuses inconsistent tensors', () => {
  assert.throws(() => encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /needs 3 elements/);
  assert.throws(() => encodeSafetensors({ x: { dtype: 'I32', shape: [2], data: new Float32Array(2) } }), /Int32Array/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }));
});

test('rejects files shorter than 8 bytes', () => {
  rejects(new Uint8Array(0), /shorter than the 8-byte/);
  rejects(new Uint8Array(7), /shorter than the 8-byte/);
});

test('rejects a header length beyond the file', () => {
  const bytes = encodeSafetensors(sample());
  const corrupt = bytes.slice();
  new DataView(corrupt.buffer).setUint32(0, bytes.length, true);
  rejects(corrupt, /header length \d+ exceeds/);
  const huge = bytes.slice();
  new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
  rejects(huge, /header length \d+ exceeds/);
});

test('rejects truncation anywhere', () => {
  const bytes = encodeSafetensors(sample(), { a: 'b' });
  const { len } = headerOf(bytes);
  for (const cut of [8, 9, 8 + len - 1]) rejects(bytes.subarray(0, cut), /header length \d+ exceeds/);
  for (const cut of [8 + len, 8 + len + 1, 8 + len + 24, bytes.length - 1]) {
    rejects(bytes.subarray(0, cut), /truncated/);
  }
});

test('rejects trailing bytes after the last tensor', () => {
  const bytes = encodeSafetensors(sample());
  const longer = new Uint8Array(bytes.length + 4);
  longer.set(bytes);
  rejects(longer, /data area has \d+ bytes but the tensors end at byte \d+/);
});

test('rejects a header that is not JSON, not UTF-8 or not an object', () => {
  rejects(withHeader('{"x": {"dtype": "F32",'), /not valid JSON/);
  rejects(withHeader('not json at all'), /not valid JSON/);
  rejects(withHeader('[1, 2, 3]'), /not a JSON object/);
  rejects(withHeader('null'), /not a JSON object/);
  rejects(withHeader('"text"'), /not a JSON object/);
  const bad = withHeader('{"a":"xx"}');
  bad[13] = 0xff;
  rejects(bad, /not valid UTF-8/);
});

test('rejects malformed tensor entries', () => {
  rejects(withHeader('{"x": 3}'), /'x' has no dtype\/shape\/data_offsets/);
  rejects(withHeader('{"x":{"shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /'x' has no dtype/);
  rejects(withHeader('{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8)), /unsupported dtype F64/);
  rejects(withHeader('{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), /unsupported dtype BF16/);
  rejects(withHeader('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)), /invalid shape/);
  rejects(withHeader('{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', new Uint8Array(4)), /invalid shape/);
  rejects(withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', new Uint8Array(4)), /invalid data_offsets/);
  rejects(withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4)), /end before they begin/);
});

test('rejects data_offsets that do not match shape and dtype', () => {
  rejects(withHeader('{"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}', new Uint8Array(20)), /span 20 bytes but F32 shape \[2, 3\] needs 24/);
  rejects(withHeader('{"x":{"dtype":"I32","shape":[],"data_offsets":[0,0]}}'), /needs 4/);
});

test('rejects overlapping, gapped and out-of-range offsets', () => {
  const two = (a: [number, number], b: [number, number], size: number): Uint8Array =>
    withHeader(
      JSON.stringify({
        a: { dtype: 'F32', shape: [(a[1] - a[0]) / 4], data_offsets: a },
        b: { dtype: 'F32', shape: [(b[1] - b[0]) / 4], data_offsets: b },
      }),
      new Uint8Array(size),
    );
  rejects(two([0, 8], [4, 12], 12), /'a' and 'b' overlap/);
  rejects(two([0, 8], [0, 8], 8), /overlap/);
  rejects(two([0, 4], [8, 12], 12), /'b' starts at byte 8, leaving a gap after byte 4/);
  rejects(two([4, 8], [8, 12], 12), /'a' starts at byte 4/);
  rejects(two([0, 4], [4, 400], 8), /truncated: tensor data needs 400 bytes but only 8/);
});

test('rejects metadata that is not a string map', () => {
  rejects(withHeader('{"__metadata__":{"a":1}}'), /metadata value 'a' is not a string/);
  rejects(withHeader('{"__metadata__":{"a":{"b":"c"}}}'), /metadata value 'a' is not a string/);
  rejects(withHeader('{"__metadata__":["a"]}'), /__metadata__ is not a JSON object/);
  assert.deepEqual(decodeSafetensors(withHeader('{"__metadata__":null}')).metadata, {});
});
