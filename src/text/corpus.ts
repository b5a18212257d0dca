import { UserError } from '../errors.js';
import { type IdArray, Vocab } from './vocab.js';

export type SplitName = 'train' | 'val' | 'test';

export interface SplitOptions {
  valFrac?: number;
  testFrac?: number;
}

export interface CorpusOptions extends SplitOptions {
  bytes?: boolean;
}

export interface SplitRange {
  start: number;
  end: number;
}

export const DEFAULT_VAL_FRAC = 0.05;
export const DEFAULT_TEST_FRAC = 0;

// A text as ids, split into contiguous train / val / test ranges in that order, so the
// validation text is text the model has not read (the end of the corpus), as in char-rnn.
export class Corpus {
  readonly vocab: Vocab;
  readonly ids: IdArray;
  readonly valFrac: number;
  readonly testFrac: number;
  private readonly ranges: Record<SplitName, SplitRange>;

  private constructor(vocab: Vocab, ids: IdArray, valFrac: number, testFrac: number) {
    this.vocab = vocab;
    this.ids = ids;
    this.valFrac = valFrac;
    this.testFrac = testFrac;
    const n = ids.length;
    const nTest = Math.round(n * testFrac);
    const nVal = Math.round(n * valFrac);
    const trainEnd = n - nVal - nTest;
    this.ranges = {
      train: { start: 0, end: trainEnd },
      val: { start: trainEnd, end: trainEnd + nVal },
      test: { start: trainEnd + nVal, end: n },
    };
  }

  static fromText(text: string, opts: CorpusOptions = {}): Corpus {
    const { valFrac, testFrac } = checkFractions(opts);
    if (text.length === 0) throw new UserError('the text is empty');
    const vocab = Vocab.fromText(text, opts.bytes ?? false);
    return new Corpus(vocab, vocab.encodeIds(text), valFrac, testFrac);
  }

  // Ids already in the vocabulary's narrowest array type are kept as they are, not copied.
  static fromIds(vocab: Vocab, ids: ArrayLike<number>, opts: SplitOptions = {}): Corpus {
    const { valFrac, testFrac } = checkFractions(opts);
    if (ids.length === 0) throw new UserError('the text is empty');
    const fitted = vocab.allocIds(0);
    let out: IdArray;
    if (ids.constructor === fitted.constructor) out = ids as IdArray;
    else {
      out = vocab.allocIds(ids.length);
      for (let i = 0; i < ids.length; i++) out[i] = ids[i];
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < vocab.size && Number.isInteger(id))) {
        throw new UserError(`id ${id} at position ${i} is outside the vocabulary of ${vocab.size} symbols`);
      }
    }
    return new Corpus(vocab, out, valFrac, testFrac);
  }

  get length(): number {
    return this.ids.length;
  }

  range(name: SplitName): SplitRange {
    return { ...this.ranges[name] };
  }

  // A view, not a copy.
  split(name: SplitName): IdArray {
    const { start, end } = this.ranges[name];
    return this.ids.subarray(start, end);
  }
}

function checkFractions(opts: SplitOptions): { valFrac: number; testFrac: number } {
  const valFrac = opts.valFrac ?? DEFAULT_VAL_FRAC;
  const testFrac = opts.testFrac ?? DEFAULT_TEST_FRAC;
  for (const [what, f] of [['validation', valFrac], ['test', testFrac]] as const) {
    if (!(Number.isFinite(f) && f >= 0 && f < 1)) {
      throw new UserError(`the ${what} fraction must be at least 0 and less than 1 (got ${f})`);
    }
  }
  if (valFrac + testFrac >= 1) {
    throw new UserError(
      `the validation and test fractions must leave text to train on (got ${valFrac} + ${testFrac})`,
    );
  }
  return { valFrac, testFrac };
}
