// What the recurrent layers share: the input projection for all T steps as one product
// (a gather for one-hot input), its backward as one product, and the buffer cache.
import { sub, type Backend, type Slice } from '../backend/backend.js';

/** A layer's input for a whole sequence: token ids (one-hot) or dense rows [T·B, size]. */
export type LayerInput = { ids: Slice; size: number } | { x: Slice; size: number };

export interface LayerParams {
  wih: Slice; // [G, In]
  whh: Slice; // [G, H]
  bih: Slice; // [G]
  bhh: Slice; // [G]
}

/** The recurrent state of one layer for B streams: h[B,H] and, for LSTM, c[B,H]. */
export interface LayerState {
  h: Slice;
  c: Slice | null;
}

export interface RecurrentLayer {
  /** Runs T steps from `state`, leaves the final state in `state`; returns h for all steps [T·B, H]. */
  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice;
  /**
   * Where dL/dh [T·B, H] of the last forward goes before backward(): the layer's own buffer,
   * so that whoever computes it (the decoder, the layer above) writes it there directly.
   */
  gradOutput(): Slice;
  /** Given dL/dh in gradOutput(), accumulates weight gradients and writes dx [T·B, In] if asked. */
  backward(dx: Slice | null): void;
  /** The state after every step of the last forward: h [T·B, H] and, for LSTM, c [T·B, H]. */
  states(): LayerState;
  /** Puts into `state` what the last forward started from (it leaves its last step's there). */
  rewind(state: LayerState): void;
}

export abstract class LayerBase {
  protected T = 0;
  protected B = 0;
  private readonly cache = new Map<string, unknown>();
  protected input: LayerInput | null = null;
  /**
   * The sequence buffers of the last forward; every layer keeps dL/dh per step in dhs, and its
   * states in hs (and cs) from slot 0, the state it started from.
   */
  protected abstract w: { dhs: Slice[]; hs: Slice[]; cs?: Slice[] };

  constructor(protected readonly be: Backend, readonly H: number, readonly G: number,
    protected readonly p: LayerParams, protected readonly g: LayerParams) {}

  /** See RecurrentLayer.gradOutput: the whole of dhs. */
  gradOutput(): Slice {
    return LayerBase.whole(this.w.dhs);
  }

  states(): LayerState {
    return { h: this.afterSteps(this.w.hs), c: this.w.cs ? this.afterSteps(this.w.cs) : null };
  }

  rewind(state: LayerState): void {
    this.be.copy(state.h, this.w.hs[0]);
    if (state.c && this.w.cs) this.be.copy(state.c, this.w.cs[0]);
  }

  // out[N,G] = x[N,In]·W_ihᵀ + b_ih
  protected project(input: LayerInput, out: Slice, N: number): void {
    if ('ids' in input) {
      this.be.fill(out, 0);
      this.be.gatherCols(out, this.p.wih, input.ids, N, this.G, input.size);
    } else {
      this.be.gemm(false, true, N, this.G, input.size, 1, input.x, this.p.wih, 0, out);
    }
    this.be.addBias(out, this.p.bih, N, this.G);
  }

  // dW_ih += dpreᵀ·x, dx = dpre·W_ih
  protected projectBackward(input: LayerInput, dpre: Slice, N: number, dx: Slice | null): void {
    if ('ids' in input) {
      this.be.scatterAddCols(this.g.wih, dpre, input.ids, N, this.G, input.size);
    } else {
      this.be.gemm(true, false, this.G, input.size, N, 1, dpre, input.x, 1, this.g.wih);
      if (dx) this.be.gemm(false, false, N, input.size, this.G, 1, dpre, this.p.wih, 0, dx);
    }
  }

  // dW_hh += dgatesᵀ·h[t−1] over all steps (h slots 0..T−1 are contiguous)
  protected recurrentWeightGrads(dgates: Slice, hs: Slice, N: number): void {
    this.be.gemm(true, false, this.G, this.H, N, 1, dgates, sub(hs, 0, N * this.H), 1, this.g.whh);
  }

  // db_ih += Σ dpre, db_hh += Σ dgates; without dgates (LSTM, RNN: the same rows), one pass for both.
  protected biasGrads(N: number, dpre: Slice, dgates?: Slice): void {
    if (!dgates) {
      this.be.sumRows(this.g.bih, dpre, N, this.G, this.g.bhh);
    } else {
      this.be.sumRows(this.g.bih, dpre, N, this.G);
      this.be.sumRows(this.g.bhh, dgates, N, this.G);
    }
  }

  /**
   * W_hh packed for this sequence's step products, where the backend packs its products'
   * operands (forward: W_hhᵀ [H,G]; backward: W_hh [G,H]); null where it does not, or where a
   * product of one row would not use it. W_hh does not change within a forward and its
   * backward, so it is packed once per call instead of once per step.
   */
  protected packedWhh(forward: boolean): Slice | null {
    const { be, H, G } = this;
    if (!be.packB || !be.packedLength || !be.gemmPacked || this.T < 2 || this.B < 2) return null;
    const [K, N] = forward ? [H, G] : [G, H];
    const key = forward ? 'packed W_hhT' : 'packed W_hh';
    let packed = this.cache.get(key) as Slice | undefined;
    if (!packed) this.cache.set(key, (packed = this.buf(be.packedLength(K, N))));
    be.packB(forward, K, N, this.p.whh, packed);
    return packed;
  }

  // out[B,G] = h[B,H]·W_hhᵀ + beta·out: a forward step's recurrent product.
  protected recurrent(h: Slice, out: Slice, beta: number, packed: Slice | null): void {
    const { be, B, H, G } = this;
    if (packed) be.gemmPacked!(false, true, B, G, H, 1, h, this.p.whh, packed, beta, out);
    else be.gemm(false, true, B, G, H, 1, h, this.p.whh, beta, out);
  }

  // dh[B,H] += dgates[B,G]·W_hh: a backward step's product into the previous step's state.
  protected recurrentBackward(dgates: Slice, dh: Slice, packed: Slice | null): void {
    const { be, B, H, G } = this;
    if (packed) be.gemmPacked!(false, false, B, H, G, 1, dgates, this.p.whh, packed, 1, dh);
    else be.gemm(false, false, B, H, G, 1, dgates, this.p.whh, 1, dh);
  }

  /** The input of a single step as the fused single-stream kernels take it: the row, or the id. */
  protected static single(input: LayerInput): [Slice, boolean] {
    return 'ids' in input ? [input.ids, true] : [input.x, false];
  }

  /** A [count·B, width] buffer and its per-step row blocks, made once so steps allocate nothing. */
  protected steps(count: number, width: number): Slice[] {
    const all = this.buf(count * this.B * width);
    return Array.from({ length: count }, (_, t) => sub(all, t * this.B * width, this.B * width));
  }

  /** The whole buffer under per-step slices made by steps(). */
  protected static whole(steps: Slice[]): Slice {
    return { buf: steps[0].buf, offset: 0, length: steps.length * steps[0].length };
  }

  // Steps 1..T of a per-step state (step 0 is the state carried in): [T·B, H], time-major.
  protected afterSteps(steps: Slice[]): Slice {
    const n = this.B * this.H;
    return sub(LayerBase.whole(steps), n, this.T * n);
  }

  /**
   * The sequence buffers for a (T, B) shape, made on first use and kept: training, evaluation
   * and sampling alternate between a few shapes, and a backend's memory is allocated once.
   */
  protected buffers<W>(T: number, B: number, make: () => W): W {
    this.T = T;
    this.B = B;
    const key = `${T}x${B}`;
    let w = this.cache.get(key) as W | undefined;
    if (!w) {
      w = make();
      this.cache.set(key, w);
    }
    return w;
  }

  protected buf(length: number): Slice {
    const b = this.be.alloc(length);
    return { buf: b, offset: 0, length };
  }
}
