// The steps one by one that a sequence kernel (kernels/sequence.ts) replaces, as the layers
// (src/model) run them where it does not: tuning times them against it, on scratch buffers.
import { slice, type Backend, type Slice } from '../backend.js';
import type { StepKind } from './kernels/step.js';

/**
 * T steps of `kind` on a backend's step kernels, over whole buffers in the sequence kernel's
 * order (SEQUENCE_BUFS), each [T or T+1][B, gates·H] but dc and b_hh.
 */
export function sequenceSteps(be: Backend, kind: StepKind, bufs: Slice[], whh: Slice, T: number, B: number, H: number): void {
  const at = (s: Slice, t: number, gates: number): Slice => slice(s.buf, s.offset + t * B * gates * H, B * gates * H);
  switch (kind) {
    case 'lstm': {
      const [pre, hs, cs, act] = bufs;
      for (let t = 0; t < T; t++) {
        be.gemm(false, true, B, 4 * H, H, 1, at(hs, t, 1), whh, 1, at(pre, t, 4));
        be.lstmStep(at(pre, t, 4), at(cs, t, 1), at(act, t, 4), at(cs, t + 1, 1), at(hs, t + 1, 1), B, H);
      }
      return;
    }
    case 'lstmBack': {
      const [act, cs, dh, dc, dpre] = bufs;
      for (let t = T - 1; t >= 0; t--) {
        be.lstmStepBackward(at(act, t, 4), at(cs, t + 1, 1), at(cs, t, 1), at(dh, t, 1), dc, at(dpre, t, 4), B, H);
        if (t > 0) be.gemm(false, false, B, H, 4 * H, 1, at(dpre, t, 4), whh, 1, at(dh, t - 1, 1));
      }
      return;
    }
    case 'gru': {
      const [xi, bhh, hs, hh, act] = bufs;
      for (let t = 0; t < T; t++) {
        be.gemm(false, true, B, 3 * H, H, 1, at(hs, t, 1), whh, 0, at(hh, t, 3));
        be.addBias(at(hh, t, 3), bhh, B, 3 * H);
        be.gruStep(at(xi, t, 3), at(hh, t, 3), at(hs, t, 1), at(act, t, 3), at(hs, t + 1, 1), B, H);
      }
      return;
    }
    case 'gruBack': {
      // Step 0's z·dh goes to the state carried in, which nothing reads: here dh's last step.
      const [act, hh, hs, dh, dxi, dhh] = bufs;
      for (let t = T - 1; t >= 0; t--) {
        const dhPrev = at(dh, t > 0 ? t - 1 : T - 1, 1);
        be.gruStepBackward(at(act, t, 3), at(hh, t, 3), at(hs, t, 1), at(dh, t, 1), at(dxi, t, 3), at(dhh, t, 3), dhPrev, B, H);
        if (t > 0) be.gemm(false, false, B, H, 3 * H, 1, at(dhh, t, 3), whh, 1, dhPrev);
      }
      return;
    }
    case 'rnn': {
      const [pre, hs] = bufs;
      for (let t = 0; t < T; t++) {
        be.gemm(false, true, B, H, H, 1, at(hs, t, 1), whh, 1, at(pre, t, 1));
        be.tanhForward(at(pre, t, 1), at(hs, t + 1, 1), B * H);
      }
      return;
    }
    case 'rnnBack': {
      const [hs, dh, dpre] = bufs;
      for (let t = T - 1; t >= 0; t--) {
        be.tanhBackward(at(hs, t + 1, 1), at(dh, t, 1), at(dpre, t, 1), B * H);
        if (t > 0) be.gemm(false, false, B, H, H, 1, at(dpre, t, 1), whh, 1, at(dh, t - 1, 1));
      }
    }
  }
}
