// Number and text formatting shared by the commands' human-readable output.
import type { VocabKind } from '../text/vocab.js';

export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(r).padStart(2, '0')}s`;
}

export function unitOf(kind: VocabKind): string {
  return kind === 'bytes' ? 'byte' : 'char';
}

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };

// One symbol as it would appear inside a double-quoted string: invisible characters and, in a
// byte vocabulary, bytes that are not ASCII become escapes, so a list of symbols reads unambiguously.
export function escapeSymbol(s: string, kind: VocabKind): string {
  const named = NAMED[s];
  if (named !== undefined) return named;
  const cp = s.codePointAt(0) ?? 0;
  if (kind === 'bytes' && cp >= 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (/^[\p{L}\p{N}\p{P}\p{S} ]$/u.test(s)) return s;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

export function escapeSymbols(symbols: readonly string[], kind: VocabKind): string {
  return `"${symbols.map((s) => escapeSymbol(s, kind)).join('')}"`;
}
