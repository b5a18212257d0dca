// Fused recurrent cell kernels for one time step, as torch-rnn and cuDNN fuse them:
// the matrix products happen outside; these do the gate math for a [B, G·H] block.

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

// act[B,4H] = (σ(i), σ(f), tanh(g), σ(o)) of pre[B,4H]; c[B,H] = f⊙cPrev + i⊙g; h[B,H] = o⊙tanh(c)
export function lstmStep(pre: Float32Array, po: number, cPrev: Float32Array, cpo: number,
  act: Float32Array, ao: number, c: Float32Array, co: number, h: Float32Array, ho: number,
  B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const p = po + b * 4 * H, a = ao + b * 4 * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(pre[p + j]);
      const f = sigmoid(pre[p + H + j]);
      const g = Math.tanh(pre[p + 2 * H + j]);
      const o = sigmoid(pre[p + 3 * H + j]);
      act[a + j] = i; act[a + H + j] = f; act[a + 2 * H + j] = g; act[a + 3 * H + j] = o;
      const cn = f * cPrev[cpo + b * H + j] + i * g;
      c[co + b * H + j] = cn;
      h[ho + b * H + j] = o * Math.tanh(cn);
    }
  }
}

// (dh[B,H], dc[B,H]) → dpre[B,4H]; dc becomes dcPrev.
export function lstmStepBackward(act: Float32Array, ao: number, c: Float32Array, co: number,
  cPrev: Float32Array, cpo: number, dh: Float32Array, dho: number, dc: Float32Array, dco: number,
  dpre: Float32Array, dpo: number, B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const a = ao + b * 4 * H, d = dpo + b * 4 * H;
    for (let j = 0; j < H; j++) {
      const i = act[a + j], f = act[a + H + j], g = act[a + 2 * H + j], o = act[a + 3 * H + j];
      const tc = Math.tanh(c[co + b * H + j]);
      const dhv = dh[dho + b * H + j];
      const dct = dc[dco + b * H + j] + dhv * o * (1 - tc * tc);
      dpre[d + j] = dct * g * i * (1 - i);
      dpre[d + H + j] = dct * cPrev[cpo + b * H + j] * f * (1 - f);
      dpre[d + 2 * H + j] = dct * i * (1 - g * g);
      dpre[d + 3 * H + j] = dhv * tc * o * (1 - o);
      dc[dco + b * H + j] = dct * f;
    }
  }
}

// PyTorch's GRU: r = σ(xi_r + hh_r), z = σ(xi_z + hh_z), n = tanh(xi_n + r⊙hh_n),
// h = (1−z)⊙n + z⊙hPrev; act[B,3H] = (r, z, n)
export function gruStep(xi: Float32Array, xo: number, hh: Float32Array, hho: number,
  hPrev: Float32Array, hpo: number, act: Float32Array, ao: number, h: Float32Array, ho: number,
  B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const x = xo + b * 3 * H, q = hho + b * 3 * H, a = ao + b * 3 * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(xi[x + j] + hh[q + j]);
      const z = sigmoid(xi[x + H + j] + hh[q + H + j]);
      const n = Math.tanh(xi[x + 2 * H + j] + r * hh[q + 2 * H + j]);
      act[a + j] = r; act[a + H + j] = z; act[a + 2 * H + j] = n;
      h[ho + b * H + j] = (1 - z) * n + z * hPrev[hpo + b * H + j];
    }
  }
}

// dh[B,H] → dxi[B,3H], dhh[B,3H]; dhPrev[B,H] += z⊙dh
export function gruStepBackward(act: Float32Array, ao: number, hh: Float32Array, hho: number,
  hPrev: Float32Array, hpo: number, dh: Float32Array, dho: number, dxi: Float32Array, dxo: number,
  dhh: Float32Array, dqo: number, dhPrev: Float32Array, dpo: number, B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const a = ao + b * 3 * H, q = hho + b * 3 * H, x = dxo + b * 3 * H, dq = dqo + b * 3 * H;
    for (let j = 0; j < H; j++) {
      const r = act[a + j], z = act[a + H + j], n = act[a + 2 * H + j];
      const d = dh[dho + b * H + j];
      const dn = d * (1 - z) * (1 - n * n);
      const dz = d * (hPrev[hpo + b * H + j] - n) * z * (1 - z);
      const dr = dn * hh[q + 2 * H + j] * r * (1 - r);
      dxi[x + j] = dr; dxi[x + H + j] = dz; dxi[x + 2 * H + j] = dn;
      dhh[dq + j] = dr; dhh[dq + H + j] = dz; dhh[dq + 2 * H + j] = dn * r;
      dhPrev[dpo + b * H + j] += d * z;
    }
  }
}

// h[n] = tanh(pre[n])
export function tanhForward(pre: Float32Array, po: number, h: Float32Array, ho: number, n: number): void {
  for (let i = 0; i < n; i++) h[ho + i] = Math.tanh(pre[po + i]);
}

// dpre = dh ⊙ (1 − h²)
export function tanhBackward(h: Float32Array, ho: number, dh: Float32Array, dho: number,
  dpre: Float32Array, dpo: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const y = h[ho + i];
    dpre[dpo + i] = dh[dho + i] * (1 - y * y);
  }
}
