// Optimiser updates over n parameters. The reference computes each update in f64 and
// rounds to f32 on store; f64x2 lanes do the very same operations in the same order, so
// parameters and optimiser state match it bit for bit.

@inline function ld2(p: usize, i: i32): v128 { return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2))); }
@inline function st2(p: usize, i: i32, v: v128): void { v128.store64_lane(p + (<usize>i << 2), f32x4.demote_f64x2_zero(v), 0); }
@inline function ld(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
@inline function st(p: usize, i: i32, v: f64): void { store<f32>(p + (<usize>i << 2), <f32>v); }

// char-rnn's RMSprop: cache = decay·cache + (1−decay)·g²; p −= lr·g/(√cache + eps)
export function rmsprop(p: usize, g: usize, cache: usize, n: i32, lr: f64, decay: f64, eps: f64): void {
  const rest = 1.0 - decay;
  const vd = f64x2.splat(decay), vr = f64x2.splat(rest), vlr = f64x2.splat(lr), ve = f64x2.splat(eps);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const gi = ld2(g, i);
    const m = f64x2.add(f64x2.mul(vd, ld2(cache, i)), f64x2.mul(f64x2.mul(vr, gi), gi));
    st2(cache, i, m);
    st2(p, i, f64x2.sub(ld2(p, i), f64x2.div(f64x2.mul(vlr, gi), f64x2.add(f64x2.sqrt(m), ve))));
  }
  for (; i < n; i++) {
    const gi = ld(g, i);
    const m = decay * ld(cache, i) + rest * gi * gi;
    st(cache, i, m);
    st(p, i, ld(p, i) - lr * gi / (Math.sqrt(m) + eps));
  }
}

// Adam; c1 = 1 − β1^step and c2 = 1 − β2^step come from the caller, so the powers are the host's.
export function adam(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64,
  eps: f64, c1: f64, c2: f64): void {
  const r1 = 1.0 - beta1, r2 = 1.0 - beta2;
  const vb1 = f64x2.splat(beta1), vb2 = f64x2.splat(beta2), vr1 = f64x2.splat(r1), vr2 = f64x2.splat(r2);
  const vlr = f64x2.splat(lr), ve = f64x2.splat(eps), vc1 = f64x2.splat(c1), vc2 = f64x2.splat(c2);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const gi = ld2(g, i);
    const mi = f64x2.add(f64x2.mul(vb1, ld2(m, i)), f64x2.mul(vr1, gi));
    const vi = f64x2.add(f64x2.mul(vb2, ld2(v, i)), f64x2.mul(f64x2.mul(vr2, gi), gi));
    st2(m, i, mi);
    st2(v, i, vi);
    const step = f64x2.div(f64x2.mul(vlr, f64x2.div(mi, vc1)), f64x2.add(f64x2.sqrt(f64x2.div(vi, vc2)), ve));
    st2(p, i, f64x2.sub(ld2(p, i), step));
  }
  for (; i < n; i++) {
    const gi = ld(g, i);
    const mi = beta1 * ld(m, i) + r1 * gi;
    const vi = beta2 * ld(v, i) + r2 * gi * gi;
    st(m, i, mi);
    st(v, i, vi);
    st(p, i, ld(p, i) - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
  }
}

// cache += g²; p −= lr·g/(√cache + eps)
export function adagrad(p: usize, g: usize, cache: usize, n: i32, lr: f64, eps: f64): void {
  const vlr = f64x2.splat(lr), ve = f64x2.splat(eps);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const gi = ld2(g, i);
    const c = f64x2.add(ld2(cache, i), f64x2.mul(gi, gi));
    st2(cache, i, c);
    st2(p, i, f64x2.sub(ld2(p, i), f64x2.div(f64x2.mul(vlr, gi), f64x2.add(f64x2.sqrt(c), ve))));
  }
  for (; i < n; i++) {
    const gi = ld(g, i);
    const c = ld(cache, i) + gi * gi;
    st(cache, i, c);
    st(p, i, ld(p, i) - lr * gi / (Math.sqrt(c) + eps));
  }
}
