// The WebAssembly backend: kernels compiled from assembly/ run over one linear memory that
// this class owns and imports into the module. Buffers are ranges of that memory handed out
// by a bump allocator (models allocate once), and every call passes byte addresses, so the
// module keeps no state of its own and any number of threads can run it over the same memory:
// with threads > 1, matrix products and the larger elementwise kernels are split between the
// calling thread and worker threads (threads.ts).
import { slice, type Backend, type Buf, type DrawOptions, type SampleLoop, type SamplerNet, type Slice } from '../backend.js';
import { UserError } from '../../errors.js';
import { kernelsOf, type Kernels } from './kernels.js';
import { KernelPool, MAX_THREADS, type SpawnWorker } from './threads.js';

export { kernelNames, type Kernels } from './kernels.js';
export { KernelPool, runKernelWorker, webWorkerSpawner, type SpawnWorker, type WorkerHandle, type WorkerInit } from './threads.js';

const PAGE = 65536;
const ALIGN = 64; // a cache line: no two buffers share one, which matters once threads write them
const MAX_PAGES = 65536; // what 32-bit addresses reach

// Below these sizes a kernel runs on the calling thread: a split costs a few microseconds of
// hand-off, and more when the workers have gone to sleep.
const GEMM_SPLIT_WORK = 1 << 17; // multiply-adds, ≈ 20 µs on one core
const GEMM_MIN_SHARE = 16; // rows or columns: at least a few register blocks each
const MAP_MIN_SHARE = 1 << 15; // elements of an elementwise kernel per share
const DROPOUT_MIN_SHARE = 1 << 13; // a hash per element: worth splitting sooner
const MAP_ALIGN = 16; // a cache line of floats: shares never write the same line
const CELL_MIN_SHARE = 2048; // cell updates per share (rows × hidden)
const STEP_MIN_SHARE = 1 << 14; // multiply-adds per share of a fused single-stream step, ≈ 3 µs

export interface WasmBackendOptions {
  /** Upper bound on the memory in 64 KiB pages (default 65536 = 4 GiB); browsers may want less. */
  maximumPages?: number;
  /** Threads that run kernels, the calling one included (default 1); more than 1 needs spawnWorker. */
  threads?: number;
  /** Starts a worker thread (Node: src/node/wasm-workers.ts; browsers: webWorkerSpawner). */
  spawnWorker?: SpawnWorker;
  /** The machine's cores (default: as many as threads); with more threads than cores, the calling thread sleeps sooner while it waits. */
  cores?: number;
}

export class WasmBuf implements Buf {
  constructor(readonly owner: WasmBackend, readonly ptr: number, readonly length: number, readonly int: boolean) {}
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  private f32: Float32Array;
  private i32: Int32Array;
  private top: number; // the next free byte
  private pack = 0; // gemm's scratch: one area per thread, packStride bytes apart
  private packStride = 0;
  private pool: KernelPool | null = null;
  private draw = 0; // the draws' scratch: one area per thread, drawStride bytes apart
  private drawStride = 0;
  private readonly samplers = new Map<string, number>(); // a network's description for sampleLoop, by its addresses
  private disposed = false;

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
    const be = new WasmBackend(memory, kernelsOf(instance), maximum);
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new UserError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
    }
    if (threads > 1) {
      if (!opts.spawnWorker) throw new TypeError('a wasm backend with threads > 1 needs a spawnWorker');
      be.pool = await KernelPool.start(be.k, mod, memory, threads, opts.spawnWorker, opts.cores);
    }
    return be;
  }

  /** Threads that run kernels, the calling one included. */
  get threads(): number { return this.pool && !this.disposed ? this.pool.threads : 1; }

  /** Kernel calls split between threads so far (tests and benchmarks check that splits happen). */
  get splitCount(): number { return this.pool?.jobs ?? 0; }

  /**
   * Stops the worker threads; kernels then run on the calling thread only. Workers never keep a
   * Node process alive, so this matters only to hosts that keep running after training.
   */
  dispose(): void {
    this.disposed = true;
    this.pool?.close();
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
    const tA = transA ? 1 : 0, tB = transB ? 1 : 0;
    const a = this.f(A), b = this.f(B), c = this.f(C);
    const pool = this.pool;
    if (pool && M * N * K >= GEMM_SPLIT_WORK && M > 0 && N > 0) {
      // Split the larger side of C, so that the operand every share must pack whole is the
      // smaller one. Every element of C is still computed by the same code over the same K
      // blocks, so the result is the one-thread result bit for bit. Shares are whole register
      // blocks (4 rows, 8 columns); a product with one row is a matrix-vector product that
      // groups columns by 3 and 8, hence 24.
      const rows = M >= N && M > 1;
      const parts = rows ? pool.plan(M, 4, GEMM_MIN_SHARE) : pool.plan(N, M === 1 ? 24 : 8, GEMM_MIN_SHARE);
      if (parts > 1) {
        const lda = transA ? M : K, ldb = transB ? K : N;
        const stride = rows ? this.gemmScratch(pool.largest, N, K) : this.gemmScratch(M, pool.largest, K);
        pool.begin('gemmLd').arg(tA).arg(tB).arg(M).arg(N).arg(K).arg(alpha);
        if (rows) {
          pool.arg(a, transA ? 4 : 4 * lda).arg(lda).arg(b).arg(ldb).arg(beta).arg(c, 4 * N);
        } else {
          pool.arg(a).arg(lda).arg(b, transB ? 4 * ldb : 4).arg(ldb).arg(beta).arg(c, 4);
        }
        pool.arg(N).arg(this.pack, 0, stride).run(rows ? 2 : 3);
        return;
      }
    }
    this.gemmScratch(M, N, K);
    this.k.gemm(tA, tB, M, N, K, alpha, a, b, beta, c, this.pack);
  }

  packedLength(K: number, N: number): number { return this.k.packedBFloats(K, N); }

  packB(transB: boolean, K: number, N: number, B: Slice, packed: Slice): void {
    const need = this.k.packedBFloats(K, N);
    if (packed.length < need) throw new RangeError(`packed B needs ${need} floats, got ${packed.length}`);
    const tB = transB ? 1 : 0, b = this.f(B), dst = this.f(packed), ldb = transB ? K : N;
    const pool = this.pool;
    if (pool && pool.plan(N, 8, Math.ceil(MAP_MIN_SHARE / Math.max(K, 1))) > 1) {
      pool.begin('packB').arg(tB).arg(K).arg(N).arg(b).arg(ldb).arg(dst).arg(0, 1).arg(N).run(7);
    } else {
      this.k.packB(tB, K, N, b, ldb, dst, 0, N);
    }
  }

  // Split by columns only: a share's columns are whole 8-column panels of the packed B.
  gemmPacked(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, packed: Slice, beta: number, C: Slice): void {
    // A single row is a matrix-vector product, which reads B itself.
    if (M === 1) { this.gemm(transA, transB, M, N, K, alpha, A, B, beta, C); return; }
    const tA = transA ? 1 : 0, a = this.f(A), p = this.f(packed), c = this.f(C), lda = transA ? M : K;
    const npad = this.k.packedBFloats(1, N);
    const pool = this.pool;
    if (pool && M * N * K >= GEMM_SPLIT_WORK && M > 0 && pool.plan(N, 8, GEMM_MIN_SHARE) > 1) {
      const stride = this.gemmScratch(M, pool.largest, K);
      pool.begin('gemmPacked').arg(tA).arg(M).arg(N).arg(K).arg(alpha).arg(a).arg(lda).arg(p).arg(0, 1).arg(npad)
        .arg(beta).arg(c, 4).arg(N).arg(this.pack, 0, stride).run(2);
      return;
    }
    this.gemmScratch(M, N, K);
    this.k.gemmPacked(tA, M, N, K, alpha, a, lda, p, 0, npad, beta, c, N, this.pack);
  }

  /** Ensures every thread has scratch for a product of this shape; returns the per-thread stride. */
  private gemmScratch(M: number, N: number, K: number): number {
    const need = roundUp(this.k.gemmScratchBytes(M, N, K), ALIGN);
    if (need > this.packStride) {
      // Sized for the largest product seen; models run the same few shapes every step.
      this.pack = this.reserve(need * (this.pool?.threads ?? 1));
      this.packStride = need;
    }
    return this.packStride;
  }

  /** Plans an elementwise split of n floats, or returns null to run on this thread. */
  private mapPlan(n: number, minShare = MAP_MIN_SHARE): KernelPool | null {
    const pool = this.pool;
    return pool && pool.plan(n, MAP_ALIGN, minShare) > 1 ? pool : null;
  }
  /** Plans a split of B rows of H cell updates each, or returns null to run on this thread. */
  private rowPlan(B: number, H: number, minShare = CELL_MIN_SHARE): KernelPool | null {
    const pool = this.pool;
    return pool && pool.plan(B, 1, Math.ceil(minShare / Math.max(H, 1))) > 1 ? pool : null;
  }

  addBias(out: Slice, b: Slice, N: number, G: number): void {
    const pool = this.rowPlan(N, G, MAP_MIN_SHARE);
    if (pool) pool.begin('addBias').arg(this.f(out), 4 * G).arg(this.f(b)).arg(N).arg(G).run(2);
    else this.k.addBias(this.f(out), this.f(b), N, G);
  }
  sumRows(db: Slice, dout: Slice, N: number, G: number, db2?: Slice): void {
    this.k.sumRows(this.f(db), this.f(dout), N, G, db2 ? this.f(db2) : 0);
  }
  gatherCols(out: Slice, w: Slice, ids: Slice, N: number, G: number, V: number): void {
    const pool = this.rowPlan(N, G, MAP_MIN_SHARE);
    if (pool) pool.begin('gatherCols').arg(this.f(out), 4 * G).arg(this.f(w)).arg(this.i(ids), 4).arg(N).arg(G).arg(V).run(3);
    else this.k.gatherCols(this.f(out), this.f(w), this.i(ids), N, G, V);
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

  // Cell steps split by batch rows: each row of every operand is independent of the others.
  lstmStep(pre: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, B: number, H: number): void {
    const pool = this.rowPlan(B, H), r = 4 * H, g = 16 * H;
    if (pool) {
      pool.begin('lstmStep').arg(this.f(pre), g).arg(this.f(cPrev), r).arg(this.f(act), g).arg(this.f(c), r)
        .arg(this.f(h), r).arg(B).arg(H).run(5);
    } else {
      this.k.lstmStep(this.f(pre), this.f(cPrev), this.f(act), this.f(c), this.f(h), B, H);
    }
  }
  lstmStepOne(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, H: number): void {
    this.stepOne('lstmStepOne', 4, x, oneHot, In, [wih, bih, whh, bhh, hPrev, cPrev, act, c, h], H);
  }
  gruStepOne(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, act: Slice, hh: Slice, h: Slice, H: number): void {
    this.stepOne('gruStepOne', 3, x, oneHot, In, [wih, bih, whh, bhh, hPrev, act, hh, h], H);
  }
  rnnStepOne(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, h: Slice, H: number): void {
    this.stepOne('rnnStepOne', 1, x, oneHot, In, [wih, bih, whh, bhh, hPrev, h], H);
  }
  // The single-stream steps, split by hidden units [j0, j0+n): a thread reads the gate rows of
  // its units in both matrices, and with sticky shares the same thread reads them every step.
  private stepOne(kernel: 'lstmStepOne' | 'gruStepOne' | 'rnnStepOne', gates: number, x: Slice, oneHot: boolean,
    In: number, f32s: readonly Slice[], H: number): void {
    const pool = this.unitPlan(H, gates * (H + (oneHot ? 1 : In)));
    const xp = oneHot ? this.i(x) : this.f(x), hot = oneHot ? 1 : 0;
    if (pool) {
      pool.begin(kernel).arg(xp).arg(hot).arg(In);
      for (const s of f32s) pool.arg(this.f(s));
      pool.arg(H).arg(0, 1).arg(H).run(f32s.length + 5);
    } else {
      (this.k[kernel] as (...a: number[]) => void)(xp, hot, In, ...f32s.map((s) => this.f(s)), H, 0, H);
    }
  }
  /** Plans a split of H hidden units of perUnit multiply-adds each, or returns null to run on this thread. */
  private unitPlan(H: number, perUnit: number): KernelPool | null {
    const pool = this.pool;
    return pool && perUnit * H >= GEMM_SPLIT_WORK && pool.plan(H, 4, Math.ceil(STEP_MIN_SHARE / perUnit)) > 1 ? pool : null;
  }

  drawRows(logits: Slice, ids: Slice, drawn: Slice, N: number, V: number, o: DrawOptions): void {
    this.k.drawRows(this.f(logits), this.i(ids), this.f(drawn), N, V, o.temperature, o.topK, o.argmax ? 1 : 0,
      o.seed >>> 0, o.stream >>> 0, o.index >>> 0, this.drawScratch(V));
  }

  // The whole loop runs as one job, split by hidden units as the single-stream steps are; its
  // threads wait for each other inside the module after every layer.
  async sampleLoop(net: SamplerNet): Promise<SampleLoop | null> {
    const { H, V, E } = net, L = net.layers.length;
    if (L === 0) return null;
    const desc = this.samplerDescription(net);
    const gates = net.cell === 'lstm' ? 4 : net.cell === 'gru' ? 3 : 1;
    const perUnit = gates * (H + Math.max(L > 1 ? H : 0, E > 0 ? E : 1)); // the largest layer's, as stepOne counts it
    return (first, last, drawn, n, o) => {
      const args = [desc, this.i(first), this.i(last), this.f(drawn), n, o.temperature, o.topK, o.argmax ? 1 : 0,
        o.seed >>> 0, o.stream >>> 0, o.index >>> 0];
      const scratch = this.drawScratch(V), pool = this.unitPlan(H, perUnit);
      if (pool) {
        pool.begin('sampleLoop');
        for (const a of args) pool.arg(a);
        pool.arg(pool.parts).arg(0, 1).arg(H).arg(scratch, 0, this.drawStride).run(args.length + 2);
      } else {
        (this.k.sampleLoop as (...a: number[]) => void)(...args, 1, 0, H, scratch);
      }
    };
  }

  // The description assembly/sampler.ts reads (its words CELL … BARRIER, then wih, bih, whh,
  // bhh per layer), with the buffers the loop needs besides the network's own; made once per
  // network, as sampling runs again and again during training.
  private samplerDescription(net: SamplerNet): number {
    const { H, V, E } = net, L = net.layers.length;
    const words = [net.cell === 'lstm' ? 0 : net.cell === 'gru' ? 1 : 2, L, H, V, E, this.f(net.dec), this.f(net.decB),
      net.enc ? this.f(net.enc) : 0, this.f(net.h), net.c ? this.f(net.c) : 0];
    const layers = net.layers.flatMap((l) => [this.f(l.wih), this.f(l.bih), this.f(l.whh), this.f(l.bhh)]);
    const key = [...words, ...layers].join(',');
    let desc = this.samplers.get(key);
    if (desc === undefined) {
      const alt = this.alloc(L * H), act = this.alloc(4 * H), hh = this.alloc(3 * H), barrier = this.allocInt(32);
      const d = this.allocInt(16 + 4 * L);
      words.push(this.f(slice(alt)), this.f(slice(act)), this.f(slice(hh)), this.i(slice(barrier)), 0, 0);
      this.upload(slice(d), Int32Array.from([...words, ...layers]));
      desc = this.i(slice(d));
      this.samplers.set(key, desc);
    }
    return desc;
  }

  /** Ensures every thread has the draws' scratch for V ids; returns thread 0's. */
  private drawScratch(V: number): number {
    const need = roundUp(this.k.drawScratchBytes(V), ALIGN);
    if (need > this.drawStride) {
      this.draw = this.reserve(need * (this.pool?.threads ?? 1));
      this.drawStride = need;
    }
    return this.draw;
  }
  lstmStepBackward(act: Slice, c: Slice, cPrev: Slice, dh: Slice, dc: Slice, dpre: Slice, B: number, H: number): void {
    const pool = this.rowPlan(B, H), r = 4 * H, g = 16 * H;
    if (pool) {
      pool.begin('lstmStepBackward').arg(this.f(act), g).arg(this.f(c), r).arg(this.f(cPrev), r).arg(this.f(dh), r)
        .arg(this.f(dc), r).arg(this.f(dpre), g).arg(B).arg(H).run(6);
    } else {
      this.k.lstmStepBackward(this.f(act), this.f(c), this.f(cPrev), this.f(dh), this.f(dc), this.f(dpre), B, H);
    }
  }
  gruStep(xi: Slice, hh: Slice, hPrev: Slice, act: Slice, h: Slice, B: number, H: number): void {
    const pool = this.rowPlan(B, H), r = 4 * H, g = 12 * H;
    if (pool) {
      pool.begin('gruStep').arg(this.f(xi), g).arg(this.f(hh), g).arg(this.f(hPrev), r).arg(this.f(act), g)
        .arg(this.f(h), r).arg(B).arg(H).run(5);
    } else {
      this.k.gruStep(this.f(xi), this.f(hh), this.f(hPrev), this.f(act), this.f(h), B, H);
    }
  }
  gruStepBackward(act: Slice, hh: Slice, hPrev: Slice, dh: Slice, dxi: Slice, dhh: Slice, dhPrev: Slice,
    B: number, H: number): void {
    const pool = this.rowPlan(B, H), r = 4 * H, g = 12 * H;
    if (pool) {
      pool.begin('gruStepBackward').arg(this.f(act), g).arg(this.f(hh), g).arg(this.f(hPrev), r).arg(this.f(dh), r)
        .arg(this.f(dxi), g).arg(this.f(dhh), g).arg(this.f(dhPrev), r).arg(B).arg(H).run(7);
    } else {
      this.k.gruStepBackward(this.f(act), this.f(hh), this.f(hPrev), this.f(dh), this.f(dxi), this.f(dhh),
        this.f(dhPrev), B, H);
    }
  }
  tanhForward(pre: Slice, h: Slice, n: number): void {
    const pool = this.mapPlan(n, CELL_MIN_SHARE);
    if (pool) pool.begin('tanhForward').arg(this.f(pre), 4).arg(this.f(h), 4).arg(n).run(2);
    else this.k.tanhForward(this.f(pre), this.f(h), n);
  }
  tanhBackward(h: Slice, dh: Slice, dpre: Slice, n: number): void {
    const pool = this.mapPlan(n, CELL_MIN_SHARE);
    if (pool) pool.begin('tanhBackward').arg(this.f(h), 4).arg(this.f(dh), 4).arg(this.f(dpre), 4).arg(n).run(3);
    else this.k.tanhBackward(this.f(h), this.f(dh), this.f(dpre), n);
  }

  dropout(x: Slice, out: Slice, mask: Slice, p: number, seed: number, stream: number): void {
    const pool = this.mapPlan(x.length, DROPOUT_MIN_SHARE);
    if (pool) pool.begin('dropout').arg(this.f(x), 4).arg(this.f(out), 4).arg(this.f(mask), 4).arg(x.length).arg(p).arg(seed).arg(stream).arg(0, 1).run(3);
    else this.k.dropout(this.f(x), this.f(out), this.f(mask), x.length, p, seed, stream, 0);
  }
  mul(x: Slice, m: Slice): void {
    const pool = this.mapPlan(x.length);
    if (pool) pool.begin('mul').arg(this.f(x), 4).arg(this.f(m), 4).arg(x.length).run(2);
    else this.k.mul(this.f(x), this.f(m), x.length);
  }

  softmaxXent(logits: Slice, targets: Slice, losses: Slice, dlogits: Slice, N: number, V: number, gradScale: number): void {
    const pool = this.rowPlan(N, V);
    if (pool) {
      pool.begin('softmaxXent').arg(this.f(logits), 4 * V).arg(this.i(targets), 4).arg(this.f(losses), 4)
        .arg(this.f(dlogits), 4 * V).arg(N).arg(V).arg(gradScale).run(4);
    } else {
      this.k.softmaxXent(this.f(logits), this.i(targets), this.f(losses), this.f(dlogits), N, V, gradScale);
    }
  }
  softmax(logits: Slice, probs: Slice, N: number, V: number, temperature: number): void {
    this.k.softmax(this.f(logits), this.f(probs), N, V, temperature);
  }

  rmsprop(p: Slice, g: Slice, cache: Slice, lr: number, decay: number, eps: number): void {
    const pool = this.mapPlan(p.length);
    if (pool) {
      pool.begin('rmsprop').arg(this.f(p), 4).arg(this.f(g), 4).arg(this.f(cache), 4).arg(p.length)
        .arg(lr).arg(decay).arg(eps).run(3);
    } else {
      this.k.rmsprop(this.f(p), this.f(g), this.f(cache), p.length, lr, decay, eps);
    }
  }
  adam(p: Slice, g: Slice, m: Slice, v: Slice, lr: number, beta1: number, beta2: number, eps: number, step: number): void {
    // The bias corrections are computed here, with the same Math.pow as the reference.
    const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
    const pool = this.mapPlan(p.length);
    if (pool) {
      pool.begin('adam').arg(this.f(p), 4).arg(this.f(g), 4).arg(this.f(m), 4).arg(this.f(v), 4).arg(p.length)
        .arg(lr).arg(beta1).arg(beta2).arg(eps).arg(c1).arg(c2).run(4);
    } else {
      this.k.adam(this.f(p), this.f(g), this.f(m), this.f(v), p.length, lr, beta1, beta2, eps, c1, c2);
    }
  }
  adagrad(p: Slice, g: Slice, cache: Slice, lr: number, eps: number): void {
    const pool = this.mapPlan(p.length);
    if (pool) {
      pool.begin('adagrad').arg(this.f(p), 4).arg(this.f(g), 4).arg(this.f(cache), 4).arg(p.length).arg(lr).arg(eps).run(3);
    } else {
      this.k.adagrad(this.f(p), this.f(g), this.f(cache), p.length, lr, eps);
    }
  }

  sumSquares(x: Slice, out: Slice): void { this.k.sumSquares(this.f(x), x.length, this.f(out)); }
  clipByNorm(x: Slice, sumsq: Slice, maxNorm: number): void {
    const pool = this.mapPlan(x.length);
    if (pool) pool.begin('clipByNorm').arg(this.f(x), 4).arg(x.length).arg(this.f(sumsq)).arg(maxNorm).run(1);
    else this.k.clipByNorm(this.f(x), x.length, this.f(sumsq), maxNorm);
  }
  clamp(x: Slice, lo: number, hi: number): void {
    const pool = this.mapPlan(x.length);
    if (pool) pool.begin('clamp').arg(this.f(x), 4).arg(x.length).arg(lo).arg(hi).run(1);
    else this.k.clamp(this.f(x), x.length, lo, hi);
  }
  scale(x: Slice, alpha: number): void {
    const pool = this.mapPlan(x.length);
    if (pool) pool.begin('scale').arg(this.f(x), 4).arg(x.length).arg(alpha).run(1);
    else this.k.scale(this.f(x), x.length, alpha);
  }
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
