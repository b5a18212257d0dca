import { UserError } from '../errors.js';

export type VocabKind = 'chars' | 'bytes';

export interface VocabJSON {
  kind: VocabKind;
  symbols: string[];
}

// Ids are stored in the narrowest array that holds every id, so a large corpus stays small.
export type IdArray = Uint8Array | Uint16Array | Uint32Array;

// Turns ids back into text one id at a time; in bytes mode a character split over several
// ids appears only once its last byte arrives.
export interface StreamDecoder {
  push(id: number): string;
  end(): string;
}

const MAX_LISTED = 10;
const NOT_SEEN = -1;

export class Vocab {
  readonly kind: VocabKind;
  readonly symbols: readonly string[];
  // Code point (or byte) → id: a dense table covers the BMP and bytes, astral code points go
  // to a map, so encoding needs no hashing on the common path.
  private readonly table: Int32Array;
  private readonly astral: Map<number, number>;

  private constructor(kind: VocabKind, symbols: readonly string[]) {
    this.kind = kind;
    this.symbols = symbols;
    this.table = new Int32Array(kind === 'bytes' ? 256 : 0x10000).fill(NOT_SEEN);
    this.astral = new Map();
    symbols.forEach((s, id) => {
      const cp = kind === 'bytes' ? s.charCodeAt(0) : (s.codePointAt(0) as number);
      if (cp < this.table.length) this.table[cp] = id;
      else this.astral.set(cp, id);
    });
  }

  static fromText(text: string, bytes: boolean): Vocab {
    if (bytes) {
      const seen = new Uint8Array(256);
      for (const b of new TextEncoder().encode(text)) seen[b] = 1;
      const symbols: string[] = [];
      for (let b = 0; b < 256; b++) if (seen[b]) symbols.push(String.fromCharCode(b));
      return new Vocab('bytes', symbols);
    }
    const seen = new Uint8Array(0x110000);
    forEachCodePoint(text, (cp) => {
      seen[cp] = 1;
    });
    const symbols: string[] = [];
    for (let cp = 0; cp < seen.length; cp++) if (seen[cp]) symbols.push(String.fromCodePoint(cp));
    return new Vocab('chars', symbols);
  }

  static fromJSON(x: unknown): Vocab {
    const bad = (why: string): UserError => new UserError(`malformed vocabulary: ${why}`);
    if (typeof x !== 'object' || x === null) throw bad('not an object');
    const { kind, symbols } = x as Record<string, unknown>;
    if (kind !== 'chars' && kind !== 'bytes') throw bad(`kind must be "chars" or "bytes", not ${JSON.stringify(kind)}`);
    if (!Array.isArray(symbols) || symbols.length === 0) throw bad('symbols must be a non-empty array');
    let prev = -1;
    const out: string[] = [];
    for (const s of symbols as unknown[]) {
      if (typeof s !== 'string') throw bad('every symbol must be a string');
      const cp = kind === 'bytes' ? byteOf(s) : codePointOf(s);
      if (cp === undefined) {
        throw bad(`${JSON.stringify(s)} is not a single ${kind === 'bytes' ? 'byte' : 'character'}`);
      }
      if (cp <= prev) throw bad('symbols must be sorted and distinct');
      prev = cp;
      out.push(s);
    }
    return new Vocab(kind, out);
  }

  get size(): number {
    return this.symbols.length;
  }

  toJSON(): VocabJSON {
    return { kind: this.kind, symbols: [...this.symbols] };
  }

  // The narrowest array type for this vocabulary's ids.
  allocIds(length: number): IdArray {
    if (this.size <= 0x100) return new Uint8Array(length);
    if (this.size <= 0x10000) return new Uint16Array(length);
    return new Uint32Array(length);
  }

  encode(text: string, problem = 'text has characters not in the vocabulary'): Int32Array {
    return this.encodeInto(text, (n) => new Int32Array(n), problem);
  }

  // As encode, into the narrowest array type (what a corpus keeps).
  encodeIds(text: string, problem = 'text has characters not in the vocabulary'): IdArray {
    return this.encodeInto(text, (n) => this.allocIds(n), problem);
  }

  decode(ids: ArrayLike<number>): string {
    if (this.kind === 'bytes') {
      const bytes = new Uint8Array(ids.length);
      for (let i = 0; i < ids.length; i++) bytes[i] = this.symbolOf(ids[i]).charCodeAt(0);
      return new TextDecoder('utf-8').decode(bytes);
    }
    const parts: string[] = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) parts[i] = this.symbolOf(ids[i]);
    return parts.join('');
  }

  decoder(): StreamDecoder {
    if (this.kind === 'chars') return { push: (id) => this.symbolOf(id), end: () => '' };
    const utf8 = new TextDecoder('utf-8');
    const one = new Uint8Array(1);
    return {
      push: (id) => {
        one[0] = this.symbolOf(id).charCodeAt(0);
        return utf8.decode(one, { stream: true });
      },
      end: () => utf8.decode(),
    };
  }

  private symbolOf(id: number): string {
    const s = this.symbols[id];
    if (s === undefined) throw new RangeError(`id ${id} is outside the vocabulary of ${this.size}`);
    return s;
  }

  private idOf(cp: number): number {
    return cp < this.table.length ? this.table[cp] : (this.astral.get(cp) ?? NOT_SEEN);
  }

  private encodeInto<T extends IdArray | Int32Array>(text: string, alloc: (n: number) => T, problem: string): T {
    if (this.kind === 'bytes') {
      const bytes = new TextEncoder().encode(text);
      const out = alloc(bytes.length);
      for (let i = 0; i < bytes.length; i++) {
        const id = this.table[bytes[i]];
        if (id === NOT_SEEN) throw this.unknown(text, problem);
        out[i] = id;
      }
      return out;
    }
    const out = alloc(countCodePoints(text));
    let i = 0;
    let missing = false;
    forEachCodePoint(text, (cp) => {
      const id = this.idOf(cp);
      if (id === NOT_SEEN) missing = true;
      out[i++] = id;
    });
    if (missing) throw this.unknown(text, problem);
    return out;
  }

  // Only runs on failure, so it can afford to walk the text again character by character.
  private unknown(text: string, problem: string): UserError {
    const bad = new Set<string>();
    for (const ch of text) {
      const known =
        this.kind === 'bytes'
          ? [...new TextEncoder().encode(ch)].every((b) => this.table[b] !== NOT_SEEN)
          : this.idOf(ch.codePointAt(0) as number) !== NOT_SEEN;
      if (!known) bad.add(ch);
    }
    const listed = [...bad].slice(0, MAX_LISTED).map(showChar);
    const more = bad.size > MAX_LISTED ? ` and ${bad.size - MAX_LISTED} more` : '';
    return new UserError(`${problem}: ${listed.join(', ')}${more}`);
  }
}

// Quoted as JSON, with invisible or look-alike characters spelled out as escapes so the one
// line of the error message says exactly which character it means.
function showChar(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  const quoted = /^[\p{L}\p{N}\p{P}\p{S} ]$/u.test(ch) ? JSON.stringify(ch) : `"${escapeCodeUnits(ch)}"`;
  return `${quoted} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

function escapeCodeUnits(ch: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  const n = named[ch];
  if (n !== undefined) return n;
  let s = '';
  for (let i = 0; i < ch.length; i++) s += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return s;
}

function byteOf(s: string): number | undefined {
  return s.length === 1 && s.charCodeAt(0) < 256 ? s.charCodeAt(0) : undefined;
}

function codePointOf(s: string): number | undefined {
  const cp = s.codePointAt(0);
  return cp !== undefined && s.length === (cp > 0xffff ? 2 : 1) ? cp : undefined;
}

// A surrogate pair counts once; a lone surrogate counts as its own code point, as for...of does.
function countCodePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

// Index loop rather than for...of: several times faster on corpora of hundreds of megabytes.
function forEachCodePoint(text: string, f: (cp: number) => void): void {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        f(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    f(c);
  }
}
