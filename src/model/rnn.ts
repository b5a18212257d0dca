// Vanilla tanh RNN over a whole sequence: h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh).
import { sub, type Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

export class RNNLayer extends LayerBase implements RecurrentLayer {
  private pre!: Slice; // [T·B, H]; reused for its gradient
  private hs!: Slice; // [(T+1)·B, H]
  private dhs!: Slice; // [T·B, H]

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H } = this;
    if (this.shape(T, B)) {
      this.pre = this.buf(T * B * H); this.hs = this.buf((T + 1) * B * H); this.dhs = this.buf(T * B * H);
    }
    this.input = input;
    be.copy(this.at(this.hs, 0, H), state.h);
    this.project(input, this.pre, T * B);
    be.addBias(this.pre, this.p.bhh, T * B, H);
    for (let t = 0; t < T; t++) {
      const pre = this.at(this.pre, t, H);
      be.gemm(false, true, B, H, H, 1, this.at(this.hs, t, H), this.p.whh, 1, pre);
      be.tanhForward(pre, this.at(this.hs, t + 1, H), B * H);
    }
    be.copy(state.h, this.at(this.hs, T, H));
    return sub(this.hs, B * H, T * B * H);
  }

  backward(dy: Slice, dx: Slice | null): void {
    const { be, H, T, B } = this;
    be.copy(this.dhs, dy);
    for (let t = T - 1; t >= 0; t--) {
      const dpre = this.at(this.pre, t, H);
      be.tanhBackward(this.at(this.hs, t + 1, H), this.at(this.dhs, t, H), dpre, B * H);
      if (t > 0) be.gemm(false, false, B, H, H, 1, dpre, this.p.whh, 1, this.at(this.dhs, t - 1, H));
    }
    this.recurrentWeightGrads(this.pre, this.hs, T * B);
    this.projectBackward(this.input!, this.pre, T * B, dx);
  }
}
