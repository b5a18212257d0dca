// The WebGPU backend, for any host that has a GPUAdapter: navigator.gpu in browsers,
// Dawn in Node (src/node/webgpu.ts).
export { WebGPUBackend, GpuBuf, type WebGPUBackendOptions } from './backend.js';
export { requestBackendDevice, adapterInfo, adapterName, backendOptions, isSoftwareAdapter, type AdapterInfo } from './device.js';
export type { RecorderStats } from './recorder.js';
