/// <reference types="@webgpu/types" />
// Records kernels into command buffers and submits them in order. Backend methods return
// nothing, so work is recorded as it is asked for and submitted only when a result is read
// back (download, flush), when a recording has grown long (so the GPU starts while the host
// records the rest), or when a ring below fills up. Nothing waits inside a recording.
//
// Each dispatch's arguments are one slot of an argument ring, bound as a uniform buffer with
// a dynamic offset: slots are filled on the host while recording and written to the GPU once,
// just before the submit. Uploads made while work is recorded go through a staging ring and
// a recorded copy, so they land in program order.
import { bindingOf, signatureOf, wgslOf, type Binding, type KernelDef } from './program.js';
import { COMMON_WGSL } from './kernels/common.js';
import { UserError } from '../../errors.js';

// GPUBufferUsage, GPUShaderStage and GPUMapMode values, spelled out: the engine must not
// depend on globals a host may not have installed.
export const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const COMPUTE_STAGE = 0x4;
const MAP_READ_MODE = 0x1;

const MAX_ARGS = 16; // scalars per dispatch
const ARG_SLOTS = 4096; // dispatches per submit at most
const UPLOAD_BYTES = 4 << 20; // staged uploads per submit
const DEFAULT_SUBMIT_EVERY = 128; // dispatches: the GPU starts on them while the host records more
// After a wait the GPU has nothing to do: the first recording is submitted after this many
// dispatches, each next one after twice as many, up to submitEvery, so that the GPU starts
// within a few dispatches' recording instead of submitEvery's.
const FIRST_SUBMIT = 4;
const RECENT = 8; // bindings remembered per kernel

// The first error a device reports, shared by every recorder on it: such errors belong to the
// device, and one listener per device (not per backend) keeps tests that make many backends on
// one device from piling listeners up.
interface DeviceHealth { failure: Error | null }
const healths = new WeakMap<GPUDevice, DeviceHealth>();

function healthOf(device: GPUDevice): DeviceHealth {
  const known = healths.get(device);
  if (known) return known;
  const h: DeviceHealth = { failure: null };
  device.addEventListener('uncapturederror', (e) => {
    const error = (e as GPUUncapturedErrorEvent).error;
    // Buffer sizes follow from the model and batch flags: running out is the user's to fix.
    h.failure ??= error.constructor.name === 'GPUOutOfMemoryError'
      ? new UserError(`the GPU ran out of memory (${error.message.split('\n')[0]}): use a smaller model or batch`)
      : new Error(`WebGPU: ${error.message}`);
  });
  void device.lost.then((info) => { h.failure ??= new Error(`the GPU device was lost: ${info.message || info.reason}`); });
  healths.set(device, h);
  return h;
}

interface Bound { bufs: GPUBuffer[]; pipeline: GPUComputePipeline; group: GPUBindGroup }

export interface RecorderStats {
  submits: number;
  dispatches: number;
  passes: number;
}

export class Recorder {
  readonly stats: RecorderStats = { submits: 0, dispatches: 0, passes: 0 };
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0; // dispatches in the open recording
  private readonly firstSubmit: number;
  private submitAt: number; // pending dispatches that submit the recording
  private holding = false; // see hold()
  private compiling: { def: KernelDef; bufs: readonly GPUBuffer[] }[] | null = null; // see compile()
  private readonly argStride: number;
  private readonly argsHost: ArrayBuffer;
  private readonly argsU32: Uint32Array;
  private readonly argsI32: Int32Array;
  private readonly argsF32: Float32Array;
  private readonly argsGpu: GPUBuffer;
  private argSlot = 0;
  private readonly uploadGpu: GPUBuffer;
  private uploadUsed = 0;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly bound = new WeakMap<KernelDef, Bound[]>(); // the last RECENT bindings of each kernel
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly readbacks: GPUBuffer[] = [];
  private current: GPUComputePipeline | null = null;
  private readonly health: DeviceHealth;

  constructor(readonly device: GPUDevice, readonly submitEvery = DEFAULT_SUBMIT_EVERY) {
    this.firstSubmit = this.submitAt = Math.min(FIRST_SUBMIT, submitEvery);
    const align = device.limits.minUniformBufferOffsetAlignment;
    this.argStride = Math.ceil((MAX_ARGS * 4) / align) * align;
    this.argsHost = new ArrayBuffer(this.argStride * ARG_SLOTS);
    this.argsU32 = new Uint32Array(this.argsHost);
    this.argsI32 = new Int32Array(this.argsHost);
    this.argsF32 = new Float32Array(this.argsHost);
    this.argsGpu = device.createBuffer({ label: 'charrnn args', size: this.argsHost.byteLength, usage: Usage.UNIFORM | Usage.COPY_DST });
    this.uploadGpu = device.createBuffer({ label: 'charrnn uploads', size: UPLOAD_BYTES, usage: Usage.COPY_SRC | Usage.COPY_DST });
    this.health = healthOf(device);
  }

  /** Records one dispatch of `def` over `bufs` (in the def's order) with scalar `args`. */
  dispatch(def: KernelDef, bufs: readonly GPUBuffer[], args: readonly number[], x: number, y = 1, z = 1): void {
    if (this.compiling) {
      this.compiling.push({ def, bufs });
      return;
    }
    if (this.argSlot === ARG_SLOTS) this.submit();
    const { pipeline, group } = this.recent(def, bufs) ?? this.bind(def, bufs);
    const base = (this.argSlot * this.argStride) >> 2;
    def.args.forEach(([, type], k) => {
      const v = args[k];
      if (type === 'f32') this.argsF32[base + k] = v;
      else if (type === 'i32') this.argsI32[base + k] = v;
      else this.argsU32[base + k] = v;
    });
    const pass = this.openPass();
    if (pipeline !== this.current) {
      pass.setPipeline(pipeline);
      this.current = pipeline;
    }
    pass.setBindGroup(0, group, [this.argSlot * this.argStride]);
    pass.dispatchWorkgroups(x, y, z);
    this.argSlot++;
    this.stats.dispatches++;
    if (++this.pending >= this.submitAt && !this.holding) {
      this.submit();
      this.submitAt = Math.min(2 * this.submitAt, this.submitEvery);
    }
  }

  /**
   * Records f's dispatches without the submits every submitEvery dispatches, so that all of
   * them reach the GPU at the next submit: a timing of that submit is of the GPU's work alone,
   * not of the host's recording it.
   */
  hold(f: () => void): void {
    this.holding = true;
    try {
      f();
    } finally {
      this.holding = false;
    }
  }

  /**
   * Makes the pipelines of the dispatches f would record, all at once and off the host's
   * thread where the device can (createComputePipelineAsync), recording nothing: a later
   * dispatch finds them made. One the device refuses is left to be made (and refused) then.
   */
  async compile(f: () => void): Promise<void> {
    const calls: { def: KernelDef; bufs: readonly GPUBuffer[] }[] = [];
    this.compiling = calls;
    try {
      f();
    } finally {
      this.compiling = null;
    }
    const made = new Map<string, Promise<void>>();
    for (const { def, bufs } of calls) {
      const { key, make } = this.pipelineOf(def, bindingOf(def, bufs).binding);
      if (this.pipelines.has(key) || made.has(key)) continue;
      made.set(key, this.device.createComputePipelineAsync(make()).then((p) => { this.pipelines.set(key, p); }, () => undefined));
    }
    await Promise.all(made.values());
  }

  // A kernel is mostly called again on the buffers of its last few calls (offsets travel as
  // arguments): those bindings are found by identity, without building the keys below, which
  // would otherwise cost about as much host time per dispatch as Dawn's own calls.
  private recent(def: KernelDef, bufs: readonly GPUBuffer[]): Bound | undefined {
    const list = this.bound.get(def);
    if (!list) return undefined;
    search: for (let i = 0; i < list.length; i++) {
      const b = list[i];
      if (b.bufs.length !== bufs.length) continue;
      for (let k = 0; k < bufs.length; k++) if (b.bufs[k] !== bufs[k]) continue search;
      return b;
    }
    return undefined;
  }

  // The pipeline of def over bufs: its cache key, how to make it, and its binding's signature.
  private pipelineOf(def: KernelDef, binding: Binding): { key: string; sig: string; make: () => GPUComputePipelineDescriptor } {
    const sig = signatureOf(binding);
    const key = `${def.key}|${binding.slotOf.join(',')}|${sig}|${binding.int.map(Number).join('')}`;
    return {
      key,
      sig,
      make: () => {
        if (def.args.length > MAX_ARGS) throw new Error(`${def.key}: ${def.args.length} arguments, at most ${MAX_ARGS}`);
        return {
          label: key,
          layout: this.layoutOf(sig).pipeline,
          compute: { module: this.device.createShaderModule({ label: def.key, code: wgslOf(def, binding, COMMON_WGSL) }), entryPoint: 'main' },
        };
      },
    };
  }

  // The pipeline and bind group of a call: made once per buffer-sharing pattern and per set of buffers.
  private bind(def: KernelDef, bufs: readonly GPUBuffer[]): Bound {
    const { binding, slots } = bindingOf(def, bufs);
    const { key: pipeKey, sig, make } = this.pipelineOf(def, binding);
    let pipeline = this.pipelines.get(pipeKey);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline(make());
      this.pipelines.set(pipeKey, pipeline);
    }
    let groupKey = sig;
    for (const b of slots) groupKey += `,${this.idOf(b)}`;
    let group = this.groups.get(groupKey);
    if (!group) {
      group = this.device.createBindGroup({
        layout: this.layoutOf(sig).group,
        entries: [{ binding: 0, resource: { buffer: this.argsGpu, offset: 0, size: MAX_ARGS * 4 } },
          ...slots.map((buffer, s) => ({ binding: s + 1, resource: { buffer } }))],
      });
      this.groups.set(groupKey, group);
    }
    const b: Bound = { bufs: [...bufs], pipeline, group };
    let list = this.bound.get(def);
    if (!list) this.bound.set(def, (list = []));
    list.unshift(b);
    if (list.length > RECENT) list.pop();
    return b;
  }

  /** Writes data at byteOffset of dst, after everything recorded so far. */
  upload(dst: GPUBuffer, byteOffset: number, data: Float32Array | Int32Array): void {
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (this.encoder && (bytes > UPLOAD_BYTES || this.uploadUsed + bytes > UPLOAD_BYTES)) this.submit();
    if (!this.encoder) {
      this.device.queue.writeBuffer(dst, byteOffset, data.buffer, data.byteOffset, bytes);
      return;
    }
    this.device.queue.writeBuffer(this.uploadGpu, this.uploadUsed, data.buffer, data.byteOffset, bytes);
    this.closePass().copyBufferToBuffer(this.uploadGpu, this.uploadUsed, dst, byteOffset, bytes);
    this.uploadUsed += bytes;
  }

  /** The bytes [byteOffset, +bytes) of src once everything recorded so far has run. */
  async read(src: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    return (await this.readAll([{ src, byteOffset, bytes }]))[0];
  }

  /** Several ranges, as read() reads one, copied into one read-back buffer: one map, one wait. */
  async readAll(ranges: readonly { src: GPUBuffer; byteOffset: number; bytes: number }[]): Promise<ArrayBuffer[]> {
    const total = ranges.reduce((n, r) => n + r.bytes, 0);
    if (total === 0) return ranges.map(() => new ArrayBuffer(0));
    const rb = this.takeReadback(total), encoder = this.closePass();
    let at = 0;
    for (const r of ranges) {
      if (r.bytes > 0) encoder.copyBufferToBuffer(r.src, r.byteOffset, rb, at, r.bytes);
      at += r.bytes;
    }
    this.submitBeforeWait();
    try {
      await rb.mapAsync(MAP_READ_MODE, 0, total);
    } catch (err) {
      this.check();
      throw err;
    }
    const mapped = rb.getMappedRange(0, total);
    at = 0;
    const out = ranges.map((r) => mapped.slice(at, (at += r.bytes)));
    rb.unmap();
    this.readbacks.push(rb);
    this.check();
    return out;
  }

  /** Waits until everything recorded so far has run. */
  async done(): Promise<void> {
    this.submitBeforeWait();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  private submitBeforeWait(): void {
    this.submit();
    this.submitAt = this.firstSubmit;
  }

  /** Sends the open recording to the GPU (without waiting for it). */
  submit(): void {
    if (!this.encoder) return;
    this.closePass();
    if (this.argSlot > 0) this.device.queue.writeBuffer(this.argsGpu, 0, this.argsHost, 0, this.argSlot * this.argStride);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.argSlot = 0;
    this.uploadUsed = 0;
    this.pending = 0;
    this.stats.submits++;
  }

  /** Throws the first error the device reported, if any. */
  check(): void {
    if (this.health.failure) throw this.health.failure;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
      this.current = null;
      this.stats.passes++;
    }
    return this.pass;
  }

  private closePass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private layoutOf(sig: string): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(sig);
    if (!l) {
      const group = this.device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'uniform', hasDynamicOffset: true } },
          ...[...sig].map((w, s) => ({ binding: s + 1, visibility: COMPUTE_STAGE, buffer: { type: w === 'w' ? 'storage' as const : 'read-only-storage' as const } })),
        ],
      });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.layouts.set(sig, l);
    }
    return l;
  }

  private idOf(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) this.ids.set(b, (id = this.nextId++));
    return id;
  }

  private takeReadback(bytes: number): GPUBuffer {
    let best = -1;
    for (let i = 0; i < this.readbacks.length; i++) {
      const s = this.readbacks[i].size;
      if (s >= bytes && (best < 0 || s < this.readbacks[best].size)) best = i;
    }
    if (best >= 0) return this.readbacks.splice(best, 1)[0];
    const size = Math.max(4096, 2 ** Math.ceil(Math.log2(bytes)));
    return this.device.createBuffer({ label: 'charrnn readback', size, usage: Usage.MAP_READ | Usage.COPY_DST });
  }
}
