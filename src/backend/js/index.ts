// The reference backend: plain TypeScript over Float32Array. Every other backend is
// tested against it; it is tested against finite differences and PyTorch.
import type { Backend, Buf, Slice } from '../backend.js';
import { uniform } from '../rng.js';
import { gemm } from './gemm.js';
import { lstmStep, lstmStepBackward, gruStep, gruStepBackward, tanhForward, tanhBackward } from './cells.js';
import { softmaxXent, softmax } from './loss.js';
import { rmsprop, adam, adagrad } from './optim.js';
import { addBias, sumRows, gatherCols, scatterAddCols, gatherRows, scatterAddRows } from './rows.js';

class JsBuf implements Buf {
  constructor(readonly data: Float32Array | Int32Array) {}
  get length(): number { return this.data.length; }
}

function f(s: Slice): Float32Array {
  const d = (s.buf as JsBuf).data;
  if (!(d instanceof Float32Array)) throw new TypeError('expected an f32 buffer');
  return d;
}

function i32(s: Slice): Int32Array {
  const d = (s.buf as JsBuf).data;
  if (!(d instanceof Int32Array)) throw new TypeError('expected an i32 buffer');
  return d;
}

export class JsBackend implements Backend {
  readonly name = 'js';

  alloc(length: number): Buf { return new JsBuf(new Float32Array(length)); }
  allocInt(length: number): Buf { return new JsBuf(new Int32Array(length)); }
  upload(dst: Slice, src: Float32Array | Int32Array): void {
    if (src.length > dst.length) throw new RangeError(`upload of ${src.length} into slice of ${dst.length}`);
    (dst.buf as JsBuf).data.set(src, dst.offset);
  }
  async download(src: Slice): Promise<Float32Array> { return f(src).slice(src.offset, src.offset + src.length); }
  async flush(): Promise<void> {}

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, beta: number, C: Slice): void {
    gemm(transA, transB, M, N, K, alpha, f(A), A.offset, f(B), B.offset, beta, f(C), C.offset);
  }
  addBias(out: Slice, b: Slice, N: number, G: number): void { addBias(f(out), out.offset, f(b), b.offset, N, G); }
  sumRows(db: Slice, dout: Slice, N: number, G: number, db2?: Slice): void {
    sumRows(f(db), db.offset, f(dout), dout.offset, N, G);
    if (db2) sumRows(f(db2), db2.offset, f(dout), dout.offset, N, G);
  }
  gatherCols(out: Slice, w: Slice, ids: Slice, N: number, G: number, V: number): void {
    gatherCols(f(out), out.offset, f(w), w.offset, i32(ids), ids.offset, N, G, V);
  }
  scatterAddCols(dw: Slice, dout: Slice, ids: Slice, N: number, G: number, V: number): void {
    scatterAddCols(f(dw), dw.offset, f(dout), dout.offset, i32(ids), ids.offset, N, G, V);
  }
  gatherRows(out: Slice, table: Slice, ids: Slice, N: number, E: number): void {
    gatherRows(f(out), out.offset, f(table), table.offset, i32(ids), ids.offset, N, E);
  }
  scatterAddRows(dtable: Slice, dout: Slice, ids: Slice, N: number, E: number): void {
    scatterAddRows(f(dtable), dtable.offset, f(dout), dout.offset, i32(ids), ids.offset, N, E);
  }

  lstmStep(pre: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, B: number, H: number): void {
    lstmStep(f(pre), pre.offset, f(cPrev), cPrev.offset, f(act), act.offset, f(c), c.offset, f(h), h.offset, B, H);
  }
  lstmStepBackward(act: Slice, c: Slice, cPrev: Slice, dh: Slice, dc: Slice, dpre: Slice, B: number, H: number): void {
    lstmStepBackward(f(act), act.offset, f(c), c.offset, f(cPrev), cPrev.offset, f(dh), dh.offset,
      f(dc), dc.offset, f(dpre), dpre.offset, B, H);
  }
  gruStep(xi: Slice, hh: Slice, hPrev: Slice, act: Slice, h: Slice, B: number, H: number): void {
    gruStep(f(xi), xi.offset, f(hh), hh.offset, f(hPrev), hPrev.offset, f(act), act.offset, f(h), h.offset, B, H);
  }
  gruStepBackward(act: Slice, hh: Slice, hPrev: Slice, dh: Slice, dxi: Slice, dhh: Slice, dhPrev: Slice,
    B: number, H: number): void {
    gruStepBackward(f(act), act.offset, f(hh), hh.offset, f(hPrev), hPrev.offset, f(dh), dh.offset,
      f(dxi), dxi.offset, f(dhh), dhh.offset, f(dhPrev), dhPrev.offset, B, H);
  }
  tanhForward(pre: Slice, h: Slice, n: number): void { tanhForward(f(pre), pre.offset, f(h), h.offset, n); }
  tanhBackward(h: Slice, dh: Slice, dpre: Slice, n: number): void {
    tanhBackward(f(h), h.offset, f(dh), dh.offset, f(dpre), dpre.offset, n);
  }

  dropout(x: Slice, out: Slice, mask: Slice, p: number, seed: number, stream: number): void {
    const xd = f(x), od = f(out), md = f(mask), keep = 1 / (1 - p);
    for (let i = 0; i < x.length; i++) {
      const m = uniform(seed, stream, i) < p ? 0 : keep;
      md[mask.offset + i] = m;
      od[out.offset + i] = xd[x.offset + i] * m;
    }
  }
  mul(x: Slice, m: Slice): void {
    const xd = f(x), md = f(m);
    for (let i = 0; i < x.length; i++) xd[x.offset + i] *= md[m.offset + i];
  }

  softmaxXent(logits: Slice, targets: Slice, losses: Slice, dlogits: Slice, N: number, V: number, gradScale: number): void {
    softmaxXent(f(logits), logits.offset, i32(targets), targets.offset, f(losses), losses.offset,
      f(dlogits), dlogits.offset, N, V, gradScale);
  }
  softmax(logits: Slice, probs: Slice, N: number, V: number, temperature: number): void {
    softmax(f(logits), logits.offset, f(probs), probs.offset, N, V, temperature);
  }

  rmsprop(p: Slice, g: Slice, cache: Slice, lr: number, decay: number, eps: number): void {
    rmsprop(f(p), p.offset, f(g), g.offset, f(cache), cache.offset, p.length, lr, decay, eps);
  }
  adam(p: Slice, g: Slice, m: Slice, v: Slice, lr: number, beta1: number, beta2: number, eps: number, step: number): void {
    adam(f(p), p.offset, f(g), g.offset, f(m), m.offset, f(v), v.offset, p.length, lr, beta1, beta2, eps, step);
  }
  adagrad(p: Slice, g: Slice, cache: Slice, lr: number, eps: number): void {
    adagrad(f(p), p.offset, f(g), g.offset, f(cache), cache.offset, p.length, lr, eps);
  }

  sumSquares(x: Slice, out: Slice): void {
    const d = f(x);
    let s = 0;
    for (let i = x.offset; i < x.offset + x.length; i++) s += d[i] * d[i];
    f(out)[out.offset] = s;
  }
  clipByNorm(x: Slice, sumsq: Slice, maxNorm: number): void {
    const norm = Math.sqrt(f(sumsq)[sumsq.offset]);
    if (norm > maxNorm) this.scale(x, maxNorm / norm);
  }
  clamp(x: Slice, lo: number, hi: number): void {
    const d = f(x);
    for (let i = x.offset; i < x.offset + x.length; i++) d[i] = d[i] < lo ? lo : d[i] > hi ? hi : d[i];
  }
  scale(x: Slice, alpha: number): void {
    const d = f(x);
    for (let i = x.offset; i < x.offset + x.length; i++) d[i] *= alpha;
  }
  fill(x: Slice, value: number): void { (x.buf as JsBuf).data.fill(value, x.offset, x.offset + x.length); }
  copy(dst: Slice, src: Slice): void {
    if (src.length !== dst.length) throw new RangeError(`copy of ${src.length} into ${dst.length}`);
    const s = (src.buf as JsBuf).data;
    (dst.buf as JsBuf).data.set(s.subarray(src.offset, src.offset + src.length), dst.offset);
  }
}
