/// <reference types="@webgpu/types" />
// Starts the engine a page or a worker runs its model on: WebGPU through navigator.gpu, the
// wasm kernels on Web Workers, or the plain js backend where wasm cannot start either.
import {
  JsBackend, WebGPUBackend, adapterInfo, backendOptions, isSoftwareAdapter, loadBrowserWasmBackend, requestBackendDevice, type Backend,
} from '../../src/index.js';
import { adapterLabel, chooseEngine, type EngineRequest, type GpuOffer } from './engine-choice.js';

export interface RunningEngine {
  backend: Backend;
  /** What it runs on, as the status line says it: "2 threads", or the GPU's name. */
  where: string;
  /** Why a slower engine runs than the one that was chosen; null when none. */
  note: string | null;
  /** Frees its threads or its GPU device; the backend is unusable afterwards. */
  dispose(): void;
}

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const threadsText = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`;

async function findAdapter(): Promise<{ offer: GpuOffer; adapter: GPUAdapter | null }> {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { offer: { kind: 'no-webgpu' }, adapter: null };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { offer: { kind: 'no-adapter', why: messageOf(err) }, adapter: null };
  }
  if (!adapter) return { offer: { kind: 'no-adapter' }, adapter: null };
  return { offer: { kind: 'adapter', name: adapterLabel(adapterInfo(adapter)), software: isSoftwareAdapter(adapter) }, adapter };
}

async function startWebGPU(adapter: GPUAdapter, name: string): Promise<RunningEngine> {
  let device: GPUDevice;
  try {
    device = await requestBackendDevice(adapter);
  } catch (err) {
    throw new Error(`the WebGPU adapter (${name}) gave no device: ${messageOf(err)}`);
  }
  try {
    const backend = new WebGPUBackend(device, { ...backendOptions(adapter), label: name });
    return { backend, where: name, note: null, dispose: () => device.destroy() };
  } catch (err) {
    device.destroy();
    throw err;
  }
}

/** The wasm engine on every core it may use, or the js one with a note saying why. */
async function startWasm(): Promise<RunningEngine> {
  try {
    const wasm = await loadBrowserWasmBackend();
    return { backend: wasm, where: threadsText(wasm.threads), note: null, dispose: () => wasm.dispose() };
  } catch (err) {
    return { backend: new JsBackend(), where: threadsText(1), dispose: () => {},
      note: `the plain JavaScript engine runs instead, which is slower: ${messageOf(err)}` };
  }
}

/**
 * The engine `request` names, on this browser: rejects with a message fit to show the user only
 * when webgpu was asked for by name and cannot run; `auto` falls back to wasm whatever happens.
 */
export async function startEngine(request: EngineRequest): Promise<RunningEngine> {
  if (request === 'wasm') return startWasm(); // without asking for an adapter, which takes time
  const { offer, adapter } = await findAdapter();
  const choice = chooseEngine(request, offer);
  if (choice.engine === 'none') throw new Error(choice.error);
  if (choice.engine === 'wasm' || !adapter) return startWasm();
  try {
    return await startWebGPU(adapter, choice.adapter);
  } catch (err) {
    if (request === 'webgpu') throw err;
    const wasm = await startWasm();
    return { ...wasm, note: wasm.note ?? `WebGPU did not start, so the wasm engine runs: ${messageOf(err)}` };
  }
}
