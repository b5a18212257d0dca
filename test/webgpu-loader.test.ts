// The webgpu backend from Node: the loader and its errors (with a fake Dawn where needed), the
// limits it refuses, and the command line on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsBackend } from '../src/backend/js/index.js';
import { backendOptions, isSoftwareAdapter, WebGPUBackend } from '../src/backend/webgpu/index.js';
import { CPU_RENDERER_SPIN } from '../src/backend/webgpu/device.js';
import { loadWebGPUBackend, tryHardwareWebGPU, mayHaveGpu } from '../src/node/webgpu.js';
import { createBackend } from '../src/node/backend.js';
import { tuningNote } from '../src/cli/train.js';
import { UserError } from '../src/errors.js';
import { corpusText, dev, skip, t } from './helpers/webgpu-device.js';
import { runCli } from './helpers/charrnn-cli.js';

type FakeAdapter = { info: Record<string, unknown>; limits: Record<string, number> };
const fakeDawn = (adapter: FakeAdapter | null) => async (): Promise<unknown> => ({ create: () => ({ requestAdapter: async () => adapter }) });

test('webgpu loader: no adapter, or no webgpu package, is one clear user error', async () => {
  await assert.rejects(loadWebGPUBackend({ importDawn: fakeDawn(null) }),
    (e: unknown) => e instanceof UserError && /^no WebGPU adapter found/.test(e.message) && !e.message.includes('\n'));
  const missing = Object.assign(new Error("Cannot find package 'webgpu' imported from /x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  await assert.rejects(loadWebGPUBackend({ importDawn: () => Promise.reject(missing) }),
    (e: unknown) => e instanceof UserError && /npm install webgpu/.test(e.message));
  await assert.rejects(loadWebGPUBackend({ importDawn: async () => ({}) }), (e: unknown) => e instanceof UserError);
});

test('webgpu loader: auto takes only a hardware GPU; CPU renderers are recognised', async () => {
  const soft = { info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' }, limits: {} };
  assert.equal(isSoftwareAdapter(soft as unknown as GPUAdapter), true);
  assert.equal(isSoftwareAdapter({ info: { vendor: 'google', architecture: '', device: 'SwiftShader Device', description: '' } } as unknown as GPUAdapter), true);
  const h200 = { info: { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: '' } } as unknown as GPUAdapter;
  assert.equal(isSoftwareAdapter(h200), false);
  // Tuning (timing plans on the device) and the sequence kernels where timed faster, on a GPU, not on a CPU renderer.
  assert.equal(backendOptions(h200).tune, true);
  assert.equal(backendOptions(h200).persistent, true);
  assert.equal(backendOptions(soft as unknown as GPUAdapter).tune, false);
  assert.equal(backendOptions(soft as unknown as GPUAdapter).persistent, false);
  // Waits bounded within llvmpipe's limit on its loops' turns; on a GPU only each wait's own 2²⁰ polls.
  assert.equal(backendOptions(soft as unknown as GPUAdapter).spin, CPU_RENDERER_SPIN);
  assert.ok(CPU_RENDERER_SPIN < 65_535);
  assert.equal(backendOptions(h200).spin, undefined);
  await assert.rejects(loadWebGPUBackend({ importDawn: fakeDawn(soft), hardwareOnly: true }), /no hardware GPU/);
  assert.equal(await tryHardwareWebGPU({ importDawn: fakeDawn(soft) }), null);
  if (!mayHaveGpu()) assert.equal((await createBackend('auto')).name, 'wasm');
});

test('a device below WebGPU\'s default limits (compatibility mode\'s) is refused with a user error', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 128, maxStorageBuffersPerShaderStage: 4 };
  assert.throws(() => new WebGPUBackend({ limits } as unknown as GPUDevice, { label: 'tiny' }),
    (e: unknown) => e instanceof UserError && /tiny.*128 threads per workgroup.*requestBackendDevice/.test(e.message));
});

test('createBackend("webgpu") is the webgpu backend, on Mesa where there is no GPU; tune passes through', { skip }, async () => {
  const be = await createBackend('webgpu');
  assert.equal(be.name, 'webgpu');
  assert.ok(be instanceof WebGPUBackend);
  if (!mayHaveGpu()) assert.equal(be.tune, false, 'a CPU renderer\'s default');
  for (const tune of [true, false]) {
    const own = await createBackend('webgpu', { tune });
    assert.ok(own instanceof WebGPUBackend && own.tune === tune, `tune: ${tune}`);
  }
});

// ---- the command line ---------------------------------------------------------------------

t('charrnn train says before a tuned first iteration that it tunes, and how not to', async () => {
  const tuned = new WebGPUBackend(dev().device, { tune: true, label: 'the GPU' });
  assert.match(tuningNote(tuned) ?? '', /first iteration also times the kernel plans of each large step and product on the GPU \(--no-tune keeps fixed plans\)/);
  const persistent = new WebGPUBackend(dev().device, { tune: true, persistent: true, label: 'the GPU' });
  assert.match(tuningNote(persistent) ?? '', /kernel plans .*, and each layer's sequence in one dispatch against its steps, on the GPU \(--no-tune/);
  assert.equal(tuningNote(new WebGPUBackend(dev().device, { tune: false })), null);
  assert.equal(tuningNote(new JsBackend()), null);
});

test('charrnn train and sample with --backend webgpu; without an adapter one clear line', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'charrnn-webgpu-'));
  try {
    await writeFile(join(dir, 'input.txt'), corpusText.slice(0, 8000));
    const tr = await runCli(['train', 'input.txt', '--backend', 'webgpu', '--no-tune', '--hidden', '16', '--batch', '4', '--seq', '16',
      '--max-iters', '20', '--eval-every', '10', '--json'], { cwd: dir });
    assert.equal(tr.code, 0, tr.stderr);
    const events = tr.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; backend?: string; loss?: number });
    assert.equal(events[0].backend, 'webgpu');
    const losses = events.filter((e) => e.type === 'iteration').map((e) => e.loss!);
    assert.equal(losses.length, 20);
    assert.ok(losses[19] < losses[0], `loss ${losses[0]} → ${losses[19]}`);
    const args = ['sample', 'cv/latest.safetensors', '--length', '200', '--seed', '4', '-t', '0.8'];
    const gpuText = await runCli([...args, '--backend', 'webgpu'], { cwd: dir }), jsText = await runCli([...args, '--backend', 'js'], { cwd: dir });
    assert.equal(gpuText.code, 0, gpuText.stderr);
    assert.equal([...gpuText.stdout.trimEnd()].length, 200);
    assert.equal(gpuText.stdout, jsText.stdout);
    const evalArgs = ['eval', 'cv/latest.safetensors', '--json', '--backend'];
    const [gpuEval, jsEval] = await Promise.all([runCli([...evalArgs, 'webgpu', '--no-tune'], { cwd: dir }), runCli([...evalArgs, 'js'], { cwd: dir })]);
    assert.equal(gpuEval.code, 0, gpuEval.stderr);
    const loss = (r: { stdout: string }): number => (JSON.parse(r.stdout) as { loss: number }).loss;
    assert.ok(Math.abs(loss(gpuEval) - loss(jsEval)) < 1e-5 * loss(jsEval), `eval ${loss(gpuEval)} against js ${loss(jsEval)}`);

    // EGL with no display platform it can open, and Vulkan with no driver: Dawn finds no
    // adapter (and says so itself), on a machine with a GPU too.
    const hidden = { ...process.env, EGL_PLATFORM: 'none-such', VK_DRIVER_FILES: '/none-such.json', VK_ICD_FILENAMES: '/none-such.json' };
    const none = await runCli(args.concat('--backend', 'webgpu'), { cwd: dir, env: hidden });
    assert.equal(none.code, 1);
    assert.match(none.stderr.trimEnd().split('\n').at(-1)!, /^charrnn: no WebGPU adapter found/);
    assert.doesNotMatch(none.stderr, /UserError|\.js:\d+/);
    assert.equal(none.stdout, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
