// Compiles the WebAssembly kernels (assembly/index.ts) into build/wasm/: once for plain
// 128-bit SIMD and once with relaxed SIMD for engines that have it. Memory is imported and
// shared, so worker threads can run kernels over the same buffers.
import asc from 'assemblyscript/asc';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = 'build/wasm';

const common = [
  'assembly/index.ts',
  '--enable', 'simd',
  '--enable', 'threads',
  '-O3',
  '--runtime', 'stub',
  '--noAssert',
  '--importMemory',
  '--noExportMemory',
  '--initialMemory', '0',
  // 4 GiB, all that 32-bit addresses reach; a shared memory must declare its maximum,
  // and the host may still create it with a smaller one.
  '--maximumMemory', '65536',
  '--sharedMemory',
  '--baseDir', root,
];

const flavors = [
  { file: 'charrnn-simd.wasm', extra: [] },
  { file: 'charrnn-relaxed.wasm', extra: ['--enable', 'relaxed-simd'] },
];

await mkdir(new URL(`../${out}/`, import.meta.url), { recursive: true });
for (const { file, extra } of flavors) {
  const { error, stderr } = await asc.main([...common, ...extra, '--outFile', `${out}/${file}`]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: ${file} failed: ${error.message}`);
    process.exit(1);
  }
}
