// Optimiser updates, elementwise over matching ranges, as ../../js/optim.ts (in f32).
import type { KernelDef } from '../program.js';
import { gridStride } from './common.js';

const state3 = [{ name: 'p', write: true }, { name: 'g' }, { name: 'cache', write: true }] as const;

export const rmsprop: KernelDef = {
  key: 'rmsprop',
  bufs: state3,
  args: [['oP', 'u32'], ['oG', 'u32'], ['oC', 'u32'], ['n', 'u32'], ['lr', 'f32'], ['decay', 'f32'], ['eps', 'f32']],
  code: gridStride('a.n', `
    let gi = $g[a.oG + i];
    let m = a.decay * $cache[a.oC + i] + (1.0 - a.decay) * gi * gi;
    $cache[a.oC + i] = m;
    $p[a.oP + i] -= a.lr * gi / (sqrt(m) + a.eps);`),
};

// c1, c2: the bias corrections 1 − β^step, computed on the host in f64 as the reference does.
export const adam: KernelDef = {
  key: 'adam',
  bufs: [{ name: 'p', write: true }, { name: 'g' }, { name: 'm', write: true }, { name: 'v', write: true }],
  args: [['oP', 'u32'], ['oG', 'u32'], ['oM', 'u32'], ['oV', 'u32'], ['n', 'u32'], ['lr', 'f32'], ['beta1', 'f32'],
    ['beta2', 'f32'], ['eps', 'f32'], ['c1', 'f32'], ['c2', 'f32']],
  code: gridStride('a.n', `
    let gi = $g[a.oG + i];
    let mi = a.beta1 * $m[a.oM + i] + (1.0 - a.beta1) * gi;
    let vi = a.beta2 * $v[a.oV + i] + (1.0 - a.beta2) * gi * gi;
    $m[a.oM + i] = mi;
    $v[a.oV + i] = vi;
    $p[a.oP + i] -= a.lr * (mi / a.c1) / (sqrt(vi / a.c2) + a.eps);`),
};

export const adagrad: KernelDef = {
  key: 'adagrad',
  bufs: state3,
  args: [['oP', 'u32'], ['oG', 'u32'], ['oC', 'u32'], ['n', 'u32'], ['lr', 'f32'], ['eps', 'f32']],
  code: gridStride('a.n', `
    let gi = $g[a.oG + i];
    let c = $cache[a.oC + i] + gi * gi;
    $cache[a.oC + i] = c;
    $p[a.oP + i] -= a.lr * gi / (sqrt(c) + a.eps);`),
};
