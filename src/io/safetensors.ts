// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON header, then the raw little-endian data.
// Files written here load with the Python `safetensors` package and with the plain
// parser in test/fixtures/torch_eval.py, so the layout follows what Python writes.
// Runs in the browser too: no Node imports.

import { UserError } from '../errors.js';

export type Dtype = 'F32' | 'I32';

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
const BYTES_PER_ELEMENT: Record<Dtype, number> = { F32: 4, I32: 4 };
// Typed arrays use the host's byte order; safetensors is always little-endian.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function isDtype(s: unknown): s is Dtype {
  return s === 'F32' || s === 'I32';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`metadata value for '${k}' is not a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new Error(`'${METADATA_KEY}' cannot name a tensor`);
    const t = tensors[name]!;
    const wantArray = t.dtype === 'F32' ? Float32Array : Int32Array;
    if (!(t.data instanceof wantArray)) {
      throw new TypeError(`tensor '${name}': dtype ${t.dtype} needs a ${wantArray.name}`);
    }
    if (!t.shape.every((d) => isCount(d))) {
      throw new RangeError(`tensor '${name}': bad shape [${t.shape.join(', ')}]`);
    }
    if (elementCount(t.shape) !== t.data.length) {
      throw new RangeError(
        `tensor '${name}': shape [${t.shape.join(', ')}] needs ${elementCount(t.shape)} elements, data has ${t.data.length}`,
      );
    }
    const size = t.data.length * BYTES_PER_ELEMENT[t.dtype];
    // Key order as Python's safetensors writes it, so headers compare byte for byte.
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  // Padding keeps the data area 8-byte aligned in the file, so readers that map the
  // file can view tensors in place; Python pads with spaces the same way.
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);

  let pos = 8 + headerLen;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, pos);
    if (!HOST_LITTLE_ENDIAN) swap32(out, pos, bytes.length);
    pos += bytes.length;
  }
  return out;
}

function swap32(bytes: Uint8Array, start: number, length: number): void {
  for (let i = start; i < start + length; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new UserError(`not a safetensors file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > bytes.length - 8) {
    throw new UserError(
      `not a safetensors file or truncated: header length ${headerLen} exceeds the ${bytes.length - 8} bytes after it`,
    );
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new UserError('safetensors header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UserError(`safetensors header is not valid JSON (${why})`);
  }
  if (!isRecord(header)) throw new UserError('safetensors header is not a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (value === null) continue;
      if (!isRecord(value)) throw new UserError(`safetensors ${METADATA_KEY} is not a JSON object`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new UserError(`safetensors metadata value '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value));
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  // Python's reader demands the same: tensors tile the data area from 0 with no
  // overlap and no gap, and the file ends where the last tensor ends.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin < expected) {
      throw new UserError(`safetensors tensors '${previous}' and '${e.name}' overlap in the data area`);
    }
    if (e.begin > expected) {
      throw new UserError(`safetensors tensor '${e.name}' starts at byte ${e.begin}, leaving a gap after byte ${expected}`);
    }
    expected = e.end;
    previous = e.name;
  }
  if (expected > dataLen) {
    throw new UserError(
      `safetensors file is truncated: tensor data needs ${expected} bytes but only ${dataLen} follow the header`,
    );
  }
  if (expected < dataLen) {
    throw new UserError(
      `safetensors data area has ${dataLen} bytes but the tensors end at byte ${expected}`,
    );
  }

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    // Copied into a fresh buffer: the source offset need not be 4-byte aligned. Not slice():
    // on a Node Buffer (what readFile returns) slice() is a view of the whole file.
    const raw = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!HOST_LITTLE_ENDIAN) swap32(raw, 0, raw.length);
    const data = e.dtype === 'F32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

function parseEntry(name: string, value: unknown): Entry {
  const where = `safetensors tensor '${name}'`;
  if (!isRecord(value)) throw new UserError(`${where} has no dtype/shape/data_offsets object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new UserError(`${where} has no dtype`);
  if (!isDtype(dtype)) throw new UserError(`${where} has unsupported dtype ${dtype} (only F32 and I32)`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new UserError(`${where} has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new UserError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new UserError(`${where} has data_offsets [${begin}, ${end}] that end before they begin`);
  const size = elementCount(shape as number[]) * BYTES_PER_ELEMENT[dtype];
  if (end - begin !== size) {
    throw new UserError(
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape [${shape.join(', ')}] needs ${size}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}
