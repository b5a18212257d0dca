import { type IdArray, Vocab } from './vocab.js';

// A preprocessed corpus on disk:
//   "CHRNCACH" | u32 LE header length | JSON header | zero padding to a multiple of 4 | ids (LE)
// The header is {version, key, vocab, idsType, length}. The key says which source the ids came
// from; whoever reads the cache compares it with the key of the current source.

export interface CachedCorpus {
  key: string;
  vocab: Vocab;
  ids: IdArray;
}

type IdsType = 'u8' | 'u16' | 'u32';

const MAGIC = 'CHRNCACH';
const VERSION = 1;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeCache({ key, vocab, ids }: CachedCorpus): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ version: VERSION, key, vocab: vocab.toJSON(), idsType: idsTypeOf(ids), length: ids.length }),
  );
  const dataStart = align4(MAGIC.length + 4 + header.length);
  const out = new Uint8Array(dataStart + ids.byteLength);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  const view = new DataView(out.buffer);
  view.setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength), dataStart);
  else for (let i = 0; i < ids.length; i++) writeId(view, dataStart, ids.BYTES_PER_ELEMENT, i, ids[i]);
  return out;
}

// Anything unexpected (other magic or version, truncation, ids out of range) gives null:
// a cache is only a shortcut, and the caller rebuilds from the source.
export function decodeCache(bytes: Uint8Array): CachedCorpus | null {
  if (bytes.length < MAGIC.length + 4) return null;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const headerStart = MAGIC.length + 4;
  if (headerStart + headerLength > bytes.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(headerStart, headerStart + headerLength)));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null) return null;
  const { version, key, vocab: vocabJSON, idsType, length } = header as Record<string, unknown>;
  if (version !== VERSION || typeof key !== 'string') return null;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) return null;
  let vocab: Vocab;
  try {
    vocab = Vocab.fromJSON(vocabJSON);
  } catch {
    return null;
  }
  if (idsType !== idsTypeOf(vocab.allocIds(0))) return null;
  const ids = vocab.allocIds(length);
  const dataStart = align4(headerStart + headerLength);
  if (bytes.length !== dataStart + ids.byteLength) return null;
  if (LITTLE_ENDIAN) new Uint8Array(ids.buffer).set(bytes.subarray(dataStart));
  else for (let i = 0; i < length; i++) ids[i] = readId(view, dataStart, ids.BYTES_PER_ELEMENT, i);
  for (let i = 0; i < length; i++) if (ids[i] >= vocab.size) return null;
  return { key, vocab, ids };
}

function idsTypeOf(ids: IdArray): IdsType {
  return ids.BYTES_PER_ELEMENT === 1 ? 'u8' : ids.BYTES_PER_ELEMENT === 2 ? 'u16' : 'u32';
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function writeId(view: DataView, start: number, size: number, i: number, v: number): void {
  if (size === 1) view.setUint8(start + i, v);
  else if (size === 2) view.setUint16(start + 2 * i, v, true);
  else view.setUint32(start + 4 * i, v, true);
}

function readId(view: DataView, start: number, size: number, i: number): number {
  if (size === 1) return view.getUint8(start + i);
  if (size === 2) return view.getUint16(start + 2 * i, true);
  return view.getUint32(start + 4 * i, true);
}
