// Fused recurrent cell kernels for one time step over a [B, G·H] block. The gate math runs
// in f64 and rounds to f32 only where the reference stores, so activations, states and
// gradients agree with it to the last bit or two of f32 (the transcendentals are a
// different, equally accurate implementation).

@inline function ld(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
@inline function st(p: usize, i: i32, v: f64): void { store<f32>(p + (<usize>i << 2), <f32>v); }
@inline function sigmoid(x: f64): f64 { return 1.0 / (1.0 + Math.exp(-x)); }

// act[B,4H] = (σ(i), σ(f), tanh(g), σ(o)) of pre[B,4H]; c = f⊙cPrev + i⊙g; h = o⊙tanh(c)
export function lstmStep(pre: usize, cPrev: usize, act: usize, c: usize, h: usize, B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const p = b * 4 * H, s = b * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(ld(pre, p + j));
      const f = sigmoid(ld(pre, p + H + j));
      const g = Math.tanh(ld(pre, p + 2 * H + j));
      const o = sigmoid(ld(pre, p + 3 * H + j));
      st(act, p + j, i); st(act, p + H + j, f); st(act, p + 2 * H + j, g); st(act, p + 3 * H + j, o);
      const cn = f * ld(cPrev, s + j) + i * g;
      st(c, s + j, cn);
      st(h, s + j, o * Math.tanh(cn));
    }
  }
}

// (dh[B,H], dc[B,H]) → dpre[B,4H]; dc becomes dcPrev.
export function lstmStepBackward(act: usize, c: usize, cPrev: usize, dh: usize, dc: usize, dpre: usize,
  B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const a = b * 4 * H, s = b * H;
    for (let j = 0; j < H; j++) {
      const i = ld(act, a + j), f = ld(act, a + H + j), g = ld(act, a + 2 * H + j), o = ld(act, a + 3 * H + j);
      const tc = Math.tanh(ld(c, s + j));
      const dhv = ld(dh, s + j);
      const dct = ld(dc, s + j) + dhv * o * (1.0 - tc * tc);
      st(dpre, a + j, dct * g * i * (1.0 - i));
      st(dpre, a + H + j, dct * ld(cPrev, s + j) * f * (1.0 - f));
      st(dpre, a + 2 * H + j, dct * i * (1.0 - g * g));
      st(dpre, a + 3 * H + j, dhv * tc * o * (1.0 - o));
      st(dc, s + j, dct * f);
    }
  }
}

// PyTorch's GRU: r = σ(xi_r + hh_r), z = σ(xi_z + hh_z), n = tanh(xi_n + r⊙hh_n),
// h = (1−z)⊙n + z⊙hPrev; act[B,3H] = (r, z, n)
export function gruStep(xi: usize, hh: usize, hPrev: usize, act: usize, h: usize, B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const x = b * 3 * H, s = b * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(ld(xi, x + j) + ld(hh, x + j));
      const z = sigmoid(ld(xi, x + H + j) + ld(hh, x + H + j));
      const n = Math.tanh(ld(xi, x + 2 * H + j) + r * ld(hh, x + 2 * H + j));
      st(act, x + j, r); st(act, x + H + j, z); st(act, x + 2 * H + j, n);
      st(h, s + j, (1.0 - z) * n + z * ld(hPrev, s + j));
    }
  }
}

// dh[B,H] → dxi[B,3H], dhh[B,3H]; dhPrev[B,H] += z⊙dh
export function gruStepBackward(act: usize, hh: usize, hPrev: usize, dh: usize, dxi: usize, dhh: usize,
  dhPrev: usize, B: i32, H: i32): void {
  for (let b = 0; b < B; b++) {
    const x = b * 3 * H, s = b * H;
    for (let j = 0; j < H; j++) {
      const r = ld(act, x + j), z = ld(act, x + H + j), n = ld(act, x + 2 * H + j);
      const d = ld(dh, s + j);
      const dn = d * (1.0 - z) * (1.0 - n * n);
      const dz = d * (ld(hPrev, s + j) - n) * z * (1.0 - z);
      const dr = dn * ld(hh, x + 2 * H + j) * r * (1.0 - r);
      st(dxi, x + j, dr); st(dxi, x + H + j, dz); st(dxi, x + 2 * H + j, dn);
      st(dhh, x + j, dr); st(dhh, x + H + j, dz); st(dhh, x + 2 * H + j, dn * r);
      st(dhPrev, s + j, ld(dhPrev, s + j) + d * z);
    }
  }
}
