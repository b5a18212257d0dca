// Worker threads for the wasm backend. Every worker instantiates the same compiled module over
// the same shared memory, so a kernel's work splits into disjoint ranges (rows or columns of a
// matrix product, rows of a cell step, elements of an optimiser update) with nothing copied.
//
// The calling thread describes a job in a small control block of shared memory, marks its
// shares unclaimed and wakes the workers; then every thread, the calling one included, claims
// shares one at a time until none is left, and the calling thread waits until all are finished.
// Each thread tries the share with its own index first, so from one step to the next the same
// core reads the same part of a weight matrix and finds it in its own caches: matrix-vector
// products cycling over 16 MB of weights ran 3.5× faster on this 2-core machine than with shares
// taken in whatever order (batch-1 sampling of a 2×512 LSTM cycles over 12 MB).
// Claiming rather than owning a share matters on a busy machine: a worker that the OS has not
// scheduled claims nothing, and the calling thread runs its share instead of waiting a whole
// time slice for it. Both sides poll before sleeping in Atomics.wait (WORKER_SPIN_MS below): a
// training step runs hundreds of small products back to back, and a futex round trip per
// product would cost more than the product.
// This file runs in browsers too: how a worker is started is the host's business (SpawnWorker).
import { kernelIndex, kernelNames, kernelsOf, type KernelName, type Kernels } from './kernels.js';

/** What a worker needs to serve kernels; structured-clonable (a Module and shared memory travel). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's index, 1 … threads − 1 (the calling thread is 0): picks its private scratch. */
  thread: number;
  threads: number;
}

export interface WorkerHandle {
  /** Settles once the worker waits for jobs; rejects if it could not start. */
  ready: Promise<void>;
  terminate(): void;
}

/** Starts one worker that calls runKernelWorker(init, …) (Node: worker_threads; browsers: a Web Worker). */
export type SpawnWorker = (init: WorkerInit) => WorkerHandle;

export const MAX_THREADS = 1024;

// Int32 slots of the control block, a cache line apart so that the slots the calling thread
// writes and those the workers write do not share a line.
const GEN = 0; // bumped for every job and for shutdown: what sleeping workers wait on
const FINISHED = 16; // shares finished
const FAIL = 32; // set when a share threw on a worker
const QUIT = 48; // set on shutdown
const F64_AT = 512; // bytes; the job description follows as f64 fields
// f64 fields: exact for every u32 address, i32 size and f32/f64 scalar a kernel takes.
const KERNEL = 0;
const NARGS = 1;
const COUNT = 2; // which argument receives the size of a share
const SHARES = 3;
const MAX_ARGS = 16;
const ARGS = 8;
const STRIDE = ARGS + MAX_ARGS; // per argument: added once per unit of the split range
const PER_THREAD = STRIDE + MAX_ARGS; // per argument: added once per thread index (private scratch)
const BOUNDS = PER_THREAD + MAX_ARGS; // share p covers [BOUNDS + p, BOUNDS + p + 1)

// How long to poll before sleeping. A thread that sleeps is woken onto the core of the thread
// that wakes it (Linux's wake-affine placement) and shares that core with it until the
// scheduler moves one of them away: with brief polls, samples of a 2-thread training run of S on
// 2 cores found both threads running on one core in half or more of the samples where both ran,
// and polls of 10 ms made its iterations 11% faster (medians of 10 alternating runs). A worker
// polls across the serial gaps between kernels of a step (small products and cell updates run
// on the calling thread), and sleeps when training pauses. With more threads than cores, though, a worker may hold a share without running, and
// only once the calling thread sleeps does the OS move that worker onto the freed core: then
// the calling thread polls only briefly. (Polling threads take time from other processes on a
// busy machine; they stop 10 ms after the last kernel.)
const WORKER_SPIN_MS = 10;
const CALLER_SPIN_MS = 10;
const CALLER_SPIN_OVERSUBSCRIBED_MS = 0.05;

// One Int32 per share after the job description, on its own cache line: 0 = not yet claimed.
// Shares a job does not use stay claimed, so a worker still draining the previous job can claim
// nothing until the caller has written the next description and cleared its shares.
function takenAt(threads: number): number { return Math.ceil((F64_AT + 8 * (BOUNDS + threads + 1)) / 64) * 16; }

function controlBytes(threads: number): number { return 4 * (takenAt(threads) + threads); }

function f64View(control: SharedArrayBuffer, threads: number): Float64Array {
  return new Float64Array(control, F64_AT, BOUNDS + threads + 1);
}

const now = (): number => performance.now();

/** Polls ctl[index] until it differs from `value`, for at most `ms`; returns the last value read. */
function spin(ctl: Int32Array, index: number, value: number, ms: number): number {
  let v = Atomics.load(ctl, index);
  if (v !== value) return v;
  const until = now() + ms;
  for (;;) {
    for (let i = 0; i < 64; i++) {
      v = Atomics.load(ctl, index);
      if (v !== value) return v;
    }
    if (now() > until) return v;
  }
}

/** Claims and runs shares of the current job until none is left. */
class ShareRunner {
  private readonly fns: ((...args: number[]) => unknown)[];
  private readonly argv: number[][] = [];
  /** The Int32 index of share 0's claim flag in the control block. */
  readonly taken: number;
  error: unknown = undefined;

  constructor(k: Kernels, private readonly ctl: Int32Array, private readonly f64: Float64Array,
    private readonly thread: number, threads: number) {
    this.taken = takenAt(threads);
    this.fns = kernelNames.map((n) => k[n] as (...args: number[]) => unknown);
    // One argument array per arity, reused, so no job allocates.
    for (let n = 0; n <= MAX_ARGS; n++) this.argv.push(new Array<number>(n).fill(0));
  }

  drain(): void {
    const ctl = this.ctl, shares = this.f64[SHARES];
    for (let i = 0; i < shares; i++) {
      const share = (this.thread + i) % shares;
      if (Atomics.compareExchange(ctl, this.taken + share, 0, 1) !== 0) continue;
      // A claimed share keeps the job alive (the caller waits for it), so the description read
      // from here on is that of the job the share belongs to.
      try {
        this.run(share);
      } catch (err) {
        // Flagged before the share counts as finished, so the caller sees it.
        this.error = err;
        Atomics.store(ctl, FAIL, 1);
      }
      if (Atomics.add(ctl, FINISHED, 1) + 1 === this.f64[SHARES]) Atomics.notify(ctl, FINISHED);
    }
  }

  private run(share: number): void {
    const f = this.f64;
    const lo = f[BOUNDS + share], hi = f[BOUNDS + share + 1];
    if (!(hi > lo)) return;
    const n = f[NARGS];
    const argv = this.argv[n];
    for (let i = 0; i < n; i++) argv[i] = f[ARGS + i] + lo * f[STRIDE + i] + this.thread * f[PER_THREAD + i];
    argv[f[COUNT]] = hi - lo;
    this.fns[f[KERNEL]].apply(undefined, argv);
  }
}

/** The worker's side: serves jobs until the pool closes. Blocks the thread, as workers may. */
export function serveKernels(k: Kernels, init: WorkerInit): void {
  const ctl = new Int32Array(init.control);
  const runner = new ShareRunner(k, ctl, f64View(init.control, init.threads), init.thread, init.threads);
  let seen = 0;
  for (;;) {
    let g = spin(ctl, GEN, seen, WORKER_SPIN_MS);
    while (g === seen) {
      Atomics.wait(ctl, GEN, seen);
      g = Atomics.load(ctl, GEN);
    }
    seen = g;
    if (Atomics.load(ctl, QUIT) !== 0) return;
    runner.drain();
  }
}

/** A worker's whole life: instantiate over the shared memory, report ready, serve jobs. */
export async function runKernelWorker(init: WorkerInit, ready: () => void): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const k = kernelsOf(instance);
  ready();
  serveKernels(k, init);
}

/** The calling thread's side: describes jobs, runs shares itself, waits for the rest. */
export class KernelPool {
  private readonly ctl: Int32Array;
  private readonly f64: Float64Array;
  private readonly runner: ShareRunner;
  private readonly canWait: boolean;
  private readonly callerSpinMs: number;
  private gen = 0;
  private nargs = 0;
  private closed = false;
  /** Jobs run split between threads so far. */
  jobs = 0;
  /** Shares of the last plan() and the size of its largest share. */
  parts = 1;
  largest = 0;

  private constructor(k: Kernels, readonly threads: number, cores: number, control: SharedArrayBuffer,
    private readonly workers: WorkerHandle[]) {
    this.callerSpinMs = threads > cores ? CALLER_SPIN_OVERSUBSCRIBED_MS : CALLER_SPIN_MS;
    this.ctl = new Int32Array(control);
    this.f64 = f64View(control, threads);
    this.runner = new ShareRunner(k, this.ctl, this.f64, 0, threads);
    this.ctl.fill(1, this.runner.taken, this.runner.taken + threads);
    this.canWait = agentCanWait(this.ctl);
  }

  /** Starts threads − 1 workers over the module and memory that `k` runs on; `cores`: the machine's. */
  static async start(k: Kernels, module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number,
    spawn: SpawnWorker, cores = threads): Promise<KernelPool> {
    const control = new SharedArrayBuffer(controlBytes(threads));
    const workers: WorkerHandle[] = [];
    try {
      for (let thread = 1; thread < threads; thread++) workers.push(spawn({ module, memory, control, thread, threads }));
      await Promise.all(workers.map((w) => w.ready));
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new KernelPool(k, threads, cores, control, workers);
  }

  /**
   * Divides `total` units into at most `threads` shares of whole multiples of `align` (the last
   * takes the remainder), none smaller than about `minShare`; returns how many shares there are.
   * A result of 1 means: run the kernel directly.
   */
  plan(total: number, align: number, minShare: number): number {
    const chunks = Math.ceil(total / align);
    const parts = this.closed ? 1 : Math.max(1, Math.min(this.threads, chunks, Math.floor(total / minShare)));
    this.parts = parts;
    if (parts === 1) { this.largest = total; return 1; }
    const f = this.f64;
    let largest = 0;
    f[BOUNDS] = 0;
    for (let p = 1; p <= parts; p++) {
      const b = p === parts ? total : Math.floor((p * chunks) / parts) * align;
      f[BOUNDS + p] = b;
      largest = Math.max(largest, b - f[BOUNDS + p - 1]);
    }
    this.largest = largest;
    return parts;
  }

  /** Starts describing a job over the shares of the last plan(). */
  begin(kernel: KernelName): this {
    this.f64[KERNEL] = kernelIndex[kernel];
    this.nargs = 0;
    return this;
  }

  /** The next argument: `value` + `stride`·(first unit of the share) + `perThread`·(thread index). */
  arg(value: number, stride = 0, perThread = 0): this {
    const f = this.f64, i = this.nargs++;
    f[ARGS + i] = value;
    f[STRIDE + i] = stride;
    f[PER_THREAD + i] = perThread;
    return this;
  }

  /** Runs the job, argument `countArg` set to each share's size; returns when every share is done. */
  run(countArg: number): void {
    const ctl = this.ctl, f = this.f64, shares = this.parts;
    f[NARGS] = this.nargs;
    f[COUNT] = countArg;
    f[SHARES] = shares;
    this.jobs++;
    Atomics.store(ctl, FINISHED, 0);
    for (let p = 0; p < shares; p++) Atomics.store(ctl, this.runner.taken + p, 0);
    this.gen = (this.gen + 1) | 0;
    Atomics.store(ctl, GEN, this.gen);
    Atomics.notify(ctl, GEN);
    this.runner.drain();
    let d = Atomics.load(ctl, FINISHED);
    if (d !== shares) {
      const until = now() + this.callerSpinMs;
      while (d !== shares && now() < until) {
        for (let i = 0; i < 64 && d !== shares; i++) d = Atomics.load(ctl, FINISHED);
      }
      while (d !== shares) {
        if (this.canWait) Atomics.wait(ctl, FINISHED, d);
        d = Atomics.load(ctl, FINISHED);
      }
    }
    if (Atomics.load(ctl, FAIL) !== 0) {
      Atomics.store(ctl, FAIL, 0);
      const err = this.runner.error ?? new Error('a wasm kernel failed on a worker thread');
      this.runner.error = undefined;
      throw err;
    }
  }

  /** Stops the workers; later plans run everything on the calling thread. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, QUIT, 1);
    this.gen = (this.gen + 1) | 0;
    Atomics.store(this.ctl, GEN, this.gen);
    Atomics.notify(this.ctl, GEN);
    for (const w of this.workers) w.terminate();
  }
}

// A browser's main thread may not block; there the caller polls instead (run the engine in a
// worker to avoid burning the core).
function agentCanWait(ctl: Int32Array): boolean {
  try {
    Atomics.wait(ctl, GEN, Atomics.load(ctl, GEN) + 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** A SpawnWorker for browsers: `url` is a module worker that runs web-worker.js's handler. */
export function webWorkerSpawner(url: string | URL): SpawnWorker {
  return (init) => {
    const w = new Worker(url, { type: 'module' });
    const ready = new Promise<void>((resolve, reject) => {
      w.onmessage = (e: MessageEvent<unknown>) => {
        if (e.data === 'ready') resolve();
        else reject(new Error(`wasm worker failed to start: ${String(e.data)}`));
      };
      w.onerror = (e: ErrorEvent) => reject(new Error(`wasm worker failed to start: ${e.message}`));
    });
    w.postMessage(init);
    return { ready, terminate: () => w.terminate() };
  };
}
