// The web app's rule for its engine, as the command line's --backend: a hardware adapter runs
// webgpu under auto, a CPU rasteriser only when webgpu is asked for by name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adapterLabel, chooseEngine, isEngineRequest, type GpuOffer } from '../web/app/engine-choice.js';

const gpu: GpuOffer = { kind: 'adapter', name: 'NVIDIA H100', software: false };
const swiftshader: GpuOffer = { kind: 'adapter', name: 'google swiftshader', software: true };
const noAdapter: GpuOffer = { kind: 'no-adapter' };
const noWebGPU: GpuOffer = { kind: 'no-webgpu' };

describe('the web app\'s engine choice', () => {
  it('auto runs webgpu on a hardware adapter and wasm on anything else', () => {
    assert.deepEqual(chooseEngine('auto', gpu), { engine: 'webgpu', adapter: 'NVIDIA H100' });
    for (const offer of [swiftshader, noAdapter, noWebGPU]) assert.deepEqual(chooseEngine('auto', offer), { engine: 'wasm' });
  });

  it('wasm runs wasm whatever the GPU', () => {
    for (const offer of [gpu, swiftshader, noAdapter, noWebGPU]) assert.deepEqual(chooseEngine('wasm', offer), { engine: 'wasm' });
  });

  it('webgpu runs on any adapter, software included, and otherwise says why in one line', () => {
    assert.deepEqual(chooseEngine('webgpu', gpu), { engine: 'webgpu', adapter: 'NVIDIA H100' });
    assert.deepEqual(chooseEngine('webgpu', swiftshader), { engine: 'webgpu', adapter: 'google swiftshader' });
    const cases: [GpuOffer, RegExp][] = [
      [noWebGPU, /^this browser has no WebGPU \(navigator\.gpu is missing/],
      [noAdapter, /^the browser found no WebGPU adapter \(no GPU it can use, or WebGPU is turned off in it\)/],
      [{ kind: 'no-adapter', why: 'requestAdapter threw' }, /^the browser found no WebGPU adapter \(requestAdapter threw\)/],
    ];
    for (const [offer, message] of cases) {
      const choice = chooseEngine('webgpu', offer);
      assert.equal(choice.engine, 'none');
      if (choice.engine === 'none') {
        assert.match(choice.error, message);
        assert.match(choice.error, /: choose the wasm engine$/);
        assert.doesNotMatch(choice.error, /\n/);
      }
    }
  });

  it('reads only the three engine names from a select', () => {
    assert.deepEqual(['auto', 'wasm', 'webgpu', 'js', 'WebGPU', ''].map(isEngineRequest), [true, true, true, false, false, false]);
  });

  it('names an adapter by its device, or by vendor and architecture where the browser gives no more', () => {
    assert.equal(adapterLabel({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: '' }), 'NVIDIA H100 80GB HBM3');
    assert.equal(adapterLabel({ vendor: 'google', architecture: 'swiftshader', device: '', description: '' }), 'google swiftshader');
    assert.equal(adapterLabel({ vendor: '', architecture: '', device: '', description: '' }), 'an unnamed GPU');
  });
});
