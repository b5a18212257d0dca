// The kernel module's exports, shared by the backend on the calling thread and by the
// worker threads that run parts of its kernels over the same memory.

/** The module's exports, as assembly/index.ts declares them (addresses are byte offsets). */
export interface Kernels {
  heapBase(): number;
  gemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    a: number, b: number, beta: number, c: number, pack: number): void;
  gemmLd(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number, pack: number): void;
  gemmScratchBytes(M: number, N: number, K: number): number;
  packB(transB: number, K: number, N: number, b: number, ldb: number, dst: number, j0: number, n: number): void;
  packedBFloats(K: number, N: number): number;
  gemmPacked(transA: number, M: number, N: number, K: number, alpha: number, a: number, lda: number,
    packed: number, j0: number, npad: number, beta: number, c: number, ldc: number, pack: number): void;
  addBias(out: number, b: number, N: number, G: number): void;
  sumRows(db: number, dout: number, N: number, G: number, db2: number): void;
  gatherCols(out: number, w: number, ids: number, N: number, G: number, V: number): void;
  scatterAddCols(dw: number, dout: number, ids: number, N: number, G: number, V: number): void;
  gatherRows(out: number, table: number, ids: number, N: number, E: number): void;
  scatterAddRows(dtable: number, dout: number, ids: number, N: number, E: number): void;
  lstmStep(pre: number, cPrev: number, act: number, c: number, h: number, B: number, H: number): void;
  lstmStepBackward(act: number, c: number, cPrev: number, dh: number, dc: number, dpre: number, B: number, H: number): void;
  gruStep(xi: number, hh: number, hPrev: number, act: number, h: number, B: number, H: number): void;
  gruStepBackward(act: number, hh: number, hPrev: number, dh: number, dxi: number, dhh: number, dhPrev: number,
    B: number, H: number): void;
  lstmStepOne(x: number, oneHot: number, In: number, wih: number, bih: number, whh: number, bhh: number,
    hPrev: number, cPrev: number, act: number, c: number, h: number, H: number, j0: number, n: number): void;
  gruStepOne(x: number, oneHot: number, In: number, wih: number, bih: number, whh: number, bhh: number,
    hPrev: number, act: number, hh: number, h: number, H: number, j0: number, n: number): void;
  rnnStepOne(x: number, oneHot: number, In: number, wih: number, bih: number, whh: number, bhh: number,
    hPrev: number, h: number, H: number, j0: number, n: number): void;
  tanhForward(pre: number, h: number, n: number): void;
  tanhBackward(h: number, dh: number, dpre: number, n: number): void;
  dropout(x: number, out: number, mask: number, n: number, p: number, seed: number, stream: number, first: number): void;
  mul(x: number, m: number, n: number): void;
  softmaxXent(logits: number, targets: number, losses: number, dlogits: number, N: number, V: number, gradScale: number): void;
  softmax(logits: number, probs: number, N: number, V: number, temperature: number): void;
  drawRows(logits: number, ids: number, drawn: number, N: number, V: number, temperature: number, topK: number,
    argmax: number, seed: number, stream: number, index: number, scratch: number): void;
  drawScratchBytes(V: number): number;
  sampleLoop(net: number, first: number, last: number, drawn: number, n: number, temperature: number, topK: number,
    argmax: number, seed: number, stream: number, index: number, parties: number, j0: number, units: number,
    scratch: number): void;
  rmsprop(p: number, g: number, cache: number, n: number, lr: number, decay: number, eps: number): void;
  adam(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, c1: number, c2: number): void;
  adagrad(p: number, g: number, cache: number, n: number, lr: number, eps: number): void;
  sumSquares(x: number, n: number, out: number): void;
  clipByNorm(x: number, n: number, sumsq: number, maxNorm: number): void;
  clamp(x: number, n: number, lo: number, hi: number): void;
  scale(x: number, n: number, alpha: number): void;
  fill(x: number, n: number, value: number): void;
  copy(dst: number, src: number, n: number): void;
  hash3(seed: number, stream: number, index: number): number;
}

export type KernelName = keyof Kernels;

// The order is part of the protocol between threads: a job names its kernel by index here.
export const kernelNames: readonly KernelName[] = [
  'heapBase', 'gemm', 'gemmLd', 'gemmScratchBytes', 'packB', 'packedBFloats', 'gemmPacked', 'addBias', 'sumRows',
  'gatherCols', 'scatterAddCols', 'gatherRows', 'scatterAddRows', 'lstmStep', 'lstmStepBackward', 'gruStep',
  'gruStepBackward', 'lstmStepOne', 'gruStepOne', 'rnnStepOne', 'tanhForward', 'tanhBackward', 'dropout', 'mul',
  'softmaxXent', 'softmax', 'drawRows', 'drawScratchBytes', 'sampleLoop', 'rmsprop', 'adam', 'adagrad', 'sumSquares', 'clipByNorm', 'clamp', 'scale', 'fill',
  'copy', 'hash3',
];

export const kernelIndex: Readonly<Record<KernelName, number>> =
  Object.fromEntries(kernelNames.map((n, i) => [n, i])) as Record<KernelName, number>;

export function kernelsOf(instance: WebAssembly.Instance): Kernels {
  const e = instance.exports;
  const missing = kernelNames.filter((n) => typeof e[n] !== 'function');
  if (missing.length > 0) throw new Error(`the wasm module lacks ${missing.join(', ')}: rebuild it (npm run build)`);
  return e as unknown as Kernels;
}
