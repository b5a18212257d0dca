// What the webgpu test files share: their device, how a test skips where there is none, the
// tolerances against the js reference, backends sized for a GPU of another size, and the
// counts and retries that several files use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CharLM } from '../../src/model/charlm.js';
import { WebGPUBackend } from '../../src/backend/webgpu/index.js';
import type { Slicing } from '../../src/backend/webgpu/kernels/slices.js';
import { loadWebGPUBackend } from '../../src/node/webgpu.js';
import { resolveCorpusText } from '../../src/node/datasets.js';
import { vulkanBackend } from './vulkan.js';

// One device per file: making one takes a fraction of a second on Mesa. Untuned, as on a CPU
// renderer, also where a GPU would tune: the tests count dispatches of known plans. With
// CHARRNN_TEST_VULKAN set, on Dawn's Vulkan backend instead (`npm run test:vulkan`), where
// finding no adapter fails the file: skipping every test would pass for a check not made.
const gpu: { be: WebGPUBackend } | { skip: string } = process.env.CHARRNN_TEST_VULKAN ? { be: await vulkanBackend() }
  : await loadWebGPUBackend({ tune: false })
    .then((be) => ({ be }), (e: unknown) => ({ skip: `no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}` }));
export const skip = 'skip' in gpu ? gpu.skip : false;
export const dev = (): WebGPUBackend => {
  if ('skip' in gpu) throw new Error(gpu.skip);
  return gpu.be;
};
/** A test that needs the device, named `webgpu: …`. */
export const t = (name: string, fn: () => Promise<void>): void => { test(`webgpu: ${name}`, { skip }, fn); };
export const corpusText = (await resolveCorpusText('mobydick')).text.slice(0, 30_000);

// f32 gate math on the device against the reference's f64-then-rounded: a few ulps of the
// exp the GPU provides. Measured on Mesa: under 3e-7 relative; the bound leaves room for GPUs.
export const CELL_TOL = 2e-6;
// Reductions (softmax sums, column sums) summed in another order, in f32.
export const SUM_TOL = 2e-6;

// Backends on the same device that pick their tiles for a GPU of another size: occupancy 1
// takes the largest tile for every product, Infinity the smallest, 10 the ones between.
// With slices > 0, every product (a step's too) whose tiles make fewer than slices × occupancy
// workgroups splits along K, whatever its size: in slices, or with groups > 1 between that many
// thread grids of a workgroup.
export const slicing = (slices: number, groups = 0): Slicing =>
  ({ steps: slices, products: slices, stepMacs: 0, productMacs: 0, stepGroups: groups, productGroups: groups });
export const sized = (occupancy: number, slices = 0, groups = 0): WebGPUBackend => new WebGPUBackend(dev().device, { occupancy, slicing: slicing(slices, groups) });
export const limits = () => dev().tileLimits;
// The kernels a backend has made so far, by key (a key ends in _v01, _v10 or _v11 where it reads in vectors).
export const kernelKeys = (be: WebGPUBackend): string[] => [...(be as unknown as { defs: Map<string, unknown> }).defs.keys()];

/** The dispatches of one training iteration of m, batch 3 × T. */
export async function dispatchesPerIteration(m: CharLM, T: number): Promise<number> {
  const be = m.backend as WebGPUBackend, B = 3, x = Int32Array.from({ length: T * B }, (_, i) => i % m.vocabSize), st = m.newState(B);
  const before = be.stats.dispatches;
  be.fill(m.grads, 0);
  await m.lossAndGrad(x, x, T, B, st, { train: true, seed: 1 });
  return be.stats.dispatches - before;
}

// A CPU renderer gets one workgroup where workgroups would wait on one another (the sequence
// kernels, sampling's loop): it may run them one after another.
export const cpuRenderer = (): boolean => (dev() as unknown as { samplerGroups: number }).samplerGroups === 1;

// Where llvmpipe renders (Mesa's OpenGL ES), its threads run workgroups at once, so workgroups
// that wait on one another can be tried there as on a GPU, 2 of them, in tests of their own. A
// thread's waits give up within CPU_RENDERER_SPIN turns of their loops in all (so before
// llvmpipe's own limit ends the kernel's loops unseen), and so does one whose partner another
// program holds off the cores for long enough: the work then goes on, as js does it, a kernel
// per operation. So each case runs until its kernel kept the exchange through a whole run, in
// up to RUNS runs (with two other programs busy on both cores, 3 were the most it took in 24
// cases), then with waits that may turn their loops once in all until it loses it: a wait
// answered at its first poll turns no loop, and a run in which nearly every wait was (one GRU
// backward here) keeps it.
const RUNS = 10;
export const onLlvmpipe = (): boolean => /llvmpipe/i.test(dev().label);
/** The runs `done` took until it answered yes (at most RUNS). */
export async function runsUntil(done: (run: string) => Promise<boolean>, never: string): Promise<number> {
  let run = 0, yes = false;
  while (!yes && run < RUNS) yes = await done(`run ${++run}`);
  assert.ok(yes, `${never} in none of ${RUNS} runs`);
  return run;
}
