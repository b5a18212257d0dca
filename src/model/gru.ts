// GRU over a whole sequence with PyTorch's gate semantics: the reset gate multiplies
// (W_hn·h + b_hn), so the recurrent product keeps its bias apart from the input part.
import { sub, type Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

export class GRULayer extends LayerBase implements RecurrentLayer {
  private xi!: Slice; // [T·B, 3H] x·W_ihᵀ + b_ih; reused for its gradient
  private hh!: Slice; // [T·B, 3H] h·W_hhᵀ + b_hh
  private dhh!: Slice; // [T·B, 3H]
  private act!: Slice; // [T·B, 3H] r, z, n
  private hs!: Slice; // [(T+1)·B, H]
  private dhs!: Slice; // [T·B, H]
  private dh0!: Slice; // [B, H] gradient into the initial state, discarded (truncated BPTT)

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H, G } = this;
    if (this.shape(T, B)) {
      this.xi = this.buf(T * B * G); this.hh = this.buf(T * B * G); this.dhh = this.buf(T * B * G);
      this.act = this.buf(T * B * G); this.hs = this.buf((T + 1) * B * H);
      this.dhs = this.buf(T * B * H); this.dh0 = this.buf(B * H);
    }
    this.input = input;
    be.copy(this.at(this.hs, 0, H), state.h);
    this.project(input, this.xi, T * B);
    for (let t = 0; t < T; t++) {
      const hh = this.at(this.hh, t, G);
      be.gemm(false, true, B, G, H, 1, this.at(this.hs, t, H), this.p.whh, 0, hh);
      be.addBias(hh, this.p.bhh, B, G);
      be.gruStep(this.at(this.xi, t, G), hh, this.at(this.hs, t, H), this.at(this.act, t, G),
        this.at(this.hs, t + 1, H), B, H);
    }
    be.copy(state.h, this.at(this.hs, T, H));
    return sub(this.hs, B * H, T * B * H);
  }

  backward(dy: Slice, dx: Slice | null): void {
    const { be, H, G, T, B } = this;
    be.copy(this.dhs, dy);
    for (let t = T - 1; t >= 0; t--) {
      const dhh = this.at(this.dhh, t, G);
      const dhPrev = t > 0 ? this.at(this.dhs, t - 1, H) : this.dh0;
      be.gruStepBackward(this.at(this.act, t, G), this.at(this.hh, t, G), this.at(this.hs, t, H),
        this.at(this.dhs, t, H), this.at(this.xi, t, G), dhh, dhPrev, B, H);
      if (t > 0) be.gemm(false, false, B, H, G, 1, dhh, this.p.whh, 1, dhPrev);
    }
    this.recurrentWeightGrads(this.dhh, this.hs, T * B);
    this.projectBackward(this.input!, this.xi, T * B, dx);
  }
}
