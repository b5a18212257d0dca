/// <reference types="@webgpu/types" />
// From an adapter to a device this backend can use, in Node (Dawn) and in browsers alike.
import type { WebGPUBackendOptions } from './backend.js';

// The limits the kernels and the model's buffers press on: asked for at the adapter's maximum,
// since a device otherwise gets WebGPU's defaults (128 MiB bindings, 16 KiB of shared memory).
const LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage'] as const;

export async function requestBackendDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS) requiredLimits[k] = adapter.limits[k];
  return adapter.requestDevice({ label: 'charrnn', requiredLimits });
}

/** GPUAdapter.info, which older type packages lack (and older hosts leave undefined). */
export interface AdapterInfo { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean }
export const adapterInfo = (adapter: GPUAdapter): AdapterInfo =>
  (adapter as GPUAdapter & { info?: AdapterInfo }).info ?? { vendor: '', architecture: '', device: '', description: '' };

/** The adapter's name as its driver gives it. */
export function adapterName(adapter: GPUAdapter): string {
  const i = adapterInfo(adapter);
  const named = [i.device, i.description].map((s) => s.trim()).filter(Boolean);
  return named.length > 0 ? named.join(', ') : i.vendor.trim() || 'unnamed GPU';
}

/** Whether the adapter is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader, WARP) rather than a GPU. */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const i = adapterInfo(adapter);
  if (i.isFallbackAdapter) return true;
  const all = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`;
  return /llvmpipe|lavapipe|softpipe|swiftshader|basic render|\bwarp\b/i.test(all);
}

/**
 * Turns of their loops a thread's waits may take in all per dispatch on a CPU renderer
 * (WebGPUBackendOptions.spin): llvmpipe ends every loop of a kernel once their turns reach
 * 65,535 in all, so a wait gives up (and says so) with a quarter of them left for the kernel's
 * other loops.
 */
export const CPU_RENDERER_SPIN = 49_152;

/**
 * The backend's options for this adapter: its name; on a GPU, plans timed on it (tune), a
 * layer's forward and backward in a dispatch each where timed faster (persistent); on a CPU
 * renderer, sampling's loop in one workgroup and short dispatches (llvmpipe ends any loop nest
 * after 65,535 iterations in all), and waits bounded within that. Workgroups that wait on one
 * another cannot count on a CPU renderer: on SwiftShader, two of them lost step in sampling's
 * loop and in the sequence kernel alike (the latter also with waits 128 times as long), where
 * its probe had found both resident; llvmpipe runs them at once on its threads, but a thread
 * that another program holds off the cores keeps its partner waiting for its time slice.
 */
export function backendOptions(adapter: GPUAdapter): WebGPUBackendOptions {
  const soft = isSoftwareAdapter(adapter);
  return { label: adapterName(adapter), tune: !soft, persistent: !soft, samplerGroups: soft ? 1 : undefined, samplerSteps: soft ? 8 : undefined, spin: soft ? CPU_RENDERER_SPIN : undefined };
}
