// LSTM over a whole sequence, as torch-rnn's LSTM.lua: one product for the input
// projection, the recurrent product and fused gate kernel per step, one product per
// weight gradient. hs and cs hold T+1 slots: slot 0 is the initial state.
import { sub, type Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

export class LSTMLayer extends LayerBase implements RecurrentLayer {
  private pre: Slice[] = []; // [T][B, 4H] pre-activations; reused for their gradient
  private act: Slice[] = []; // [T][B, 4H] gate activations
  private hs: Slice[] = []; // [T+1][B, H]
  private cs: Slice[] = []; // [T+1][B, H]
  private dhs: Slice[] = []; // [T][B, H]
  private dc!: Slice; // [B, H]

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H, G } = this;
    if (this.shape(T, B)) {
      this.pre = this.steps(T, G); this.act = this.steps(T, G);
      this.hs = this.steps(T + 1, H); this.cs = this.steps(T + 1, H);
      this.dhs = this.steps(T, H); this.dc = this.buf(B * H);
    }
    const { pre, act, hs, cs } = this;
    this.input = input;
    be.copy(hs[0], state.h);
    be.copy(cs[0], state.c!);
    this.project(input, LayerBase.whole(pre), T * B);
    be.addBias(LayerBase.whole(pre), this.p.bhh, T * B, G);
    for (let t = 0; t < T; t++) {
      be.gemm(false, true, B, G, H, 1, hs[t], this.p.whh, 1, pre[t]);
      be.lstmStep(pre[t], cs[t], act[t], cs[t + 1], hs[t + 1], B, H);
    }
    be.copy(state.h, hs[T]);
    be.copy(state.c!, cs[T]);
    return sub(LayerBase.whole(hs), B * H, T * B * H);
  }

  backward(dy: Slice, dx: Slice | null): void {
    const { be, H, G, T, B, pre, act, cs, dhs } = this;
    be.copy(LayerBase.whole(dhs), dy);
    be.fill(this.dc, 0);
    for (let t = T - 1; t >= 0; t--) {
      be.lstmStepBackward(act[t], cs[t + 1], cs[t], dhs[t], this.dc, pre[t], B, H);
      if (t > 0) be.gemm(false, false, B, H, G, 1, pre[t], this.p.whh, 1, dhs[t - 1]);
    }
    const dpre = LayerBase.whole(pre);
    this.recurrentWeightGrads(dpre, LayerBase.whole(this.hs), T * B);
    this.projectBackward(this.input!, dpre, T * B, dx);
  }
}
