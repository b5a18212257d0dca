// Elementwise kernels over one or two ranges, and the squared-norm reduction.
import type { KernelDef } from '../program.js';
import { gridStride } from './common.js';

// mask[i] = (u < p) ? 0 : keep with u = uniform(seed, stream, i); out = x ⊙ mask (out may be
// x). u < p is tested on the 24-bit integer behind u against ⌈p·2²⁴⌉, exactly as the host's f64
// comparison.
export const dropout: KernelDef = {
  key: 'dropout',
  bufs: [{ name: 'x' }, { name: 'out', write: true }, { name: 'mask', write: true }],
  args: [['oX', 'u32'], ['oOut', 'u32'], ['oM', 'u32'], ['n', 'u32'], ['threshold', 'u32'], ['keep', 'f32'], ['seed', 'u32'], ['stream', 'u32']],
  code: gridStride('a.n', `
    let m = select(a.keep, 0.0, (hash3(a.seed, a.stream, i) >> 8u) < a.threshold);
    $mask[a.oM + i] = m;
    $out[a.oOut + i] = $x[a.oX + i] * m;`),
};

export const mul: KernelDef = {
  key: 'mul',
  bufs: [{ name: 'x', write: true }, { name: 'm' }],
  args: [['oX', 'u32'], ['oM', 'u32'], ['n', 'u32']],
  code: gridStride('a.n', `    $x[a.oX + i] *= $m[a.oM + i];`),
};

export const clamp: KernelDef = {
  key: 'clamp',
  bufs: [{ name: 'x', write: true }],
  args: [['oX', 'u32'], ['n', 'u32'], ['lo', 'f32'], ['hi', 'f32']],
  code: gridStride('a.n', `
    let v = $x[a.oX + i];
    $x[a.oX + i] = select(select(v, a.hi, v > a.hi), a.lo, v < a.lo);`),
};

export const scale: KernelDef = {
  key: 'scale',
  bufs: [{ name: 'x', write: true }],
  args: [['oX', 'u32'], ['n', 'u32'], ['alpha', 'f32']],
  code: gridStride('a.n', `    $x[a.oX + i] *= a.alpha;`),
};

// x *= maxNorm / √sumsq where that is below 1; the norm never leaves the device.
export const clipByNorm: KernelDef = {
  key: 'clipByNorm',
  bufs: [{ name: 'x', write: true }, { name: 'sumsq' }],
  args: [['oX', 'u32'], ['oS', 'u32'], ['n', 'u32'], ['maxNorm', 'f32']],
  code: gridStride('a.n', `
    let norm = sqrt($sumsq[a.oS]);
    if (norm > a.maxNorm) { $x[a.oX + i] *= a.maxNorm / norm; }`),
};

export const fill: KernelDef = {
  key: 'fill',
  bufs: [{ name: 'x', write: true }],
  args: [['oX', 'u32'], ['n', 'u32'], ['value', 'f32']],
  code: gridStride('a.n', `    $x[a.oX + i] = a.value;`),
};

export const fillInt: KernelDef = {
  key: 'fillInt',
  bufs: [{ name: 'x', int: true, write: true }],
  args: [['oX', 'u32'], ['n', 'u32'], ['value', 'i32']],
  code: gridStride('a.n', `    $x[a.oX + i] = a.value;`),
};

// Up to MAX_COPIES independent copies in one dispatch (the layers copy the state in and out
// of every sequence: for one-character steps, that is most of the dispatches). Each pair is
// between distinct buffers or disjoint ranges; overlapping ones go through scratch.
export const MAX_COPIES = 4;

export function copies(count: number, int: boolean): KernelDef {
  const pairs = Array.from({ length: count }, (_, k) => k);
  const n = pairs.map((k) => `a.n${k}`).reduce((m, x) => `max(${m}, ${x})`);
  return {
    key: `copy${count}${int ? 'i' : 'f'}`,
    bufs: pairs.flatMap((k) => [{ name: `d${k}`, int, write: true }, { name: `s${k}`, int }]),
    args: pairs.flatMap((k) => [[`oD${k}`, 'u32'], [`oS${k}`, 'u32'], [`n${k}`, 'u32']] as const),
    code: gridStride(n, pairs.map((k) => `    if (i < a.n${k}) { $d${k}[a.oD${k} + i] = $s${k}[a.oS${k} + i]; }`).join('\n')),
  };
}

// Σx² in two passes: SQ_PARTS workgroups each reduce a strided share into partial[wg],
// then one workgroup adds the partials into out.
export const SQ_PARTS = 256;
const SQ_WG = 256;
const REDUCE = (x: string): string => /* wgsl */ `
  red[l] = ${x};
  workgroupBarrier();
  for (var s = ${SQ_WG / 2}u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] += red[l + s]; }
    workgroupBarrier();
  }`;

export const sumSquaresPartial: KernelDef = {
  key: 'sumSquaresPartial',
  bufs: [{ name: 'x' }, { name: 'partial', write: true }],
  args: [['oX', 'u32'], ['n', 'u32']],
  code: /* wgsl */ `
var<workgroup> red: array<f32, ${SQ_WG}>;
@compute @workgroup_size(${SQ_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = gid.x; i < a.n; i += ${SQ_PARTS * SQ_WG}u) { let v = $x[a.oX + i]; s += v * v; }
  ${REDUCE('s')}
  if (l == 0u) { $partial[wg.x] = red[0]; }
}`,
};

export const sumSquaresFinal: KernelDef = {
  key: 'sumSquaresFinal',
  bufs: [{ name: 'partial' }, { name: 'out', write: true }],
  args: [['oOut', 'u32']],
  code: /* wgsl */ `
var<workgroup> red: array<f32, ${SQ_WG}>;
@compute @workgroup_size(${SQ_WG})
fn main(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = l; i < ${SQ_PARTS}u; i += ${SQ_WG}u) { s += $partial[i]; }
  ${REDUCE('s')}
  if (l == 0u) { $out[a.oOut] = red[0]; }
}`,
};
