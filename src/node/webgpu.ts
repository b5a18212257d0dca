/// <reference types="@webgpu/types" />
// The WebGPU backend in Node: Dawn from the optional npm package `webgpu`, loaded only when
// asked for, so that a user without it (or without a GPU) gets one clear line instead.
import { readdirSync } from 'node:fs';
import { UserError } from '../errors.js';
import { WebGPUBackend, backendOptions, isSoftwareAdapter, requestBackendDevice } from '../backend/webgpu/index.js';

interface Dawn {
  create(flags: string[]): GPU;
}

export interface LoadWebGPUOptions {
  /** Refuse CPU rasterisers (llvmpipe, SwiftShader): `auto` wants a real GPU or nothing. */
  hardwareOnly?: boolean;
  /** Loads the `webgpu` module; tests replace it. */
  importDawn?: () => Promise<unknown>;
  /** Dispatches recorded before a submit (see WebGPUBackendOptions). */
  submitEvery?: number;
  /** Whether to time plans on the GPU (see WebGPUBackendOptions; default: on a GPU, not on a CPU renderer). */
  tune?: boolean;
}

const INSTALL_HINT = 'run `npm install webgpu` to add it, or use --backend wasm';

// Dawn instances are kept for the life of the process: their devices depend on them.
const instances: GPU[] = [];

async function loadDawn(importDawn: () => Promise<unknown>): Promise<Dawn> {
  let mod: unknown;
  try {
    mod = await importDawn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && /'webgpu'|webgpu\/|dawn/.test(e.message)) {
      throw new UserError(`the webgpu backend needs the optional package "webgpu" (Dawn), which is not installed: ${INSTALL_HINT}`);
    }
    throw new UserError(`the "webgpu" package failed to load: ${(e.message ?? String(err)).split('\n')[0]}`);
  }
  if (typeof mod !== 'object' || mod === null || !('create' in mod) || typeof mod.create !== 'function') {
    throw new UserError('the "webgpu" package has no create(): reinstall it with `npm install webgpu`');
  }
  return mod as Dawn;
}

async function tryAdapter(dawn: Dawn, flags: string[], opts: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  const gpu = dawn.create(flags);
  instances.push(gpu);
  try {
    return await gpu.requestAdapter(opts);
  } catch {
    return null;
  }
}

/**
 * Dawn's first choice (Vulkan, Metal or D3D12) first; failing that its OpenGL ES backend in
 * compatibility mode, which is how it reaches Mesa's CPU renderer on a machine with no GPU.
 */
async function findAdapter(dawn: Dawn, hardwareOnly: boolean): Promise<GPUAdapter | null> {
  const usable = (a: GPUAdapter | null): a is GPUAdapter => a !== null && !(hardwareOnly && isSoftwareAdapter(a));
  // Without a GPU device node the native backends can find nothing (and Dawn says so on stderr).
  if (mayHaveGpu()) {
    const native = await tryAdapter(dawn, [], { powerPreference: 'high-performance' });
    if (usable(native)) return native;
  }
  process.env.EGL_PLATFORM ??= 'surfaceless'; // no display needed for compute
  const gles = await tryAdapter(dawn, ['backend=opengles'], { featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  return usable(gles) ? gles : null;
}

/** A WebGPU backend on the best adapter Dawn finds; UserError when there is none. */
export async function loadWebGPUBackend(opts: LoadWebGPUOptions = {}): Promise<WebGPUBackend> {
  const dawn = await loadDawn(opts.importDawn ?? (() => import('webgpu')));
  const adapter = await findAdapter(dawn, opts.hardwareOnly === true);
  if (!adapter) {
    throw new UserError(opts.hardwareOnly
      ? 'no hardware GPU adapter found for the webgpu backend'
      : 'no WebGPU adapter found: this machine has no GPU Dawn can use (on Linux without one, install Mesa: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libgles2), or use --backend wasm');
  }
  const device = await requestBackendDevice(adapter);
  const own = backendOptions(adapter), tune = opts.tune ?? own.tune;
  // Untuned, the sequence kernel would run untimed: the steps' fixed plans run instead.
  return new WebGPUBackend(device, { ...own, submitEvery: opts.submitEvery, tune, persistent: own.persistent === true && tune });
}

/**
 * Whether a GPU may be present at all. On Linux a GPU shows up as a device node; without one,
 * `auto` does not load Dawn (which would only print warnings while finding nothing).
 */
export function mayHaveGpu(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, name: RegExp): boolean => {
    try {
      return readdirSync(dir).some((n) => name.test(n));
    } catch {
      return false;
    }
  };
  return has('/dev', /^nvidia\d+$/) || has('/dev/dri', /^renderD\d+$/);
}

/** The webgpu backend on a hardware GPU, or null (no package, no GPU): what `auto` tries first. */
export async function tryHardwareWebGPU(opts: Omit<LoadWebGPUOptions, 'hardwareOnly'> = {}): Promise<WebGPUBackend | null> {
  if (!mayHaveGpu()) return null;
  try {
    return await loadWebGPUBackend({ ...opts, hardwareOnly: true });
  } catch {
    return null; // whatever stops the GPU, the CPU backend still runs
  }
}
