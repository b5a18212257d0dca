/// <reference types="@webgpu/types" />
// The WebGPU backend: every kernel of the Backend interface as a WGSL compute shader over
// buffers that stay on the GPU. Methods record work (recorder.ts); download and flush are
// the only points that wait for the GPU.
import { slice, type Backend, type Buf, type DrawOptions, type SampleLoop, type SamplerNet, type Slice } from '../backend.js';
import { LostWorkError, UserError } from '../../errors.js';
import type { KernelDef } from './program.js';
import { Recorder, Usage, type RecorderStats } from './recorder.js';
import { groupsFor, WG } from './kernels/common.js';
import { gemmDef, gemmFinishDef, gemmVec, isSkinny, pickGemm, vecKey, type GemmPlan, type VecReads } from './kernels/gemm.js';
import type { Slicing } from './kernels/slices.js';
import * as rows from './kernels/rows.js';
import * as cells from './kernels/cells.js';
import * as loss from './kernels/loss.js';
import * as optim from './kernels/optim.js';
import * as vec from './kernels/vector.js';
import { SEQUENCE_BUFS, SEQUENCE_TAGS, sequenceDef, sequenceExchangeWords, sequenceTiles, sequenceWidth } from './kernels/sequence.js';
import { sequenceSteps } from './sequence-steps.js';
import { cellGatesOf, pickStep, pickStepTile, stepK, stepTileFits, stepDef, stepFinishDef, stepSliceDef, stepTileName, stepVec, type StepKind, type StepPlan } from './kernels/step.js';
import type { TileLimits } from './kernels/tile.js';
import { fastest, gemmPlans, stepPlans } from './tuner.js';
import { exchangeWords, SAMPLER_UNITS, samplerDef, samplerFailWord, samplerKey, samplerSharedBytes, type SamplerShape } from './kernels/sampler.js';

// Some calls are recorded lazily, to be merged with the calls after them into one dispatch:
// a product with the step that consumes it (kernels/step.ts) or with the biases added to its
// output; a fill with zeros, the one-hot gather into it and the biases added to that; and
// consecutive independent copies. Any other call records them first, as asked.
interface PendingGemm {
  transA: boolean; transB: boolean; M: number; N: number; K: number;
  alpha: number; A: Slice; B: Slice; beta: number; C: Slice;
  biases: Slice[]; // addBias(C, bias, M, N) calls that followed it, at most MAX_BIASES
  reads?: VecReads; // A and B in vectors (a plan's vec), decided on the call's own buffers: tuning moves C to scratch
}
// A recurrent product fused with the step that consumes it: C = alpha·A·op(W) + beta·C, then
// the cell, which reads `ins` and writes `outs` (the step kernel's buffers in order after C).
interface StepCall {
  kind: StepKind; B: number; H: number; K: number;
  alpha: number; A: Slice; W: Slice; beta: number; C: Slice;
  ins: Slice[]; outs: Slice[];
  reads?: VecReads; // as PendingGemm's
}
interface PendingGather {
  out: Slice; w: Slice; ids: Slice; N: number; G: number; V: number;
  assign: boolean; // out was filled with zeros just before
  biases: Slice[];
}
const MAX_BIASES = 2;
// Products of this many multiply-adds or more are tuned (tune option), and recurrent steps of
// TUNE_STEP_MACS (or of Slicing.stepMacs, if less): smaller ones cost little whatever their
// plan, and sampling one stream (B = 1) is not kept waiting for its priming steps' timing.
const TUNE_MACS = 2 ** 24;
const TUNE_STEP_MACS = 2 ** 21;
// What tuning keeps a plan by: a step's or product's shape.
const stepShape = (kind: StepKind, B: number, H: number): string => `${kind} ${B}×${H}`;
const gemmShape = (transA: boolean, transB: boolean, M: number, N: number, K: number): string =>
  `gemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}×${N}×${K}`;

const NO_VEC: VecReads = [false, false];

interface PendingCopy { dst: GpuBuf; src: GpuBuf; dOff: number; sOff: number; n: number }

export class GpuBuf implements Buf {
  constructor(readonly owner: WebGPUBackend, readonly buffer: GPUBuffer, readonly length: number, readonly int: boolean) {}
}

export interface WebGPUBackendOptions {
  /** What to call the GPU in messages and benchmark tables (default: the adapter's description). */
  label?: string;
  /**
   * Dispatches recorded before the recording is submitted without waiting (default 128); after
   * a read-back the first recordings are shorter (4, 8, 16, 32, 64 dispatches), so the GPU starts sooner.
   */
  submitEvery?: number;
  /**
   * Workgroups a matrix product should make to keep this GPU busy (default 120, for GPUs of
   * about a hundred compute units): a product picks the largest tile that still makes this many.
   */
  occupancy?: number;
  /**
   * When a product splits along K into slices, summed by a second dispatch (kernels/slices.ts
   * Slicing): a recurrent step's product of `stepMacs` multiply-adds or more (default 2^24) into
   * enough slices to make `steps` (default 2) times `occupancy` workgroups, the second dispatch
   * applying the cell; any other product of `productMacs` or more (default 2^28), `products`
   * (default 8) times; 0 never splits. With `stepGroups` (`productGroups`) > 1, default 0,
   * such a step (product) splits K between that many thread grids of each workgroup instead, in
   * one dispatch, where the device allows it.
   */
  slicing?: Partial<Slicing>;
  /**
   * Workgroups sampling's loop (kernels/sampler.ts) may keep running at once (default 128);
   * fewer where a probe finds fewer resident together. A CPU renderer is given 1: it may run
   * workgroups one after another whatever a probe saw (so `persistent` is limited there too).
   */
  samplerGroups?: number;
  /**
   * Characters per dispatch of sampling's loop at most, and time steps per dispatch of a
   * `persistent` sequence (default: as many as asked for).
   */
  samplerSteps?: number;
  /**
   * Turns of their loops (8 polls each) the waits of a thread of sampling's loop or of a
   * sequence kernel may take in all per dispatch before one gives up, as a wait gives up after
   * 2²⁰ polls, setting the flag the backend reads back (default: no bound but that). Mesa's
   * llvmpipe ends every loop of a kernel once their turns reach 65,535 in all, silently, cutting
   * the dispatch short with wrong values: there a wait must give up first (CPU_RENDERER_SPIN in
   * device.ts).
   */
  spin?: number;
  /**
   * Run a recurrent layer's forward over a whole sequence in one dispatch, and its backward in
   * another (kernels/sequence.ts), instead of a dispatch or two per time step (default false).
   * Its workgroups of the same batch rows wait on one another, so it runs where a probe, at the
   * first read-back after a shape is met, finds them all resident at once (the steps run until
   * then, and where it does not), and with `tune` where it is also timed faster than the steps;
   * with `samplerGroups` 1 (a CPU renderer), only where one workgroup holds every unit.
   */
  persistent?: boolean;
  /**
   * Time the plans of each recurrent step and large product (tuner.ts) on this GPU the first
   * time one of that shape runs, at the next read-back, and run it on the fastest from then on,
   * as cuDNN's benchmark mode does (default false; a hardware adapter's backendOptions turn it
   * on). Sums then add in the order of the plan timed fastest, which may differ from run to run.
   */
  tune?: boolean;
}

// A kernel whose workgroups wait on one another: the word of its exchange that a wait which
// gives up sets, and what then.
interface Waiting { what: string; ex: GpuBuf; word: number; lost: () => void }
interface Sampler { def: KernelDef; groups: number; ex: GpuBuf; step: number; waiting: Waiting }
const flagRange = ({ ex, word }: Waiting) => ({ src: ex.buffer, byteOffset: 4 * word, bytes: 4 });
const flagSet = (read: ArrayBuffer): boolean => new Int32Array(read)[0] !== 0;
// A sequence kernel on one tile, over X × Y workgroups.
interface SequenceKernel { def: KernelDef; X: number; Y: number }
// A layer's forward or backward shape's candidate sequence kernels, the one it runs, and whether it runs (null until decided).
interface Sequence {
  kind: StepKind; kernels: SequenceKernel[]; kernel: SequenceKernel; ex: GpuBuf; tag: number;
  B: number; H: number; use: boolean | null; waiting: Waiting;
  share: number[]; // per buffer of the kernel but the exchange, the first that is the same buffer in the model's call
  timed?: ReadonlyMap<string, number>; // ms per T steps, as tuning timed them: the steps', then each kernel's
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly label: string;
  private readonly rec: Recorder;
  private readonly defs = new Map<string, KernelDef>(); // kernels made from templates, by variant
  private readonly maxBinding: number;
  private readonly partials: GpuBuf; // sumSquares' per-workgroup sums
  private readonly scratch = new Map<string, GpuBuf>(); // grown on demand: 'copy-f32'/'copy-i32' for overlapping copies, 'hot' for scatterAddCols' one-hot rows, 'slices' for a split product's sums
  private pending: PendingGemm | null = null;
  private zeros: Slice | null = null;
  private gather: PendingGather | null = null;
  private copies: PendingCopy[] = [];
  private readonly occupancy: number;
  private readonly slicing: Slicing;
  /** What this device allows a workgroup: tiles that ask for more are not picked. */
  readonly tileLimits: TileLimits;
  /** Whether large steps and products are tuned on this GPU (the tune option). */
  readonly tune: boolean;
  /** Whether a layer's sequence may run in one dispatch each way (the persistent option). */
  readonly persistent: boolean;
  private readonly tunedSteps = new Map<string, StepPlan>(); // by shape: the plan timed fastest
  private readonly tunedGemms = new Map<string, GemmPlan>();
  private readonly untuned = new Map<string, () => Promise<void>>(); // shapes met, to time at the next read-back
  private readonly maxStorage: number;
  private readonly samplerGroups: number;
  private readonly samplerSteps: number;
  private readonly spin: number;
  private readonly samplers = new Map<string, Promise<Sampler | null>>();
  private readonly sequences = new Map<string, Sequence>();
  private unprobed: (() => Promise<void>)[] = []; // sequences to decide at the next read-back, after tuning
  private readonly waited = new Set<Waiting>(); // the kernels that wait on one another run since the last read-back

  constructor(readonly device: GPUDevice, opts: WebGPUBackendOptions = {}) {
    this.label = opts.label ?? 'GPU';
    this.occupancy = opts.occupancy ?? 120;
    this.slicing = { steps: 2, stepMacs: 2 ** 24, stepGroups: 0, products: 8, productMacs: 2 ** 28, productGroups: 0, ...opts.slicing };
    this.samplerGroups = Math.max(1, opts.samplerGroups ?? 128);
    this.samplerSteps = Math.max(1, opts.samplerSteps ?? Infinity);
    this.spin = Math.min(Math.max(1, opts.spin ?? 0xffffffff), 0xffffffff) >>> 0;
    this.tune = opts.tune === true;
    this.persistent = opts.persistent === true;
    const l = device.limits;
    // The kernels run up to 256 threads per workgroup and bind up to 8 storage buffers, WebGPU's
    // default limits: only a device made with compatibility mode's lower defaults has less.
    if (l.maxComputeInvocationsPerWorkgroup < WG || l.maxComputeWorkgroupSizeX < WG || l.maxStorageBuffersPerShaderStage < 8) {
      throw new UserError(`this WebGPU device (${this.label}) allows ${l.maxComputeInvocationsPerWorkgroup} threads per workgroup and ${l.maxStorageBuffersPerShaderStage} storage buffers per kernel; the webgpu backend needs ${WG} and 8 (make the device with requestBackendDevice)`);
    }
    this.maxStorage = l.maxStorageBuffersPerShaderStage;
    this.tileLimits = { threads: Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX), sharedBytes: l.maxComputeWorkgroupStorageSize };
    this.maxBinding = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.rec = new Recorder(device, opts.submitEvery);
    this.partials = this.allocate(vec.SQ_PARTS, false);
  }

  /** Submits, dispatches and compute passes so far: tests and benchmarks count them. */
  get stats(): Readonly<RecorderStats> { return this.rec.stats; }

  alloc(length: number): Buf { return this.allocate(length, false); }
  allocInt(length: number): Buf { return this.allocate(length, true); }

  upload(dst: Slice, src: Float32Array | Int32Array): void {
    if (src.length > dst.length) throw new RangeError(`upload of ${src.length} into slice of ${dst.length}`);
    const b = this.buf(dst);
    // Converted between element types as TypedArray.set converts in the reference.
    const data = b.int ? (src instanceof Int32Array ? src : Int32Array.from(src)) : (src instanceof Float32Array ? src : Float32Array.from(src));
    this.settle();
    this.rec.upload(b.buffer, 4 * dst.offset, data);
  }

  async download(src: Slice): Promise<Float32Array> {
    const b = this.f(src);
    this.settle();
    // With it, in the same read-back: whether a wait of a kernel whose workgroups wait on one
    // another gave up since the last read-back. If one did, what it and everything after it wrote
    // is void: that work runs another way from now on, and the caller runs it again (LostWorkError).
    const ran = [...this.waited];
    this.waited.clear();
    const [data, ...flags] = await this.rec.readAll([{ src: b.buffer, byteOffset: 4 * src.offset, bytes: 4 * src.length }, ...ran.map(flagRange)]);
    const failed = ran.filter((_, i) => flagSet(flags[i]));
    if (failed.length > 0) {
      for (const w of failed) w.lost();
      throw new LostWorkError(`the workgroups of ${failed.map((w) => w.what).join(' and ')} lost step with each other (a wait on the GPU gave up); that work runs another way from now on`);
    }
    const out = new Float32Array(data);
    if (this.untuned.size > 0) await this.tuneShapes();
    if (this.unprobed.length > 0) {
      const decide = this.unprobed;
      this.unprobed = [];
      for (const d of decide) await d();
    }
    return out;
  }

  /** The plan timed fastest for each shape tuned so far (tune option), by shape. */
  tunedPlans(): ReadonlyMap<string, StepPlan | GemmPlan> { return new Map<string, StepPlan | GemmPlan>([...this.tunedSteps, ...this.tunedGemms]); }

  /** How each sequence shape (a layer's forward or backward) met so far runs (persistent option): its kernel, or 'steps'; 'undecided' until the first read-back after it. */
  sequencePlans(): ReadonlyMap<string, string> {
    return new Map([...this.sequences].map(([shape, s]) => [shape, s.use === null ? 'undecided' : s.use ? s.kernel.def.key : 'steps']));
  }

  /** For each sequence shape that tuning decided, the time of its T steps (ms) on the steps one by one ('steps') and on each resident sequence kernel. */
  sequenceTimes(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return new Map([...this.sequences].flatMap(([shape, s]): [string, ReadonlyMap<string, number>][] => (s.timed ? [[shape, s.timed]] : [])));
  }

  flush(): Promise<void> {
    this.settle();
    return this.rec.done();
  }

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, beta: number, C: Slice): void {
    this.settle();
    this.f(A); this.f(B); this.f(C);
    if (M > 0 && N > 0) this.pending = { transA, transB, M, N, K, alpha, A, B, beta, C, biases: [] };
  }

  // Records what is pending as it was asked for (one kind at most is pending at a time).
  private settle(): void {
    const p = this.pending, z = this.zeros, g = this.gather;
    this.pending = this.zeros = this.gather = null;
    if (p) this.recordGemm(p);
    if (z) this.map(vec.fill, [this.f(z)], [z.offset, z.length, 0], z.length);
    if (g) this.recordGather(g);
    if (this.copies.length > 0) this.recordCopies();
  }

  private recordGather({ out, w, ids, N, G, V, assign, biases }: PendingGather): void {
    const def = this.defOf(`gather${assign}${biases.length}`, () => rows.gatherCols(assign, biases.length));
    this.map(def, [this.f(out), this.f(w), this.i(ids), ...biases.map((b) => this.f(b))],
      [out.offset, w.offset, ids.offset, N * G, G, V, ...biases.map((b) => b.offset)], N * G);
  }

  private recordGemm(p: PendingGemm): void {
    const { transA, transB, M, N, K, alpha, beta, C, biases } = p;
    const c = sub(C, M * N);
    if (K === 0 || alpha === 0) {
      if (beta === 0) this.fill(c, 0);
      else if (beta !== 1) this.scale(c, beta);
      for (const b of biases) this.addBias(c, b, M, N);
      return;
    }
    this.recordGemmPlan(p, this.gemmPlan(transA, transB, M, N, K));
    if (this.tune && !isSkinny(M) && M * N * K >= Math.min(TUNE_MACS, this.slicing.productMacs)) {
      // Timed on a product of its own, whose output is scratch.
      this.noteShape(this.tunedGemms, gemmShape(transA, transB, M, N, K), () => gemmPlans(M, N, K, this.occupancy, this.slicing, this.tileLimits),
        [c], (s) => {
          const timed = { ...p, C: s(c), reads: this.gemmReads(p) };
          return (plan) => this.recordGemmPlan(timed, plan);
        });
    }
  }

  private recordGemmPlan(p: PendingGemm, plan: GemmPlan): void {
    const { transA, transB, M, N, K, alpha, A, B, beta, C, biases } = p;
    const { tile: t, slices, kc } = plan;
    const reads = plan.vec === true ? p.reads ?? this.gemmReads(p) : NO_VEC;
    const v = vecKey(reads);
    if (slices === 1) {
      const def = this.defOf(`gemm${transA}${transB}${t.name}${biases.length}${v}`, () => gemmDef(transA, transB, t, biases.length, false, reads));
      this.run(def, [this.f(A), this.f(B), this.f(C), ...biases.map((b) => this.f(b))],
        [A.offset, B.offset, K, C.offset, M, N, alpha, beta, ...biases.map((b) => b.offset)],
        Math.ceil(N / t.BN), Math.ceil(M / t.BM));
      return;
    }
    const parts = this.scratchFor('slices', slices * M * N, false);
    const def = this.defOf(`gemmSlice${transA}${transB}${t.name}${v}`, () => gemmDef(transA, transB, t, 0, true, reads));
    this.run(def, [this.f(A), this.f(B), parts], [A.offset, B.offset, 0, M, N, K, kc], Math.ceil(N / t.BN), Math.ceil(M / t.BM), slices);
    const finish = this.defOf(`gemmFinish${biases.length}`, () => gemmFinishDef(biases.length));
    this.map(finish, [parts, this.f(C), ...biases.map((b) => this.f(b))],
      [0, slices, C.offset, M, N, alpha, beta, ...biases.map((b) => b.offset)], M * N);
  }

  private recordCopies(): void {
    const cs = this.copies, int = cs[0].dst.int;
    this.copies = [];
    const def = this.defOf(`copy${cs.length}${int}`, () => vec.copies(cs.length, int));
    this.run(def, cs.flatMap((c) => [c.dst, c.src]), cs.flatMap((c) => [c.dOff, c.sOff, c.n]), groupsFor(Math.max(...cs.map((c) => c.n))));
  }

  addBias(out: Slice, b: Slice, N: number, G: number): void {
    this.f(b);
    const p = this.pending, g = this.gather;
    if (p && p.biases.length < MAX_BIASES && same(p.C, out) && p.M === N && p.N === G && !overlaps(b, sub(p.C, N * G))) {
      p.biases.push(b);
      return;
    }
    if (g && g.biases.length < MAX_BIASES && same(g.out, out) && g.N === N && g.G === G && !overlaps(b, sub(g.out, N * G))) {
      g.biases.push(b);
      return;
    }
    this.map(rows.addBias, [this.f(out), this.f(b)], [out.offset, b.offset, N * G, G], N * G);
  }
  sumRows(db: Slice, dout: Slice, N: number, G: number, db2?: Slice): void {
    if (G === 0) return;
    const two = db2 !== undefined;
    const def = this.defOf(`sumRows${two}`, () => rows.sumRows(two));
    this.run(def, [this.f(db), this.f(dout), ...(two ? [this.f(db2)] : [])],
      [db.offset, dout.offset, N, G, ...(two ? [db2.offset] : [])], Math.ceil(G / rows.SUM_COLS));
  }
  gatherCols(out: Slice, w: Slice, ids: Slice, N: number, G: number, V: number): void {
    this.f(out); this.f(w); this.i(ids);
    const z = this.zeros, n = N * G;
    const assign = z !== null && same(z, out) && z.length === n && !overlaps(w, sub(out, n));
    if (assign) this.zeros = null;
    this.settle();
    if (n > 0) this.gather = { out, w, ids, N, G, V, assign, biases: [] };
  }
  scatterAddCols(dw: Slice, dout: Slice, ids: Slice, N: number, G: number, V: number): void {
    this.f(dw); this.f(dout);
    const hot = this.scratchFor('hot', N * V, false);
    this.map(rows.oneHot, [hot, this.i(ids)], [0, ids.offset, N * V, V], N * V);
    this.gemm(true, false, G, V, N, 1, dout, slice(hot, 0, N * V), 1, dw);
  }
  gatherRows(out: Slice, table: Slice, ids: Slice, N: number, E: number): void {
    this.map(rows.gatherRows, [this.f(out), this.f(table), this.i(ids)], [out.offset, table.offset, ids.offset, N * E, E], N * E);
  }
  scatterAddRows(dtable: Slice, dout: Slice, ids: Slice, N: number, E: number): void {
    this.map(rows.scatterAddRows, [this.f(dtable), this.f(dout), this.i(ids)], [dtable.offset, dout.offset, ids.offset, N, E], E);
  }

  lstmStep(pre: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, B: number, H: number): void {
    if (this.fuse('lstm', pre, B, H, [cPrev], [act, c, h])) return;
    this.map(cells.lstmStep, [this.f(pre), this.f(cPrev), this.f(act), this.f(c), this.f(h)],
      [pre.offset, cPrev.offset, act.offset, c.offset, h.offset, B * H, H], B * H);
  }
  lstmForward(pre: Slice, whh: Slice, hs: Slice, cs: Slice, act: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('lstm', [pre, hs, cs, act], whh, T, B, H);
  }
  lstmBackward(act: Slice, cs: Slice, dh: Slice, dc: Slice, dpre: Slice, whh: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('lstmBack', [act, cs, dh, dc, dpre], whh, T, B, H);
  }
  gruForward(xi: Slice, bhh: Slice, hs: Slice, hh: Slice, act: Slice, whh: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('gru', [xi, bhh, hs, hh, act], whh, T, B, H);
  }
  gruBackward(act: Slice, hh: Slice, hs: Slice, dh: Slice, dxi: Slice, dhh: Slice, whh: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('gruBack', [act, hh, hs, dh, dxi, dhh], whh, T, B, H);
  }
  rnnForward(pre: Slice, hs: Slice, whh: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('rnn', [pre, hs], whh, T, B, H);
  }
  rnnBackward(hs: Slice, dh: Slice, dpre: Slice, whh: Slice, T: number, B: number, H: number): boolean {
    return this.sequence('rnnBack', [hs, dh, dpre], whh, T, B, H);
  }

  // A layer's T steps of `kind` in its sequence kernel, where it runs; `s` its buffers in SEQUENCE_BUFS' order.
  private sequence(kind: StepKind, s: Slice[], whh: Slice, T: number, B: number, H: number): boolean {
    const seq = this.sequenceOf(kind, whh, s, T, B, H);
    if (seq) this.runSequence(seq, whh, s, T);
    return seq !== null;
  }

  /**
   * The sequence kernel (kernels/sequence.ts) for a layer's forward or backward of this shape,
   * where it runs: `persistent` on, more than one step, each buffer it writes bound once (read
   * ones may share a buffer, as a layer's W_hh and b_hh do), and either one workgroup per batch
   * tile or workgroups that can wait on one another (not a CPU renderer). The first call of a
   * shape notes it to be decided at the next read-back (decideSequence), and the steps run until
   * then.
   */
  private sequenceOf(kind: StepKind, whh: Slice, others: Slice[], T: number, B: number, H: number): Sequence | null {
    if (!this.persistent || T < 2) return null;
    const t = pickStepTile(kind, B, H, this.occupancy), X = Math.ceil(H / t.BU);
    const all = [...others, whh].map((s) => this.f(s)), share = all.map((b) => all.indexOf(b));
    if (SEQUENCE_BUFS[kind].some((l, i) => l.write === true && share[i] !== all.lastIndexOf(all[i])) || (X > 1 && this.samplerGroups === 1)) return null;
    const vecW = stepVec(kind, H, 0, whh.offset)[1], key = `${kind} ${stepTileName(t)}${vecKey([false, vecW])} ${B}×${H}`;
    let seq = this.sequences.get(key);
    if (!seq) {
      const kernels = sequenceTiles(t, B).filter((g) => stepTileFits(kind, g, this.tileLimits))
        .map((g) => ({ def: this.defOf(`sequence${kind}${stepTileName(g)}${vecW}`, () => sequenceDef(kind, g, vecW)), X, Y: Math.ceil(B / g.BM) }))
        .filter((k, i, all) => all.findIndex((o) => o.def === k.def) === i);
      const words = sequenceExchangeWords(B, sequenceWidth(kind, H)), ex = this.allocate(words, true);
      const made: Sequence = { kind, kernels, kernel: kernels[0], ex, tag: 0, B, H, use: X === 1 && !this.tune ? true : null, share,
        waiting: { what: `the sequence kernel of ${key}`, ex, word: words - 1, lost: () => { made.use = false; } } };
      if (made.use === null) this.unprobed.push(() => this.decideSequence(made, whh, T));
      this.sequences.set(key, (seq = made));
    }
    return seq.use === true ? seq : null;
  }

  // T steps in dispatches of samplerSteps at most, `s` the kernel's buffers but W_hh and the
  // exchange: forward from the first step, backward from the last.
  private runSequence(seq: Sequence, whh: Slice, s: Slice[], T: number): void {
    const { B, H, kind } = seq, back = kind.endsWith('Back'), most = this.samplerSteps, layout = SEQUENCE_BUFS[kind];
    const bufs = [...[...s, whh].map((b) => this.f(b)), seq.ex];
    // Steps lo … lo + m − 1 of T; the arguments after the offsets are oW, M, U, K, T, tag0, first, oEx, spin.
    for (let done = 0; done < T; done += most) {
      const m = Math.min(most, T - done), lo = back ? T - done - m : done;
      const offsets = layout.map((l, i) => s[i].offset + (l.slots === 'steps' || l.slots === 'states' ? lo * B * l.gates * H : 0));
      const { def, X, Y } = seq.kernel;
      this.run(def, bufs, [...offsets, whh.offset, B, H, sequenceWidth(kind, H), m, seq.tag, done === 0 ? 1 : 0, 0, this.spin], X, Y);
      seq.tag = (seq.tag + m) % SEQUENCE_TAGS;
    }
    this.waited.add(seq.waiting);
  }

  /**
   * Whether a shape's sequence runs in the sequence kernel, and on which of its tiles: those
   * whose workgroups (more than one per batch tile) are all resident at once, as a probe of the
   * tile's own pipeline (T = 0) on buffers bound as the model's are answers; with tune, the
   * fastest of them and the steps one by one over T steps, timed on scratch as tuning times
   * plans, leaving out a tile whose waits gave up while timed; else the first.
   */
  private async decideSequence(seq: Sequence, whh: Slice, T: number): Promise<void> {
    const { B, H, kind } = seq, layout = SEQUENCE_BUFS[kind];
    const scratch: GpuBuf[] = [];
    try {
      let kernels = seq.kernels;
      // Every buffer scratch but the exchange, bound as the model's are (shared where they
      // share), the probe answering in hs forward, dh backward. With tune every candidate's
      // pipeline is made at once, first, as tuning's are; without, the first resident is kept.
      const own = seq.share.map((j, i) => (j === i ? this.allocate(4, false) : null));
      for (const b of own) if (b) scratch.push(b);
      const bound = seq.share.map((j) => own[j]!);
      const answer = bound[layout.findIndex((l) => l.name === (kind.endsWith('Back') ? 'dh' : 'hs'))];
      const args = kernels[0].def.args.map(([name]) => (name === 'M' ? B : name === 'U' ? H : name === 'K' ? sequenceWidth(kind, H) : name === 'spin' ? this.spin : 0));
      const probe = (k: SequenceKernel) => (): void => this.run(k.def, [...bound, seq.ex], args, k.X, k.Y);
      if (this.tune) await this.accepted(() => this.rec.compile(() => { for (const k of kernels) probe(k)(); }));
      if (kernels[0].X > 1) {
        const resident: SequenceKernel[] = [];
        for (const k of kernels) {
          if (!await this.allResident(slice(seq.ex, seq.waiting.word - 1, 1), slice(answer, 0, 1), probe(k))) continue;
          resident.push(k);
          if (!this.tune) break;
        }
        seq.kernels = kernels = resident;
      }
      if (kernels.length === 0 || !this.tune) {
        seq.kernel = kernels[0] ?? seq.kernel;
        return void (seq.use = kernels.length > 0);
      }
      const lengths = layout.map((l) => l.gates * H * (l.slots === 'steps' ? T * B : l.slots === 'states' ? (T + 1) * B : l.slots === 'once' ? B : 1));
      if (!await this.accepted(() => { for (const len of lengths) scratch.push(this.allocate(len, false)); })) return void (seq.use = false);
      const bufs = scratch.slice(-lengths.length).map((b) => slice(b));
      const sequence = (k: SequenceKernel) => (): void => {
        seq.kernel = k;
        this.runSequence(seq, whh, bufs, T);
      };
      const steps = (): void => sequenceSteps(this, kind, bufs, whh, T, B, H);
      const timing = () => fastest([steps, ...kernels.map(sequence)], () => this.flush(), undefined, (f) => this.rec.hold(f));
      let { best, ms } = await timing();
      if (await this.lostStep(seq)) {
        // A wait that gave up returns at once, and the flag it set ends every wait after it: the
        // times are void. Each candidate runs alone; those whose waits all held are timed again.
        const held: SequenceKernel[] = [];
        for (const k of kernels) {
          sequence(k)();
          if (!await this.lostStep(seq)) held.push(k);
        }
        seq.kernels = kernels = held;
        if (kernels.length === 0) return void (seq.use = false);
        ({ best, ms } = await timing());
        if (await this.lostStep(seq)) return void (seq.use = false);
      }
      seq.timed = new Map([['steps', ms[0]], ...kernels.map((k, i): [string, number] => [k.def.key, ms[i + 1]])]);
      seq.kernel = kernels[Math.max(0, best - 1)];
      seq.use = best > 0;
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      seq.use = false; // scratch larger than the device binds
    } finally {
      this.waited.delete(seq.waiting); // its flag was read here: the timing's runs were on scratch
      for (const b of scratch) b.buffer.destroy();
    }
  }

  // Whether a wait of the sequence's kernel gave up since its flag was last cleared, clearing it if so.
  private async lostStep(seq: Sequence): Promise<boolean> {
    const [flag] = await this.rec.readAll([flagRange(seq.waiting)]);
    const lost = flagSet(flag);
    if (lost) this.upload(slice(seq.ex, seq.waiting.word, 1), new Int32Array(1));
    return lost;
  }

  lstmStepBackward(act: Slice, c: Slice, cPrev: Slice, dh: Slice, dc: Slice, dpre: Slice, B: number, H: number): void {
    if (this.fuse('lstmBack', dh, B, H, [act, c, cPrev], [dc, dpre])) return;
    this.map(cells.lstmStepBackward, [this.f(act), this.f(c), this.f(cPrev), this.f(dh), this.f(dc), this.f(dpre)],
      [act.offset, c.offset, cPrev.offset, dh.offset, dc.offset, dpre.offset, B * H, H], B * H);
  }
  gruStep(xi: Slice, hh: Slice, hPrev: Slice, act: Slice, h: Slice, B: number, H: number): void {
    const bias = this.pending?.biases.length === 1 ? this.pending.biases[0] : null;
    if (bias && this.fuse('gru', hh, B, H, [bias, xi, hPrev], [act, h])) return;
    this.map(cells.gruStep, [this.f(xi), this.f(hh), this.f(hPrev), this.f(act), this.f(h)],
      [xi.offset, hh.offset, hPrev.offset, act.offset, h.offset, B * H, H], B * H);
  }
  gruStepBackward(act: Slice, hh: Slice, hPrev: Slice, dh: Slice, dxi: Slice, dhh: Slice, dhPrev: Slice,
    B: number, H: number): void {
    if (this.fuse('gruBack', dh, B, H, [act, hh, hPrev], [dxi, dhh, dhPrev])) return;
    this.map(cells.gruStepBackward, [this.f(act), this.f(hh), this.f(hPrev), this.f(dh), this.f(dxi), this.f(dhh), this.f(dhPrev)],
      [act.offset, hh.offset, hPrev.offset, dh.offset, dxi.offset, dhh.offset, dhPrev.offset, B * H, H], B * H);
  }
  tanhForward(pre: Slice, h: Slice, n: number): void {
    const p = this.pending;
    if (p && p.M * p.N === n && this.fuse('rnn', pre, p.M, p.N, [], [h])) return;
    this.map(cells.tanhForward, [this.f(pre), this.f(h)], [pre.offset, h.offset, n], n);
  }
  tanhBackward(h: Slice, dh: Slice, dpre: Slice, n: number): void {
    const p = this.pending;
    if (p && p.M * p.N === n && this.fuse('rnnBack', dh, p.M, p.N, [h], [dpre])) return;
    this.map(cells.tanhBackward, [this.f(h), this.f(dh), this.f(dpre)], [h.offset, dh.offset, dpre.offset, n], n);
  }

  dropout(x: Slice, out: Slice, mask: Slice, p: number, seed: number, stream: number): void {
    // u < p for u = k/2²⁴ is k < ⌈p·2²⁴⌉ (exact in f64), so the GPU compares integers.
    this.map(vec.dropout, [this.f(x), this.f(out), this.f(mask)],
      [x.offset, out.offset, mask.offset, x.length, Math.ceil(p * 16777216), 1 / (1 - p), seed >>> 0, stream >>> 0], x.length);
  }
  mul(x: Slice, m: Slice): void {
    this.map(vec.mul, [this.f(x), this.f(m)], [x.offset, m.offset, x.length], x.length);
  }

  softmaxXent(logits: Slice, targets: Slice, losses: Slice, dlogits: Slice, N: number, V: number, gradScale: number): void {
    if (N === 0) return;
    this.run(loss.softmaxXent, [this.f(logits), this.i(targets), this.f(losses), this.f(dlogits)],
      [logits.offset, targets.offset, losses.offset, dlogits.offset, N, V, gradScale], Math.min(N, 65535));
  }
  softmax(logits: Slice, probs: Slice, N: number, V: number, temperature: number): void {
    if (N === 0) return;
    this.run(loss.softmax, [this.f(logits), this.f(probs)], [logits.offset, probs.offset, N, V, 1 / temperature], Math.min(N, 65535));
  }
  drawRows(logits: Slice, ids: Slice, drawn: Slice, N: number, V: number, o: DrawOptions): void {
    if (N === 0) return;
    this.run(loss.drawRows, [this.f(logits), this.i(ids), this.f(drawn)],
      [logits.offset, ids.offset, drawn.offset, N, V, 1 / o.temperature, o.topK, o.argmax ? 1 : 0, o.seed >>> 0, o.stream >>> 0, o.index >>> 0],
      Math.min(N, 65535));
  }

  async sampleLoop(net: SamplerNet): Promise<SampleLoop | null> {
    const { H, V, E } = net;
    const tensors = [...net.layers.flatMap((l) => [l.wih, l.whh, l.bih, l.bhh]), net.dec, net.decB, ...(net.enc ? [net.enc] : [])];
    const params = this.f(net.dec);
    if (tensors.some((t) => this.f(t) !== params) || net.layers.length === 0) return null;
    const shape: SamplerShape = {
      cell: net.cell, L: net.layers.length, H, V, E,
      wih: net.layers.map((l) => l.wih.offset), whh: net.layers.map((l) => l.whh.offset),
      bih: net.layers.map((l) => l.bih.offset), bhh: net.layers.map((l) => l.bhh.offset),
      dec: net.dec.offset, decB: net.decB.offset, enc: net.enc?.offset ?? 0,
    };
    if (samplerSharedBytes(shape) > this.device.limits.maxComputeWorkgroupStorageSize) return null;
    const def = this.defOf(samplerKey(shape), () => samplerDef(shape));
    const h = this.f(net.h), c = net.c ? this.f(net.c) : h;
    let made = this.samplers.get(def.key);
    if (!made) this.samplers.set(def.key, (made = this.makeSampler(def, shape, [params, h, c])));
    const sampler = await made;
    if (!sampler) return null;
    return (first, last, drawn, n, o) => {
      const ids = this.i(first);
      if (this.i(last) !== ids) throw new Error('sampleLoop: first and last must be in one buffer');
      for (let s0 = 0; s0 < n; s0 += this.samplerSteps) {
        const m = Math.min(this.samplerSteps, n - s0);
        this.run(sampler.def, [params, h, c, ids, this.f(drawn), sampler.ex],
          [net.h.offset, net.c?.offset ?? 0, s0 === 0 ? first.offset : last.offset, last.offset, drawn.offset + s0, 0, m,
            sampler.step, 1 / o.temperature, o.topK, o.argmax ? 1 : 0, o.seed >>> 0, o.stream >>> 0, (o.index + s0) >>> 0, this.spin], sampler.groups);
        sampler.step = (sampler.step + m) >>> 0;
      }
      this.waited.add(sampler.waiting);
    };
  }

  // The most workgroups (within samplerGroups, and at least enough that each holds at most
  // SAMPLER_UNITS units) that all own units and that the probe finds resident at once; null if
  // none. The probe binds buffers as sampling will, so it runs the very pipeline sampling runs.
  private async makeSampler(def: KernelDef, s: SamplerShape, [params, h, c]: GpuBuf[]): Promise<Sampler | null> {
    const ex = this.allocate(exchangeWords(s), true), flag = slice(this.allocate(1, false));
    const least = Math.ceil(s.H / SAMPLER_UNITS), tries: number[] = [];
    for (let want = Math.min(this.samplerGroups, s.H); want > least; want = Math.floor(want / 2)) tries.push(want);
    if (this.samplerGroups >= least) tries.push(least);
    for (const want of tries) {
      const groups = Math.ceil(s.H / Math.ceil(s.H / want)); // every workgroup owns units
      if (groups > 1) {
        const probe = (): void => this.run(def, [params, h, c, this.scratchFor('probe-ids', 1, true), this.f(flag), ex],
          [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, this.spin], groups);
        if (!await this.allResident(slice(ex, exchangeWords(s) - 1, 1), flag, probe)) continue;
      }
      return { def, groups, ex, step: 0, waiting: { what: 'the sampling loop', ex, word: samplerFailWord(s), lost: () => { this.samplers.set(def.key, Promise.resolve(null)); } } };
    }
    return null;
  }

  /**
   * Whether the workgroups of a kernel that wait on one another are all resident at once: `probe`
   * records its probe (kernels/exchange.ts probeWgsl), which counts arrivals in `arrival`, zeroed
   * first, and answers 1 in `answer` if all came. A probe the device refuses (its pipeline, its
   * workgroup size) answers no, as tuning leaves out a plan it refuses.
   */
  private async allResident(arrival: Slice, answer: Slice, probe: () => void): Promise<boolean> {
    this.upload(arrival, new Int32Array(1));
    return await this.accepted(probe) && (await this.download(answer))[0] === 1;
  }

  rmsprop(p: Slice, g: Slice, cache: Slice, lr: number, decay: number, eps: number): void {
    this.map(optim.rmsprop, [this.f(p), this.f(g), this.f(cache)], [p.offset, g.offset, cache.offset, p.length, lr, decay, eps], p.length);
  }
  adam(p: Slice, g: Slice, m: Slice, v: Slice, lr: number, beta1: number, beta2: number, eps: number, step: number): void {
    const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
    this.map(optim.adam, [this.f(p), this.f(g), this.f(m), this.f(v)],
      [p.offset, g.offset, m.offset, v.offset, p.length, lr, beta1, beta2, eps, c1, c2], p.length);
  }
  adagrad(p: Slice, g: Slice, cache: Slice, lr: number, eps: number): void {
    this.map(optim.adagrad, [this.f(p), this.f(g), this.f(cache)], [p.offset, g.offset, cache.offset, p.length, lr, eps], p.length);
  }

  sumSquares(x: Slice, out: Slice): void {
    this.run(vec.sumSquaresPartial, [this.f(x), this.partials], [x.offset, x.length], vec.SQ_PARTS);
    this.run(vec.sumSquaresFinal, [this.partials, this.f(out)], [out.offset], 1);
  }
  clipByNorm(x: Slice, sumsq: Slice, maxNorm: number): void {
    this.map(vec.clipByNorm, [this.f(x), this.f(sumsq)], [x.offset, sumsq.offset, x.length, maxNorm], x.length);
  }
  clamp(x: Slice, lo: number, hi: number): void {
    this.map(vec.clamp, [this.f(x)], [x.offset, x.length, lo, hi], x.length);
  }
  scale(x: Slice, alpha: number): void {
    this.map(vec.scale, [this.f(x)], [x.offset, x.length, alpha], x.length);
  }
  fill(x: Slice, value: number): void {
    const b = this.buf(x);
    if (!b.int && Object.is(value, 0)) {
      this.settle();
      this.zeros = x;
      return;
    }
    this.map(b.int ? vec.fillInt : vec.fill, [b], [x.offset, x.length, value], x.length);
  }
  copy(dst: Slice, src: Slice): void {
    if (src.length !== dst.length) throw new RangeError(`copy of ${src.length} into ${dst.length}`);
    const d = this.buf(dst), s = this.buf(src);
    if (d.int !== s.int) throw new TypeError('copy between an i32 and an f32 buffer');
    const n = src.length;
    if (n === 0) return;
    if (overlaps(dst, src)) {
      if (src.offset === dst.offset) return;
      // Overlapping ranges of one buffer: through scratch, as memmove.
      const tmp = this.scratchFor(d.int ? 'copy-i32' : 'copy-f32', n, d.int);
      this.queueCopy({ dst: tmp, src: s, dOff: 0, sOff: src.offset, n });
      this.queueCopy({ dst: d, src: tmp, dOff: dst.offset, sOff: 0, n });
      return;
    }
    this.queueCopy({ dst: d, src: s, dOff: dst.offset, sOff: src.offset, n });
  }

  // Joins the pending copies when it neither reads nor writes what they write nor writes
  // what they read, so that running them at once is running them in order.
  private queueCopy(c: PendingCopy): void {
    const dst = { buf: c.dst, offset: c.dOff, length: c.n }, src = { buf: c.src, offset: c.sOff, length: c.n };
    const clash = this.copies.some((q) => {
      const qd = { buf: q.dst, offset: q.dOff, length: q.n }, qs = { buf: q.src, offset: q.sOff, length: q.n };
      return overlaps(src, qd) || overlaps(dst, qd) || overlaps(dst, qs);
    });
    const full = this.copies.length === vec.MAX_COPIES || (this.copies.length > 0 && this.copies[0].dst.int !== c.dst.int);
    if (this.pending || this.zeros || this.gather || clash || full) this.settle();
    this.copies.push(c);
  }

  /**
   * Runs the pending product and this step as one dispatch when the product is the step's
   * recurrent product: its output `into` is the step's input, of B rows and G·H (forward) or
   * H (backward) columns, and nothing the step writes overlaps what the product reads (other
   * workgroups read all of it while this one writes). Returns whether it did.
   */
  private fuse(kind: StepKind, into: Slice, B: number, H: number, ins: Slice[], outs: Slice[]): boolean {
    const p = this.pending;
    const back = kind.endsWith('Back'), K = stepK(kind, H), N = back ? H : cellGatesOf(kind) * H;
    if (!p || !same(p.C, into) || p.transA || p.transB === back || p.M !== B || p.N !== N || p.K !== K ||
      p.biases.length !== (kind === 'gru' ? 1 : 0)) return false;
    const product = sub(p.C, p.M * p.N);
    for (const w of [product, ...outs]) if (overlaps(w, p.A) || overlaps(w, p.B)) return false;
    if (new Set([p.A, p.B, p.C, ...ins, ...outs].map((s) => this.f(s))).size > this.maxStorage) return false;
    this.pending = null;
    const call: StepCall = { kind, B, H, K: p.K, alpha: p.alpha, A: p.A, W: p.B, beta: p.beta, C: p.C, ins, outs };
    this.recordStep(call, this.stepPlan(kind, B, H));
    if (this.tune && B * N * K >= Math.min(TUNE_STEP_MACS, this.slicing.stepMacs)) {
      // Timed on a step of its own, whose written buffers are scratch.
      this.noteShape(this.tunedSteps, stepShape(kind, B, H), () => stepPlans(kind, B, H, this.occupancy, this.slicing, this.tileLimits),
        [product, ...outs], (s) => {
          const timed = { ...call, C: s(product), outs: outs.map(s), reads: this.stepReads(call) };
          return (plan) => this.recordStep(timed, plan);
        });
    }
    return true;
  }

  private recordStep(call: StepCall, plan: StepPlan): void {
    const { kind, B, H, K, alpha, A, W, beta, C, ins, outs } = call;
    const { tile: t, slices, kc } = plan, N = kind.endsWith('Back') ? H : cellGatesOf(kind) * H;
    const bufs = [A, W, C, ...ins, ...outs].map((s) => this.f(s)), extra = [...ins, ...outs].map((s) => s.offset);
    const reads = plan.vec === true ? call.reads ?? this.stepReads(call) : NO_VEC, v = vecKey(reads);
    if (slices === 1) {
      const def = this.defOf(`step${kind}${stepTileName(t)}${v}`, () => stepDef(kind, t, reads));
      this.run(def, bufs, [A.offset, W.offset, C.offset, B, H, K, alpha, beta, ...extra], Math.ceil(H / t.BU), Math.ceil(B / t.BM));
      return;
    }
    const parts = this.scratchFor('slices', slices * B * N, false);
    const def = this.defOf(`stepSlice${kind}${stepTileName(t)}${v}`, () => stepSliceDef(kind, t, reads));
    this.run(def, [bufs[0], bufs[1], parts], [A.offset, W.offset, 0, B, H, K, kc], Math.ceil(H / t.BU), Math.ceil(B / t.BM), slices);
    const finish = this.defOf(`stepFinish${kind}`, () => stepFinishDef(kind));
    this.map(finish, [parts, ...bufs.slice(2)], [0, slices, C.offset, B, H, alpha, beta, ...extra], B * H);
  }

  /**
   * A shape to time at the next read-back (tune option), unless already tuned or noted: its
   * `plans` timed by timePlans, the fastest kept in `tuned` under `key`.
   */
  private noteShape<P extends StepPlan | GemmPlan>(tuned: Map<string, P>, key: string, plans: () => P[], written: Slice[],
    record: (s: (w: Slice) => Slice) => (plan: P) => void): void {
    if (tuned.has(key) || this.untuned.has(key)) return;
    this.untuned.set(key, async () => { tuned.set(key, await this.timePlans(plans(), written, record)); });
  }

  /** Times the shapes met since the last read-back (tune option) and keeps each one's fastest plan. */
  private async tuneShapes(): Promise<void> {
    const timings = [...this.untuned.values()];
    this.untuned.clear();
    for (const time of timings) await time();
  }

  /**
   * The fastest of `plans` (the first is the rule's), each run by `record(s)(plan)`, where s
   * moves each of the `written` slices (those a call writes) to scratch: timing a call changes
   * nothing the model holds. A plan the device refuses to run is left out; if it refuses the
   * scratch, or every plan, the rule's plan stands.
   */
  private async timePlans<P extends StepPlan | GemmPlan>(plans: P[], written: Slice[], record: (s: (w: Slice) => Slice) => (plan: P) => void): Promise<P> {
    const spans = new Map<Buf, { lo: number; hi: number; scratch?: GpuBuf }>();
    try {
      for (const w of written) {
        const s = spans.get(w.buf) ?? { lo: w.offset, hi: w.offset + w.length };
        spans.set(w.buf, { lo: Math.min(s.lo, w.offset), hi: Math.max(s.hi, w.offset + w.length) });
      }
      if (!await this.accepted(() => { for (const s of spans.values()) s.scratch = this.allocate(s.hi - s.lo, false); })) return plans[0];
      const run = record((w) => {
        const s = spans.get(w.buf)!;
        return { buf: s.scratch!, offset: w.offset - s.lo, length: w.length };
      });
      // Every plan's pipelines at once; one the device refuses is refused again, plan by plan, below.
      await this.accepted(() => this.rec.compile(() => { for (const plan of plans) run(plan); }));
      const runs: P[] = [];
      for (const plan of plans) if (await this.accepted(() => run(plan))) runs.push(plan);
      if (runs.length === 0) return plans[0];
      return runs[(await fastest(runs.map((plan) => () => run(plan)), () => this.flush(), undefined, (f) => this.rec.hold(f))).best];
    } catch (err) {
      if (err instanceof UserError) return plans[0]; // scratch larger than the device binds
      throw err;
    } finally {
      for (const s of spans.values()) s.scratch?.buffer.destroy();
    }
  }

  /** Runs f and waits for the GPU: whether the device took it without a validation or out-of-memory error. */
  private async accepted(f: () => void | Promise<void>): Promise<boolean> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let thrown: unknown = null;
    try {
      await f();
      await this.flush();
    } catch (err) {
      thrown = err;
    }
    const errors = await Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    if (thrown !== null) throw thrown;
    return errors.every((e) => e === null);
  }

  // Their own methods so that a profiler can replay a step or product under each plan.
  private stepPlan(kind: StepKind, B: number, H: number): StepPlan {
    // (No key is built while nothing is tuned: this runs at every time step.)
    return (this.tunedSteps.size > 0 && this.tunedSteps.get(stepShape(kind, B, H))) ||
      pickStep(kind, B, H, this.occupancy, this.slicing, this.tileLimits);
  }
  private gemmPlan(transA: boolean, transB: boolean, M: number, N: number, K: number): GemmPlan {
    return (this.tunedGemms.size > 0 && this.tunedGemms.get(gemmShape(transA, transB, M, N, K))) ||
      pickGemm(M, N, K, this.occupancy, this.slicing, this.tileLimits);
  }

  /**
   * Which of a product's two operands `a`, `b` to read in vectors of 4: those whose layout
   * allows it (`ok`) and whose buffer no `other` parameter of the call binds. A vector read needs
   * a binding of its own: WebGPU binds a buffer that a dispatch writes only once, and a second
   * binding could pass the device's count. Operands in one buffer share theirs.
   */
  private vecReads(ok: VecReads, a: Slice, b: Slice, others: Slice[]): VecReads {
    const free = (s: Slice): boolean => !others.some((o) => o.buf === s.buf);
    if (a.buf === b.buf) return ok[0] && ok[1] && free(a) ? [true, true] : NO_VEC;
    return [ok[0] && free(a), ok[1] && free(b)];
  }
  private gemmReads({ transA, transB, M, N, K, A, B, C, biases }: PendingGemm): VecReads {
    return this.vecReads(gemmVec(transA, transB, M, N, K, A.offset, B.offset), A, B, [C, ...biases]);
  }
  private stepReads({ kind, H, A, W, C, ins, outs }: StepCall): VecReads {
    return this.vecReads(stepVec(kind, H, A.offset, W.offset), A, W, [C, ...ins, ...outs]);
  }

  private defOf(key: string, make: () => KernelDef): KernelDef {
    let def = this.defs.get(key);
    if (!def) this.defs.set(key, (def = make()));
    return def;
  }

  private run(def: KernelDef, bufs: GpuBuf[], args: number[], x: number, y = 1, z = 1): void {
    this.settle();
    this.rec.dispatch(def, bufs.map((b) => b.buffer), args, x, y, z);
  }

  // An elementwise kernel over n items (grid-stride loop inside).
  private map(def: KernelDef, bufs: GpuBuf[], args: number[], n: number): void {
    if (n > 0) this.run(def, bufs, args, groupsFor(n));
  }

  private allocate(length: number, int: boolean): GpuBuf {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`cannot allocate ${length} elements`);
    const size = Math.max(16, Math.ceil((4 * length) / 16) * 16);
    if (size > this.maxBinding) {
      throw new UserError(`a buffer of ${Math.ceil(size / 2 ** 20)} MiB is needed, but the GPU (${this.label}) binds at most ${Math.floor(this.maxBinding / 2 ** 20)} MiB (use a smaller model or batch)`);
    }
    // New buffers read as zeros (WebGPU guarantees it).
    const buffer = this.device.createBuffer({ size, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
    return new GpuBuf(this, buffer, length, int);
  }

  private scratchFor(name: string, n: number, int: boolean): GpuBuf {
    let b = this.scratch.get(name);
    if (!b || b.length < n) this.scratch.set(name, (b = this.allocate(n, int)));
    return b;
  }

  private buf(s: Slice): GpuBuf {
    const b = s.buf;
    if (!(b instanceof GpuBuf) || b.owner !== this) throw new TypeError('buffer does not belong to this webgpu backend');
    return b;
  }
  private f(s: Slice): GpuBuf {
    const b = this.buf(s);
    if (b.int) throw new TypeError('expected an f32 buffer');
    return b;
  }
  private i(s: Slice): GpuBuf {
    const b = this.buf(s);
    if (!b.int) throw new TypeError('expected an i32 buffer');
    return b;
  }
}

function sub(s: Slice, length: number): Slice { return { buf: s.buf, offset: s.offset, length }; }
function same(a: Slice, b: Slice): boolean { return a.buf === b.buf && a.offset === b.offset; }
function overlaps(a: Slice, b: Slice): boolean {
  return a.buf === b.buf && a.offset < b.offset + b.length && b.offset < a.offset + a.length;
}
