// What Dawn's adapter offers the webgpu backend on this machine, and what more it would offer
// with the toggles that Dawn's experimental features need:
//   node bench/gpu-features.mjs [--backend vulkan|opengles|default]
// Dawn hides a feature marked experimental (subgroup matrices among them, its one way to a
// GPU's matrix units from WGSL) unless the adapter is asked for with `allow_unsafe_apis`;
// on Vulkan, subgroup matrices also need `use_vulkan_memory_model`, and f16 on NVIDIA needs
// `vulkan_enable_f16_on_nvidia`. So a plain adapter listing no subgroup matrices says nothing
// about whether the GPU has them. This prints both listings, the subgroup matrix shapes and
// element types offered, and whether a device with those features can be made.
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'vulkan' } } });
const EXPERIMENTAL = ['allow_unsafe_apis', 'use_vulkan_memory_model', 'vulkan_enable_f16_on_nvidia'];
const LIMITS = ['maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize',
  'maxBufferSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'minSubgroupSize', 'maxSubgroupSize'];

let dawn;
try {
  dawn = await import('webgpu');
} catch (err) {
  console.error(`gpu-features: the "webgpu" package does not load: ${String(err.message ?? err).split('\n')[0]}`);
  process.exit(1);
}
const instances = []; // devices depend on their instance, which must outlive them

async function adapterWith(toggles) {
  const flags = values.backend === 'default' ? [] : [`backend=${values.backend}`];
  if (toggles.length > 0) flags.push(`enable-dawn-features=${toggles.join(',')}`);
  const gpu = dawn.create(flags);
  instances.push(gpu);
  const opts = values.backend === 'opengles' ? { featureLevel: 'compatibility' } : { powerPreference: 'high-performance' };
  return { flags, adapter: await gpu.requestAdapter(opts).catch(() => null) };
}

const plain = await adapterWith([]);
if (!plain.adapter) {
  console.error(`gpu-features: Dawn found no adapter (${plain.flags.join(' ') || 'default backend'})`);
  process.exit(1);
}
const { info, limits } = plain.adapter;
console.log(`adapter: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' | ')}`);
console.log(`limits: ${LIMITS.filter((k) => limits[k] !== undefined).map((k) => `${k} ${limits[k]}`).join(', ')}`);
if (info.subgroupMinSize !== undefined) console.log(`subgroup sizes: ${info.subgroupMinSize}–${info.subgroupMaxSize}`);
const before = new Set(plain.adapter.features);
console.log(`features (${before.size}): ${[...before].sort().join(' ')}`);

const toggled = await adapterWith(EXPERIMENTAL);
const after = toggled.adapter ? new Set(toggled.adapter.features) : new Set();
const added = [...after].filter((f) => !before.has(f)).sort();
console.log(`with ${EXPERIMENTAL.join(', ')}: ${toggled.adapter ? (added.length > 0 ? `adds ${added.join(' ')}` : 'adds nothing') : 'no adapter'}`);

const configs = toggled.adapter?.info.subgroupMatrixConfigs ?? [];
if (!after.has('chromium-experimental-subgroup-matrix')) {
  console.log('subgroup matrices: not offered');
} else {
  console.log(`subgroup matrices: ${configs.length} configurations`);
  for (const c of configs) console.log(`  ${c.M}×${c.N}×${c.K}: ${c.componentType} operands, ${c.resultComponentType} result`);
  const wanted = ['chromium-experimental-subgroup-matrix', 'subgroups', 'shader-f16'].filter((f) => after.has(f));
  try {
    const device = await toggled.adapter.requestDevice({ requiredFeatures: wanted });
    console.log(`device with ${wanted.join(', ')}: made`);
    device.destroy();
  } catch (err) {
    console.log(`device with ${wanted.join(', ')}: refused: ${String(err.message ?? err).split('\n')[0]}`);
  }
}
process.exit(0);
