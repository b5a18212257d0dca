// Which engine a page runs on, from what the user asked for and what the browser offers: the
// rule of the command line's `--backend auto` (a hardware GPU runs webgpu; a CPU rasteriser
// such as SwiftShader would run slower than wasm, so it is used only when asked for by name).
// Plain data in, plain data out, so that the rule is testable without a browser.
import type { AdapterInfo } from '../../src/index.js';

export type EngineRequest = 'auto' | 'wasm' | 'webgpu';

export const ENGINE_REQUESTS: readonly EngineRequest[] = ['auto', 'wasm', 'webgpu'];

/** What the browser's WebGPU offers: nothing at all, no adapter, or one adapter. */
export type GpuOffer =
  | { kind: 'no-webgpu' }
  | { kind: 'no-adapter'; why?: string }
  | { kind: 'adapter'; name: string; software: boolean };

export type EngineChoice =
  | { engine: 'webgpu'; adapter: string }
  | { engine: 'wasm' }
  | { engine: 'none'; error: string };

export function isEngineRequest(value: string): value is EngineRequest {
  return (ENGINE_REQUESTS as readonly string[]).includes(value);
}

/** The engine a page's Engine select asks for; anything else it might hold is `auto`. */
export function engineRequestOf(value: string): EngineRequest {
  return isEngineRequest(value) ? value : 'auto';
}

export function chooseEngine(request: EngineRequest, gpu: GpuOffer): EngineChoice {
  if (request === 'wasm') return { engine: 'wasm' };
  switch (gpu.kind) {
    case 'adapter':
      return request === 'webgpu' || !gpu.software ? { engine: 'webgpu', adapter: gpu.name } : { engine: 'wasm' };
    case 'no-webgpu':
      return request === 'auto' ? { engine: 'wasm' } : { engine: 'none',
        error: 'this browser has no WebGPU (navigator.gpu is missing: it needs a browser with WebGPU, on a page served from localhost or https): choose the wasm engine' };
    case 'no-adapter':
      return request === 'auto' ? { engine: 'wasm' } : { engine: 'none',
        error: `the browser found no WebGPU adapter (${gpu.why ?? 'no GPU it can use, or WebGPU is turned off in it'}): choose the wasm engine` };
  }
}

/**
 * The adapter as the status line names it. Browsers often leave device and description empty
 * (SwiftShader reports only "google" and "swiftshader"), so vendor and architecture stand in.
 */
export function adapterLabel(info: AdapterInfo): string {
  const named = [info.device, info.description].map((s) => s.trim()).filter(Boolean);
  if (named.length > 0) return named.join(', ');
  const family = [info.vendor, info.architecture].map((s) => s.trim()).filter(Boolean);
  return family.length > 0 ? family.join(' ') : 'an unnamed GPU';
}
