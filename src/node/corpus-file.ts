import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { decodeCache, encodeCache } from '../text/cache.js';
import { Corpus, type CorpusOptions } from '../text/corpus.js';
import { writeFileAtomic } from './atomic-write.js';

export async function loadTextFile(path: string): Promise<string> {
  return decodeUtf8(await readSource(path), path);
}

// The ids are cached beside the corpus, keyed by a hash of its bytes, so a changed corpus is
// never read from a stale cache, while an unchanged one skips decoding and vocabulary building.
export async function loadCorpusFile(path: string, opts: CorpusOptions = {}): Promise<Corpus> {
  const bytes = await readSource(path);
  const kind = opts.bytes ? 'bytes' : 'chars';
  const key = `sha256:${createHash('sha256').update(bytes).digest('hex')}:${kind}`;
  const cachePath = corpusCachePath(path, opts.bytes ?? false);
  const cached = await readCache(cachePath);
  if (cached !== null && cached.key === key && cached.vocab.kind === kind) {
    return Corpus.fromIds(cached.vocab, cached.ids, opts);
  }
  const corpus = Corpus.fromText(decodeUtf8(bytes, path), opts);
  // The cache is an optimisation, not a result: a read-only directory or a full disk skips it.
  await writeFileAtomic(cachePath, encodeCache({ key, vocab: corpus.vocab, ids: corpus.ids })).catch(() => undefined);
  return corpus;
}

export function corpusCachePath(path: string, bytes: boolean): string {
  return bytes ? `${path}.bytes.charrnn-cache` : `${path}.charrnn-cache`;
}

async function readCache(path: string): Promise<ReturnType<typeof decodeCache>> {
  try {
    return decodeCache(await readFile(path));
  } catch {
    return null;
  }
}

async function readSource(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UserError(describeReadError(err, path));
  }
  if (bytes.length === 0) throw new UserError(`${path} is empty`);
  return bytes;
}

function describeReadError(err: unknown, path: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `no such file: ${path}`;
    case 'EISDIR':
      return `${path} is a directory, not a text file`;
    case 'EACCES':
    case 'EPERM':
      return `cannot read ${path}: permission denied`;
    default:
      return `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function decodeUtf8(bytes: Uint8Array, path: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const { line, column } = lineAndColumn(bytes, at);
    const byte = (bytes[at] ?? 0).toString(16).padStart(2, '0');
    throw new UserError(`${path} is not UTF-8 text: invalid byte 0x${byte} at byte ${at} (line ${line}, column ${column})`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) throw new UserError(`${path} is empty`);
  return text;
}

// Offset of the first byte that does not begin a well-formed sequence (the rules of
// the Unicode standard, table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
// A sequence that breaks off (a Latin-1 "é" before a space, a character cut by the end of the
// file) is reported at its first byte, the one a user would look for; bytes.length means the
// bytes are well-formed.
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return i;
      const c = bytes[i + k];
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

// 1-based; the column counts characters, which is what an editor shows.
function lineAndColumn(bytes: Uint8Array, at: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < at && i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a) {
      line++;
      column = 1;
    } else if ((b & 0xc0) !== 0x80) column++;
  }
  return { line, column };
}
