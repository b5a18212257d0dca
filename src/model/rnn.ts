// Vanilla tanh RNN over a whole sequence: h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh).
// The steps run one by one, or in one call each way where the backend has one (as lstm.ts).
import type { Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

interface Buffers {
  pre: Slice[]; // [T][B, H]; reused for its gradient
  hs: Slice[]; // [T+1][B, H]
  dhs: Slice[]; // [T][B, H]
}

export class RNNLayer extends LayerBase implements RecurrentLayer {
  protected w!: Buffers;

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H } = this;
    this.w = this.buffers(T, B, () => ({ pre: this.steps(T, H), hs: this.steps(T + 1, H), dhs: this.steps(T, H) }));
    const { pre, hs } = this.w;
    this.input = input;
    be.copy(hs[0], state.h);
    if (T === 1 && B === 1 && be.rnnStepOne) {
      // Sampling's step in one call; pre is left unwritten (backward only uses it as room for
      // the gradient).
      const { p } = this, [x, oneHot] = LayerBase.single(input);
      be.rnnStepOne(x, oneHot, input.size, p.wih, p.bih, p.whh, p.bhh, hs[0], hs[1], H);
      be.copy(state.h, hs[1]);
      return this.afterSteps(hs);
    }
    const whole = LayerBase.whole;
    this.project(input, whole(pre), T * B);
    be.addBias(whole(pre), this.p.bhh, T * B, H);
    if (!be.rnnForward?.(whole(pre), whole(hs), this.p.whh, T, B, H)) {
      const whh = this.packedWhh(true);
      for (let t = 0; t < T; t++) {
        this.recurrent(hs[t], pre[t], 1, whh);
        be.tanhForward(pre[t], hs[t + 1], B * H);
      }
    }
    be.copy(state.h, hs[T]);
    return this.afterSteps(hs);
  }

  backward(dx: Slice | null): void {
    const { be, H, T, B } = this;
    const { pre, hs, dhs } = this.w;
    const whole = LayerBase.whole, dpre = whole(pre);
    if (!be.rnnBackward?.(whole(hs), whole(dhs), dpre, this.p.whh, T, B, H)) {
      const whh = this.packedWhh(false);
      for (let t = T - 1; t >= 0; t--) {
        be.tanhBackward(hs[t + 1], dhs[t], pre[t], B * H);
        if (t > 0) this.recurrentBackward(pre[t], dhs[t - 1], whh);
      }
    }
    this.recurrentWeightGrads(dpre, whole(hs), T * B);
    this.biasGrads(T * B, dpre);
    this.projectBackward(this.input!, dpre, T * B, dx);
  }
}
