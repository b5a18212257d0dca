// The kernel module: every export takes byte addresses into the imported linear memory and
// sizes. Kernels keep no state and allocate nothing, so any number of threads may call them
// on one shared memory.
export { gemm, gemmLd, gemmScratchBytes, gemmPacked, packB, packedBFloats } from './gemm';
export * from './rows';
export { lstmStep, lstmStepBackward, gruStep, gruStepBackward } from './cells';
export * from './steps';
export * from './loss';
export { drawRows, drawScratchBytes, sampleLoop } from './sampler';
export * from './optim';
export * from './elementwise';
export * from './rng';

// The first free byte above the module's static data: the host allocates from here.
export function heapBase(): usize {
  return __heap_base;
}
