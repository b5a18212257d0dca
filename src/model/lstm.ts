// LSTM over a whole sequence, as torch-rnn's LSTM.lua: one product for the input
// projection, the recurrent product and fused gate kernel per step (or one call for all the
// steps, forward or backward, where the backend has one), one product per weight gradient.
// hs and cs hold T+1 slots: slot 0 is the initial state.
import type { Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

interface Buffers {
  pre: Slice[]; // [T][B, 4H] pre-activations; reused for their gradient
  act: Slice[]; // [T][B, 4H] gate activations
  hs: Slice[]; // [T+1][B, H]
  cs: Slice[]; // [T+1][B, H]
  dhs: Slice[]; // [T][B, H]
  dc: Slice; // [B, H]
}

export class LSTMLayer extends LayerBase implements RecurrentLayer {
  protected w!: Buffers;

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H, G } = this;
    this.w = this.buffers(T, B, () => ({
      pre: this.steps(T, G), act: this.steps(T, G), hs: this.steps(T + 1, H), cs: this.steps(T + 1, H),
      dhs: this.steps(T, H), dc: this.buf(B * H),
    }));
    const { pre, act, hs, cs } = this.w;
    this.input = input;
    be.copy(hs[0], state.h);
    be.copy(cs[0], state.c!);
    if (T === 1 && B === 1 && be.lstmStepOne) {
      // Sampling's step: one call instead of six; pre is left unwritten (backward only
      // uses it as room for the gradient).
      const { p } = this, [x, oneHot] = LayerBase.single(input);
      be.lstmStepOne(x, oneHot, input.size, p.wih, p.bih, p.whh, p.bhh, hs[0], cs[0], act[0], cs[1], hs[1], H);
      be.copy(state.h, hs[1]);
      be.copy(state.c!, cs[1]);
      return this.afterSteps(hs);
    }
    const whole = LayerBase.whole;
    this.project(input, whole(pre), T * B);
    be.addBias(whole(pre), this.p.bhh, T * B, G);
    if (!be.lstmForward?.(whole(pre), this.p.whh, whole(hs), whole(cs), whole(act), T, B, H)) {
      const whh = this.packedWhh(true);
      for (let t = 0; t < T; t++) {
        this.recurrent(hs[t], pre[t], 1, whh);
        be.lstmStep(pre[t], cs[t], act[t], cs[t + 1], hs[t + 1], B, H);
      }
    }
    be.copy(state.h, hs[T]);
    be.copy(state.c!, cs[T]);
    return this.afterSteps(hs);
  }

  backward(dx: Slice | null): void {
    const { be, H, T, B } = this;
    const { pre, act, cs, dhs, dc, hs } = this.w;
    const whole = LayerBase.whole, dpre = whole(pre);
    be.fill(dc, 0);
    if (!be.lstmBackward?.(whole(act), whole(cs), whole(dhs), dc, dpre, this.p.whh, T, B, H)) {
      const whh = this.packedWhh(false);
      for (let t = T - 1; t >= 0; t--) {
        be.lstmStepBackward(act[t], cs[t + 1], cs[t], dhs[t], dc, pre[t], B, H);
        if (t > 0) this.recurrentBackward(pre[t], dhs[t - 1], whh);
      }
    }
    this.recurrentWeightGrads(dpre, whole(hs), T * B);
    this.biasGrads(T * B, dpre);
    this.projectBackward(this.input!, dpre, T * B, dx);
  }
}
