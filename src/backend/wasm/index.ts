// The WebAssembly backend: kernels compiled from assembly/ run over one linear memory that
// this class owns and imports into the module. Buffers are ranges of that memory handed out
// by a bump allocator (models allocate once), and every call passes byte addresses, so the
// module keeps no state of its own and the memory can later be shared with worker threads.
import type { Backend, Buf, Slice } from '../backend.js';
import { UserError } from '../../errors.js';

/** The module's exports, as assembly/index.ts declares them (addresses are byte offsets). */
interface Kernels {
  heapBase(): number;
  gemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number,
    a: number, b: number, beta: number, c: number, pack: number): void;
  gemmScratchBytes(M: number, N: number, K: number): number;
  addBias(out: number, b: number, N: number, G: number): void;
  sumRows(db: number, dout: number, N: number, G: number): void;
  gatherCols(out: number, w: number, ids: number, N: number, G: number, V: number): void;
  scatterAddCols(dw: number, dout: number, ids: number, N: number, G: number, V: number): void;
  gatherRows(out: number, table: number, ids: number, N: number, E: number): void;
  scatterAddRows(dtable: number, dout: number, ids: number, N: number, E: number): void;
  lstmStep(pre: number, cPrev: number, act: number, c: number, h: number, B: number, H: number): void;
  lstmStepBackward(act: number, c: number, cPrev: number, dh: number, dc: number, dpre: number, B: number, H: number): void;
  gruStep(xi: number, hh: number, hPrev: number, act: number, h: number, B: number, H: number): void;
  gruStepBackward(act: number, hh: number, hPrev: number, dh: number, dxi: number, dhh: number, dhPrev: number,
    B: number, H: number): void;
  tanhForward(pre: number, h: number, n: number): void;
  tanhBackward(h: number, dh: number, dpre: number, n: number): void;
  dropout(x: number, mask: number, n: number, p: number, seed: number, stream: number): void;
  mul(x: number, m: number, n: number): void;
  softmaxXent(logits: number, targets: number, losses: number, dlogits: number, N: number, V: number, gradScale: number): void;
  softmax(logits: number, probs: number, N: number, V: number, temperature: number): void;
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

const kernelNames: (keyof Kernels)[] = [
  'heapBase', 'gemm', 'gemmScratchBytes', 'addBias', 'sumRows', 'gatherCols', 'scatterAddCols', 'gatherRows',
  'scatterAddRows', 'lstmStep', 'lstmStepBackward', 'gruStep', 'gruStepBackward', 'tanhForward', 'tanhBackward',
  'dropout', 'mul', 'softmaxXent', 'softmax', 'rmsprop', 'adam', 'adagrad', 'sumSquares', 'clipByNorm', 'clamp',
  'scale', 'fill', 'copy', 'hash3',
];

const PAGE = 65536;
const ALIGN = 64; // a cache line: no two buffers share one, which matters once threads write them
const MAX_PAGES = 65536; // what 32-bit addresses reach

export interface WasmBackendOptions {
  /** Upper bound on the memory in 64 KiB pages (default 65536 = 4 GiB); browsers may want less. */
  maximumPages?: number;
}

export class WasmBuf implements Buf {
  constructor(readonly owner: WasmBackend, readonly ptr: number, readonly length: number, readonly int: boolean) {}
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  private f32: Float32Array;
  private i32: Int32Array;
  private top: number; // the next free byte
  private pack = 0; // gemm's scratch
  private packBytes = 0;

  private constructor(readonly memory: WebAssembly.Memory, private readonly k: Kernels, private readonly maxPages: number) {
    this.top = roundUp(k.heapBase(), ALIGN);
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /** A backend over a fresh shared memory, running the given compiled kernel module. */
  static async create(module: WebAssembly.Module | BufferSource, opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    const mod = module instanceof WebAssembly.Module ? module : await WebAssembly.compile(module);
    const maximum = Math.min(opts.maximumPages ?? MAX_PAGES, MAX_PAGES);
    const memory = new WebAssembly.Memory({ initial: 32, maximum, shared: true });
    const instance = await WebAssembly.instantiate(mod, { env: { memory } });
    return new WasmBackend(memory, kernelsOf(instance), maximum);
  }

  alloc(length: number): Buf { return this.allocate(length, false); }
  allocInt(length: number): Buf { return this.allocate(length, true); }

  upload(dst: Slice, src: Float32Array | Int32Array): void {
    if (src.length > dst.length) throw new RangeError(`upload of ${src.length} into slice of ${dst.length}`);
    const b = this.buf(dst);
    this.refresh();
    // TypedArray.set converts between element types, as the reference's does.
    (b.int ? this.i32 : this.f32).set(src, (b.ptr >>> 2) + dst.offset);
  }

  async download(src: Slice): Promise<Float32Array> {
    const b = this.buf(src);
    if (b.int) throw new TypeError('expected an f32 buffer');
    this.refresh();
    const start = (b.ptr >>> 2) + src.offset;
    // slice() copies into an ordinary (unshared) buffer that outlives memory growth.
    return this.f32.slice(start, start + src.length);
  }

  async flush(): Promise<void> {}

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, beta: number, C: Slice): void {
    const need = this.k.gemmScratchBytes(M, N, K);
    if (need > this.packBytes) {
      // Sized for the largest product seen; models run the same few shapes every step.
      this.pack = this.reserve(need);
      this.packBytes = need;
    }
    this.k.gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, this.f(A), this.f(B), beta, this.f(C), this.pack);
  }

  addBias(out: Slice, b: Slice, N: number, G: number): void { this.k.addBias(this.f(out), this.f(b), N, G); }
  sumRows(db: Slice, dout: Slice, N: number, G: number): void { this.k.sumRows(this.f(db), this.f(dout), N, G); }
  gatherCols(out: Slice, w: Slice, ids: Slice, N: number, G: number, V: number): void {
    this.k.gatherCols(this.f(out), this.f(w), this.i(ids), N, G, V);
  }
  scatterAddCols(dw: Slice, dout: Slice, ids: Slice, N: number, G: number, V: number): void {
    this.k.scatterAddCols(this.f(dw), this.f(dout), this.i(ids), N, G, V);
  }
  gatherRows(out: Slice, table: Slice, ids: Slice, N: number, E: number): void {
    this.k.gatherRows(this.f(out), this.f(table), this.i(ids), N, E);
  }
  scatterAddRows(dtable: Slice, dout: Slice, ids: Slice, N: number, E: number): void {
    this.k.scatterAddRows(this.f(dtable), this.f(dout), this.i(ids), N, E);
  }

  lstmStep(pre: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, B: number, H: number): void {
    this.k.lstmStep(this.f(pre), this.f(cPrev), this.f(act), this.f(c), this.f(h), B, H);
  }
  lstmStepBackward(act: Slice, c: Slice, cPrev: Slice, dh: Slice, dc: Slice, dpre: Slice, B: number, H: number): void {
    this.k.lstmStepBackward(this.f(act), this.f(c), this.f(cPrev), this.f(dh), this.f(dc), this.f(dpre), B, H);
  }
  gruStep(xi: Slice, hh: Slice, hPrev: Slice, act: Slice, h: Slice, B: number, H: number): void {
    this.k.gruStep(this.f(xi), this.f(hh), this.f(hPrev), this.f(act), this.f(h), B, H);
  }
  gruStepBackward(act: Slice, hh: Slice, hPrev: Slice, dh: Slice, dxi: Slice, dhh: Slice, dhPrev: Slice,
    B: number, H: number): void {
    this.k.gruStepBackward(this.f(act), this.f(hh), this.f(hPrev), this.f(dh), this.f(dxi), this.f(dhh),
      this.f(dhPrev), B, H);
  }
  tanhForward(pre: Slice, h: Slice, n: number): void { this.k.tanhForward(this.f(pre), this.f(h), n); }
  tanhBackward(h: Slice, dh: Slice, dpre: Slice, n: number): void {
    this.k.tanhBackward(this.f(h), this.f(dh), this.f(dpre), n);
  }

  dropout(x: Slice, mask: Slice, p: number, seed: number, stream: number): void {
    this.k.dropout(this.f(x), this.f(mask), x.length, p, seed, stream);
  }
  mul(x: Slice, m: Slice): void { this.k.mul(this.f(x), this.f(m), x.length); }

  softmaxXent(logits: Slice, targets: Slice, losses: Slice, dlogits: Slice, N: number, V: number, gradScale: number): void {
    this.k.softmaxXent(this.f(logits), this.i(targets), this.f(losses), this.f(dlogits), N, V, gradScale);
  }
  softmax(logits: Slice, probs: Slice, N: number, V: number, temperature: number): void {
    this.k.softmax(this.f(logits), this.f(probs), N, V, temperature);
  }

  rmsprop(p: Slice, g: Slice, cache: Slice, lr: number, decay: number, eps: number): void {
    this.k.rmsprop(this.f(p), this.f(g), this.f(cache), p.length, lr, decay, eps);
  }
  adam(p: Slice, g: Slice, m: Slice, v: Slice, lr: number, beta1: number, beta2: number, eps: number, step: number): void {
    // The bias corrections are computed here, with the same Math.pow as the reference.
    const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
    this.k.adam(this.f(p), this.f(g), this.f(m), this.f(v), p.length, lr, beta1, beta2, eps, c1, c2);
  }
  adagrad(p: Slice, g: Slice, cache: Slice, lr: number, eps: number): void {
    this.k.adagrad(this.f(p), this.f(g), this.f(cache), p.length, lr, eps);
  }

  sumSquares(x: Slice, out: Slice): void { this.k.sumSquares(this.f(x), x.length, this.f(out)); }
  clipByNorm(x: Slice, sumsq: Slice, maxNorm: number): void {
    this.k.clipByNorm(this.f(x), x.length, this.f(sumsq), maxNorm);
  }
  clamp(x: Slice, lo: number, hi: number): void { this.k.clamp(this.f(x), x.length, lo, hi); }
  scale(x: Slice, alpha: number): void { this.k.scale(this.f(x), x.length, alpha); }
  fill(x: Slice, value: number): void {
    const b = this.buf(x);
    if (b.int) {
      this.refresh();
      const start = (b.ptr >>> 2) + x.offset;
      this.i32.fill(value, start, start + x.length);
    } else {
      this.k.fill(this.f(x), x.length, value);
    }
  }
  copy(dst: Slice, src: Slice): void {
    if (src.length !== dst.length) throw new RangeError(`copy of ${src.length} into ${dst.length}`);
    this.k.copy(this.addr(dst), this.addr(src), src.length);
  }

  /** The counter RNG's hash as the module computes it; tests hold it equal to the host's. */
  hash3(seed: number, stream: number, index: number): number { return this.k.hash3(seed, stream, index) >>> 0; }

  /** Bytes of linear memory handed out so far (including the module's static data). */
  get bytesUsed(): number { return this.top; }

  private allocate(length: number, int: boolean): WasmBuf {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`cannot allocate ${length} elements`);
    // Fresh memory is zero and nothing is ever freed, so a new buffer is zero-filled already.
    return new WasmBuf(this, this.reserve(length * 4), length, int);
  }

  private reserve(bytes: number): number {
    const ptr = this.top;
    const end = roundUp(ptr + Math.max(bytes, 1), ALIGN);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        // Sizes follow from the model and batch flags, so this is the user's to change.
        throw new UserError(`out of WebAssembly memory: ${Math.ceil(end / 2 ** 20)} MiB needed, at most ${Math.floor(PAGE * this.maxPages / 2 ** 20)} MiB available (use a smaller model or batch)`);
      }
      this.refresh();
    }
    this.top = end;
    return ptr;
  }

  // Growth replaces the memory's buffer (another thread may grow a shared one): views follow.
  private refresh(): void {
    const buffer = this.memory.buffer;
    if (this.f32.buffer !== buffer || this.f32.length * 4 !== buffer.byteLength) {
      this.f32 = new Float32Array(buffer);
      this.i32 = new Int32Array(buffer);
    }
  }

  private buf(s: Slice): WasmBuf {
    const b = s.buf;
    if (!(b instanceof WasmBuf) || b.owner !== this) throw new TypeError('buffer does not belong to this wasm backend');
    return b;
  }
  private addr(s: Slice): number { return this.buf(s).ptr + 4 * s.offset; }
  private f(s: Slice): number {
    const b = this.buf(s);
    if (b.int) throw new TypeError('expected an f32 buffer');
    return b.ptr + 4 * s.offset;
  }
  private i(s: Slice): number {
    const b = this.buf(s);
    if (!b.int) throw new TypeError('expected an i32 buffer');
    return b.ptr + 4 * s.offset;
  }
}

function roundUp(x: number, a: number): number { return Math.ceil(x / a) * a; }

function kernelsOf(instance: WebAssembly.Instance): Kernels {
  const e = instance.exports;
  const missing = kernelNames.filter((n) => typeof e[n] !== 'function');
  if (missing.length > 0) throw new Error(`the wasm module lacks ${missing.join(', ')}: rebuild it (npm run build)`);
  return e as unknown as Kernels;
}
