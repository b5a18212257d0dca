// A backend's cell kernels (LSTM, GRU, tanh) against the reference's, forward and backward, with
// a step's states in one buffer as the layers keep them: c[t] beside c[t+1], dh[t−1] beside dh[t].
import { sub, type Slice } from '../../src/backend/backend.js';
import type { Pick, Twins } from './twins.js';

/** B rows of H units; `tol` for the gate math, `tanhBackTol` for tanh's backward (1 − h²)·dh. */
export async function checkCells(p: Twins, B: number, H: number, tol: number, tanhBackTol: number): Promise<void> {
  const pre = p.f(B * 4 * H, -6, 6), cs = p.f(2 * B * H, -2, 2);
  const cPrev = (s: Pick): Slice => sub(s(cs), 0, B * H);
  const cNext = (s: Pick): Slice => sub(s(cs), B * H, B * H);
  const act = p.f(B * 4 * H), h = p.f(B * H);
  p.run((be, s) => be.lstmStep(s(pre), cPrev(s), s(act), cNext(s), s(h), B, H));
  for (const [x, n] of [[act, 'act'], [cs, 'c'], [h, 'h']] as const) await p.same(x, `lstmStep ${n} ${B}×${H}`, tol);
  // The backward reads the forward's outputs: the reference's copied over, so only the backward differs.
  await p.sync(act);
  await p.sync(cs);
  const dh = p.f(B * H), dc = p.f(B * H), dpre = p.f(B * 4 * H);
  p.run((be, s) => be.lstmStepBackward(s(act), cNext(s), cPrev(s), s(dh), s(dc), s(dpre), B, H));
  await p.same(dpre, `lstmStepBackward dpre ${B}×${H}`, tol);
  await p.same(dc, `lstmStepBackward dc ${B}×${H}`, tol);

  const xi = p.f(B * 3 * H, -3, 3), hh = p.f(B * 3 * H, -3, 3), hPrev = p.f(B * H);
  const gact = p.f(B * 3 * H), gh = p.f(B * H);
  p.run((be, s) => be.gruStep(s(xi), s(hh), s(hPrev), s(gact), s(gh), B, H));
  await p.same(gact, `gruStep act ${B}×${H}`, tol);
  await p.same(gh, `gruStep h ${B}×${H}`, tol);
  await p.sync(gact);
  const dxi = p.f(B * 3 * H), dhh = p.f(B * 3 * H), dhs = p.f(2 * B * H);
  p.run((be, s) => be.gruStepBackward(s(gact), s(hh), s(hPrev), sub(s(dhs), B * H, B * H), s(dxi), s(dhh), sub(s(dhs), 0, B * H), B, H));
  for (const [x, n] of [[dxi, 'dxi'], [dhh, 'dhh'], [dhs, 'dhPrev']] as const) await p.same(x, `gruStepBackward ${n} ${B}×${H}`, tol);

  const n = B * H, y = p.f(n, -4, 4), th = p.f(n);
  p.run((be, s) => be.tanhForward(s(y), s(th), n));
  await p.same(th, `tanhForward ${n}`, tol);
  p.run((be, s) => be.tanhForward(s(y), s(y), n));
  await p.same(y, `tanhForward in place ${n}`, tol);
  const hy = p.f(n), dy = p.f(n), dp = p.f(n);
  p.run((be, s) => be.tanhBackward(s(hy), s(dy), s(dp), n));
  await p.same(dp, `tanhBackward ${n}`, tanhBackTol);
}
