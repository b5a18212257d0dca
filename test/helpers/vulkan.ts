/// <reference types="@webgpu/types" />
// The webgpu tests' device on Dawn's Vulkan backend (CHARRNN_TEST_VULKAN=1): what Dawn takes on
// a Linux GPU, through Tint's SPIR-V output instead of the GLSL that Mesa's OpenGL ES gets.
// Where there is no GPU, `npm run test:vulkan` points the Vulkan loader at Chromium's
// SwiftShader, which also holds workgroups to WebGPU's default 256 threads. Options as the
// Node loader gives them, untuned as the tests want: on SwiftShader a CPU renderer's, as its
// workgroups that wait on one another lose step (backendOptions).
import { WebGPUBackend, backendOptions, requestBackendDevice } from '../../src/backend/webgpu/index.js';

interface Dawn { create(flags: string[]): GPU }

let instance: GPU | null = null; // kept for the life of the process: its device depends on it

export async function vulkanBackend(): Promise<WebGPUBackend> {
  const dawn = (await import('webgpu')) as unknown as Dawn;
  instance = dawn.create(['backend=vulkan']);
  const adapter = await instance.requestAdapter();
  if (!adapter) throw new Error('Dawn found no Vulkan adapter (is VK_ICD_FILENAMES set?)');
  return new WebGPUBackend(await requestBackendDevice(adapter), { ...backendOptions(adapter), tune: false, persistent: false });
}
