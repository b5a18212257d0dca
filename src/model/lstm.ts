// LSTM over a whole sequence, as torch-rnn's LSTM.lua: one product for the input
// projection, the recurrent product and fused gate kernel per step, one product per
// weight gradient. hs and cs hold T+1 slots: slot 0 is the initial state.
import { sub, type Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

export class LSTMLayer extends LayerBase implements RecurrentLayer {
  private pre!: Slice; // [T·B, 4H] pre-activations; reused for their gradient
  private act!: Slice; // [T·B, 4H] gate activations
  private hs!: Slice; // [(T+1)·B, H]
  private cs!: Slice; // [(T+1)·B, H]
  private dhs!: Slice; // [T·B, H]
  private dc!: Slice; // [B, H]

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H, G } = this;
    if (this.shape(T, B)) {
      this.pre = this.buf(T * B * G); this.act = this.buf(T * B * G);
      this.hs = this.buf((T + 1) * B * H); this.cs = this.buf((T + 1) * B * H);
      this.dhs = this.buf(T * B * H); this.dc = this.buf(B * H);
    }
    this.input = input;
    be.copy(this.at(this.hs, 0, H), state.h);
    be.copy(this.at(this.cs, 0, H), state.c!);
    this.project(input, this.pre, T * B);
    be.addBias(this.pre, this.p.bhh, T * B, G);
    for (let t = 0; t < T; t++) {
      const pre = this.at(this.pre, t, G);
      be.gemm(false, true, B, G, H, 1, this.at(this.hs, t, H), this.p.whh, 1, pre);
      be.lstmStep(pre, this.at(this.cs, t, H), this.at(this.act, t, G), this.at(this.cs, t + 1, H),
        this.at(this.hs, t + 1, H), B, H);
    }
    be.copy(state.h, this.at(this.hs, T, H));
    be.copy(state.c!, this.at(this.cs, T, H));
    return sub(this.hs, B * H, T * B * H);
  }

  backward(dy: Slice, dx: Slice | null): void {
    const { be, H, G, T, B } = this;
    be.copy(this.dhs, dy);
    be.fill(this.dc, 0);
    for (let t = T - 1; t >= 0; t--) {
      const dpre = this.at(this.pre, t, G);
      be.lstmStepBackward(this.at(this.act, t, G), this.at(this.cs, t + 1, H), this.at(this.cs, t, H),
        this.at(this.dhs, t, H), this.dc, dpre, B, H);
      if (t > 0) be.gemm(false, false, B, H, G, 1, dpre, this.p.whh, 1, this.at(this.dhs, t - 1, H));
    }
    this.recurrentWeightGrads(this.pre, this.hs, T * B);
    this.projectBackward(this.input!, this.pre, T * B, dx);
  }
}
