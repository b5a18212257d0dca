// GRU over a whole sequence with PyTorch's gate semantics: the reset gate multiplies
// (W_hn·h + b_hn), so the recurrent product keeps its bias apart from the input part. The
// steps run one by one, or in one call each way where the backend has one (as lstm.ts).
import type { Slice } from '../backend/backend.js';
import { LayerBase, type LayerInput, type LayerState, type RecurrentLayer } from './layer.js';

interface Buffers {
  xi: Slice[]; // [T][B, 3H] x·W_ihᵀ + b_ih; reused for its gradient
  hh: Slice[]; // [T][B, 3H] h·W_hhᵀ + b_hh
  dhh: Slice[]; // [T][B, 3H]
  act: Slice[]; // [T][B, 3H] r, z, n
  hs: Slice[]; // [T+1][B, H]
  dhs: Slice[]; // [T][B, H]
  dh0: Slice; // [B, H] gradient into the initial state, discarded (truncated BPTT)
}

export class GRULayer extends LayerBase implements RecurrentLayer {
  protected w!: Buffers;

  forward(input: LayerInput, state: LayerState, T: number, B: number): Slice {
    const { be, H, G } = this;
    this.w = this.buffers(T, B, () => ({
      xi: this.steps(T, G), hh: this.steps(T, G), dhh: this.steps(T, G), act: this.steps(T, G),
      hs: this.steps(T + 1, H), dhs: this.steps(T, H), dh0: this.buf(B * H),
    }));
    const { xi, hh, act, hs } = this.w;
    this.input = input;
    be.copy(hs[0], state.h);
    if (T === 1 && B === 1 && be.gruStepOne) {
      // Sampling's step in one call; xi is left unwritten (backward only uses it as room for
      // the gradient).
      const { p } = this, [x, oneHot] = LayerBase.single(input);
      be.gruStepOne(x, oneHot, input.size, p.wih, p.bih, p.whh, p.bhh, hs[0], act[0], hh[0], hs[1], H);
      be.copy(state.h, hs[1]);
      return this.afterSteps(hs);
    }
    const whole = LayerBase.whole;
    this.project(input, whole(xi), T * B);
    if (!be.gruForward?.(whole(xi), this.p.bhh, whole(hs), whole(hh), whole(act), this.p.whh, T, B, H)) {
      const whh = this.packedWhh(true);
      for (let t = 0; t < T; t++) {
        this.recurrent(hs[t], hh[t], 0, whh);
        be.addBias(hh[t], this.p.bhh, B, G);
        be.gruStep(xi[t], hh[t], hs[t], act[t], hs[t + 1], B, H);
      }
    }
    be.copy(state.h, hs[T]);
    return this.afterSteps(hs);
  }

  backward(dx: Slice | null): void {
    const { be, H, T, B } = this;
    const { xi, hh, dhh, act, hs, dhs, dh0 } = this.w;
    const whole = LayerBase.whole;
    if (!be.gruBackward?.(whole(act), whole(hh), whole(hs), whole(dhs), whole(xi), whole(dhh), this.p.whh, T, B, H)) {
      const whh = this.packedWhh(false);
      for (let t = T - 1; t >= 0; t--) {
        const dhPrev = t > 0 ? dhs[t - 1] : dh0;
        if (t === 0) be.fill(dh0, 0);
        be.gruStepBackward(act[t], hh[t], hs[t], dhs[t], xi[t], dhh[t], dhPrev, B, H);
        if (t > 0) this.recurrentBackward(dhh[t], dhPrev, whh);
      }
    }
    this.recurrentWeightGrads(whole(dhh), whole(hs), T * B);
    this.biasGrads(T * B, whole(xi), whole(dhh));
    this.projectBackward(this.input!, whole(xi), T * B, dx);
  }
}
