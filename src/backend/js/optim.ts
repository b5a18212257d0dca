// Optimiser updates, elementwise over matching ranges of parameters, gradients and state.

// char-rnn's RMSprop (optim.rmsprop): cache = decay·cache + (1−decay)·g²; p −= lr·g/(√cache + eps)
export function rmsprop(p: Float32Array, po: number, g: Float32Array, go: number,
  cache: Float32Array, co: number, n: number, lr: number, decay: number, eps: number): void {
  for (let i = 0; i < n; i++) {
    const gi = g[go + i];
    const m = decay * cache[co + i] + (1 - decay) * gi * gi;
    cache[co + i] = m;
    p[po + i] -= lr * gi / (Math.sqrt(m) + eps);
  }
}

// Adam with bias correction; step counts from 1.
export function adam(p: Float32Array, po: number, g: Float32Array, go: number,
  m: Float32Array, mo: number, v: Float32Array, vo: number, n: number,
  lr: number, beta1: number, beta2: number, eps: number, step: number): void {
  const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < n; i++) {
    const gi = g[go + i];
    const mi = beta1 * m[mo + i] + (1 - beta1) * gi;
    const vi = beta2 * v[vo + i] + (1 - beta2) * gi * gi;
    m[mo + i] = mi; v[vo + i] = vi;
    p[po + i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
  }
}

// cache += g²; p −= lr·g/(√cache + eps)
export function adagrad(p: Float32Array, po: number, g: Float32Array, go: number,
  cache: Float32Array, co: number, n: number, lr: number, eps: number): void {
  for (let i = 0; i < n; i++) {
    const gi = g[go + i];
    const c = cache[co + i] + gi * gi;
    cache[co + i] = c;
    p[po + i] -= lr * gi / (Math.sqrt(c) + eps);
  }
}
