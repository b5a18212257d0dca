import { UserError } from '../errors.js';

// char-rnn's layout: the split is cut into B contiguous streams and batch i holds the i-th
// S-character piece of every stream. The model carries its hidden state from batch i to
// batch i + 1, and for each stream that state belongs to the text right before the new piece
// (at an epoch's wrap it comes from the stream's end instead, as in char-rnn).
// Batches are time-major (index t·B + b), the order the recurrent layers walk them in.
export class Batcher {
  readonly ids: ArrayLike<number>;
  readonly B: number;
  readonly S: number;
  readonly numBatches: number;
  // Characters in one stream: numBatches · S.
  readonly streamLength: number;

  constructor(ids: ArrayLike<number>, B: number, S: number, what = 'training split') {
    checkPositiveInt('batch size', B);
    checkPositiveInt('sequence length', S);
    const n = ids.length;
    const numBatches = Math.floor((n - 1) / (B * S));
    if (numBatches < 1) {
      throw new UserError(
        `the ${what} is too small: ${n} characters, but batch ${B} × sequence ${S} needs at least ${B * S + 1}; ` +
          'use a smaller --batch or --seq',
      );
    }
    this.ids = ids;
    this.B = B;
    this.S = S;
    this.numBatches = numBatches;
    this.streamLength = numBatches * S;
  }

  // Writes batch i into x (inputs) and y (next-character targets), each of length S·B.
  fill(i: number, x: Int32Array, y: Int32Array): void {
    const { ids, B, S } = this;
    if (!(Number.isInteger(i) && i >= 0 && i < this.numBatches)) {
      throw new RangeError(`batch ${i} is outside 0..${this.numBatches - 1}`);
    }
    if (x.length < S * B || y.length < S * B) throw new RangeError(`batch arrays need length ${S * B}`);
    for (let b = 0; b < B; b++) {
      const start = b * this.streamLength + i * S;
      for (let t = 0; t < S; t++) {
        x[t * B + b] = ids[start + t];
        y[t * B + b] = ids[start + t + 1];
      }
    }
  }
}

function checkPositiveInt(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1)) throw new UserError(`the ${what} must be a positive integer (got ${v})`);
}
