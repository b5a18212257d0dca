// A checkpoint's weights only mean something for the vocabulary they were trained on: id k
// must be the same symbol in the corpus as in the checkpoint.
import { UserError } from '../errors.js';
import type { Vocab } from '../text/vocab.js';
import { escapeSymbols, unitOf } from './format.js';

const LISTED = 20;

function sameVocab(a: Vocab, b: Vocab): boolean {
  return a.kind === b.kind && a.size === b.size && a.symbols.every((s, i) => s === b.symbols[i]);
}

/** Throws a UserError saying how the corpus's vocabulary differs from the checkpoint's. */
export function requireSameVocab(checkpoint: Vocab, corpus: Vocab, why: string): void {
  if (sameVocab(checkpoint, corpus)) return;
  if (checkpoint.kind !== corpus.kind) {
    throw new UserError(`${why}: the checkpoint has a ${checkpoint.kind} vocabulary but the corpus was read as ${corpus.kind}` +
      ` (${checkpoint.kind === 'bytes' ? 'add' : 'remove'} --bytes)`);
  }
  const have = new Set(checkpoint.symbols);
  const want = new Set(corpus.symbols);
  const list = (xs: string[]): string =>
    escapeSymbols(xs.slice(0, LISTED), corpus.kind) + (xs.length > LISTED ? ` and ${xs.length - LISTED} more` : '');
  const unseen = corpus.symbols.filter((s) => !have.has(s));
  const absent = checkpoint.symbols.filter((s) => !want.has(s));
  const parts: string[] = [];
  if (unseen.length > 0) parts.push(`the corpus has ${unitOf(corpus.kind)}s the checkpoint never saw: ${list(unseen)}`);
  if (absent.length > 0) parts.push(`the corpus lacks ${unitOf(corpus.kind)}s the checkpoint has: ${list(absent)}`);
  throw new UserError(`${why}: the corpus's vocabulary (${corpus.size}) differs from the checkpoint's (${checkpoint.size}); ${parts.join('; ')}`);
}
