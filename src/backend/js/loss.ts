// Softmax and cross-entropy over rows of logits, computed stably (max subtracted) in f64.

// losses[n] = −log softmax(logits[n])[targets[n]]; dlogits[n] = (softmax − onehot)·gradScale
export function softmaxXent(logits: Float32Array, lo: number, targets: Int32Array, to: number,
  losses: Float32Array, lso: number, dlogits: Float32Array, dlo: number,
  N: number, V: number, gradScale: number): void {
  for (let n = 0; n < N; n++) {
    const row = lo + n * V, drow = dlo + n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
    const y = targets[to + n];
    losses[lso + n] = Math.log(sum) - (logits[row + y] - max);
    const inv = gradScale / sum;
    for (let v = 0; v < V; v++) dlogits[drow + v] = Math.exp(logits[row + v] - max) * inv;
    dlogits[drow + y] -= gradScale;
  }
}

// probs[N,V] = softmax(logits / temperature)
export function softmax(logits: Float32Array, lo: number, probs: Float32Array, po: number,
  N: number, V: number, temperature: number): void {
  for (let n = 0; n < N; n++) {
    const row = lo + n * V, prow = po + n * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp((logits[row + v] - max) / temperature);
      probs[prow + v] = e;
      sum += e;
    }
    for (let v = 0; v < V; v++) probs[prow + v] /= sum;
  }
}
