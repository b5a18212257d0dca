// Softmax and cross-entropy over rows of logits, stably (max subtracted) and in f64 as the
// reference, so sampled text drawn from these probabilities matches the reference's.

@inline function ld(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
@inline function st(p: usize, i: i32, v: f64): void { store<f32>(p + (<usize>i << 2), <f32>v); }

@inline function rowMax(row: usize, V: i32): f64 {
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = ld(row, v);
    if (x > max) max = x;
  }
  return max;
}

// losses[n] = −log softmax(logits[n])[targets[n]]; dlogits[n] = (softmax − onehot)·gradScale
export function softmaxXent(logits: usize, targets: usize, losses: usize, dlogits: usize,
  N: i32, V: i32, gradScale: f64): void {
  const rowBytes = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const row = logits + <usize>n * rowBytes, drow = dlogits + <usize>n * rowBytes;
    const max = rowMax(row, V);
    let sum = 0.0;
    for (let v = 0; v < V; v++) sum += Math.exp(ld(row, v) - max);
    const y = load<i32>(targets + (<usize>n << 2));
    st(losses, n, Math.log(sum) - (ld(row, y) - max));
    const inv = gradScale / sum;
    for (let v = 0; v < V; v++) st(drow, v, Math.exp(ld(row, v) - max) * inv);
    st(drow, y, ld(drow, y) - gradScale);
  }
}

// probs[N,V] = softmax(logits / temperature). The reference divides the f32-rounded
// exponentials by the f64 sum of the unrounded ones; so does this.
export function softmax(logits: usize, probs: usize, N: i32, V: i32, temperature: f64): void {
  const rowBytes = <usize>V << 2;
  for (let n = 0; n < N; n++) {
    const row = logits + <usize>n * rowBytes, prow = probs + <usize>n * rowBytes;
    const max = rowMax(row, V);
    let sum = 0.0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp((ld(row, v) - max) / temperature);
      st(prow, v, e);
      sum += e;
    }
    for (let v = 0; v < V; v++) st(prow, v, ld(prow, v) / sum);
  }
}
