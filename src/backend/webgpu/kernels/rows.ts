// Row and column moves: biases, the one-hot projection as a gather, the embedding lookup.
// Scatters run one thread per output column (or embedding element) over all rows in order,
// so rows that share an id add up without atomics, in the reference's order, bit for bit.
import type { KernelDef } from '../program.js';
import { gridStride } from './common.js';

export const addBias: KernelDef = {
  key: 'addBias',
  bufs: [{ name: 'out', write: true }, { name: 'b' }],
  args: [['oOut', 'u32'], ['oB', 'u32'], ['n', 'u32'], ['G', 'u32']],
  code: gridStride('a.n', `    $out[a.oOut + i] += $b[a.oB + i % a.G];`),
};

// db[g] += Σ_n dout[n,g] (and db2[g], with `two`): a workgroup owns SUM_COLS columns, its
// SUM_PARTS row strands each sum a strided share of the rows, and the strands are added in
// shared memory. Few columns per workgroup, so that a layer's few thousand make enough
// workgroups to fill a GPU. A strand keeps four sums of alternate rows, so that four reads are
// in flight at once: a single chain of sums waits on each read, far below the memory's speed.
export const SUM_COLS = 8;
const SUM_PARTS = 32;
export function sumRows(two: boolean): KernelDef {
  return {
    key: `sumRows${two ? 2 : 1}`,
    bufs: [{ name: 'db', write: true }, { name: 'dout' }, ...(two ? [{ name: 'db2', write: true }] : [])],
    args: [['oDb', 'u32'], ['oDout', 'u32'], ['N', 'u32'], ['G', 'u32'], ...(two ? [['oDb2', 'u32'] as const] : [])],
    code: /* wgsl */ `
var<workgroup> part: array<f32, ${SUM_COLS * SUM_PARTS}>;
@compute @workgroup_size(${SUM_COLS}, ${SUM_PARTS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let g = wg.x * ${SUM_COLS}u + l.x;
  var s = vec4f();
  if (g < a.G) {
    let step = ${SUM_PARTS}u * a.G;
    var at = a.oDout + l.y * a.G + g;
    var n = l.y;
    for (; n + ${3 * SUM_PARTS}u < a.N; n += ${4 * SUM_PARTS}u) {
      s += vec4f($dout[at], $dout[at + step], $dout[at + 2u * step], $dout[at + 3u * step]);
      at += 4u * step;
    }
    for (; n < a.N; n += ${SUM_PARTS}u) {
      s.x += $dout[at];
      at += step;
    }
  }
  part[l.y * ${SUM_COLS}u + l.x] = (s.x + s.y) + (s.z + s.w);
  workgroupBarrier();
  if (l.y == 0u && g < a.G) {
    var t = 0.0;
    for (var p = 0u; p < ${SUM_PARTS}u; p++) { t += part[p * ${SUM_COLS}u + l.x]; }
    $db[a.oDb + g] += t;${two ? '\n    $db2[a.oDb2 + g] += t;' : ''}
  }
}`,
  };
}

// out[n,g] += w[g,V][:, ids[n]]; or, with `assign`, out = that column (the fill with zeros
// before it folded in). Up to two bias rows follow, as addBias calls after it would add them.
export function gatherCols(assign: boolean, biases: number): KernelDef {
  const bias = Array.from({ length: biases }, (_, k) => k);
  return {
    key: `gatherCols${assign ? '=' : '+'}${biases}`,
    bufs: [{ name: 'out', write: true }, { name: 'w' }, { name: 'ids', int: true }, ...bias.map((k) => ({ name: `bias${k}` }))],
    args: [['oOut', 'u32'], ['oW', 'u32'], ['oIds', 'u32'], ['n', 'u32'], ['G', 'u32'], ['V', 'u32'],
      ...bias.map((k) => [`oBias${k}`, 'u32'] as const)],
    code: gridStride('a.n', `
    let row = i / a.G;
    let g = i - row * a.G;
    var v = $w[a.oW + g * a.V + u32($ids[a.oIds + row])];
    ${assign ? '' : 'v += $out[a.oOut + i];'}
${bias.map((k) => `    v += $bias${k}[a.oBias${k} + g];`).join('\n')}
    $out[a.oOut + i] = v;`),
  };
}

// out[n,V] = one-hot rows of ids[n]: with it, the one-hot input's weight gradient is a
// matrix product (dw[G,V] += doutᵀ·onehot), which runs on every core of a GPU where a scatter
// would walk the rows one after another.
export const oneHot: KernelDef = {
  key: 'oneHot',
  bufs: [{ name: 'out', write: true }, { name: 'ids', int: true }],
  args: [['oOut', 'u32'], ['oIds', 'u32'], ['n', 'u32'], ['V', 'u32']],
  code: gridStride('a.n', `
    let row = i / a.V;
    $out[a.oOut + i] = select(0.0, 1.0, u32($ids[a.oIds + row]) == i - row * a.V);`),
};

// out[n,E] = table[ids[n], :]
export const gatherRows: KernelDef = {
  key: 'gatherRows',
  bufs: [{ name: 'out', write: true }, { name: 'table' }, { name: 'ids', int: true }],
  args: [['oOut', 'u32'], ['oT', 'u32'], ['oIds', 'u32'], ['n', 'u32'], ['E', 'u32']],
  code: gridStride('a.n', `
    let row = i / a.E;
    $out[a.oOut + i] = $table[a.oT + u32($ids[a.oIds + row]) * a.E + (i - row * a.E)];`),
};

// dtable[ids[n], :] += dout[n,E]: thread e walks the rows.
export const scatterAddRows: KernelDef = {
  key: 'scatterAddRows',
  bufs: [{ name: 'dt', write: true }, { name: 'dout' }, { name: 'ids', int: true }],
  args: [['oDt', 'u32'], ['oDout', 'u32'], ['oIds', 'u32'], ['N', 'u32'], ['E', 'u32']],
  code: gridStride('a.E', `
    for (var n = 0u; n < a.N; n++) {
      let at = a.oDt + u32($ids[a.oIds + n]) * a.E + i;
      $dt[at] += $dout[a.oDout + n * a.E + i];
    }`),
};
