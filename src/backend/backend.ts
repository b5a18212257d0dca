// The kernel interface every backend implements. Layers compose these; backends never
// know what a layer is. All matrices are row-major and contiguous; a Slice names a range
// of a backend-owned buffer, so parameters can live in one flat buffer.

/** A buffer owned by a backend; its contents are reachable only through the backend. */
export interface Buf {
  readonly length: number;
}

export interface Slice {
  buf: Buf;
  offset: number;
  length: number;
}

export function slice(buf: Buf, offset = 0, length = buf.length - offset): Slice {
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    throw new RangeError(`slice [${offset}, ${offset + length}) outside buffer of ${buf.length}`);
  }
  return { buf, offset, length };
}

export function sub(s: Slice, offset: number, length: number): Slice {
  if (offset < 0 || length < 0 || offset + length > s.length) {
    throw new RangeError(`sub-slice [${offset}, ${offset + length}) outside slice of ${s.length}`);
  }
  return { buf: s.buf, offset: s.offset + offset, length };
}

/** How drawRows picks each row's id (see Backend.drawRows). */
export interface DrawOptions {
  temperature: number;
  topK: number; // 0 = every id
  argmax: boolean;
  seed: number;
  stream: number;
  index: number; // row n draws uniform(seed, stream, index + n)
}

/** A network as sampleLoop runs it: its tensors (all in one buffer) and one stream's state. */
export interface SamplerNet {
  cell: 'lstm' | 'gru' | 'rnn';
  H: number;
  V: number;
  E: number; // 0: one-hot input
  layers: { wih: Slice; whh: Slice; bih: Slice; bhh: Slice }[];
  dec: Slice; // [V, H]
  decB: Slice; // [V]
  enc: Slice | null; // [V, E]
  h: Slice; // [L, H], carried on from call to call
  c: Slice | null; // [L, H], LSTM only
}

/**
 * Draws n ids in a row: the first step's input is first[0] (i32), step s draws with
 * uniform(o.seed, o.stream, o.index + s); drawn[s] (f32) gets its id and last[0] (i32) the last.
 */
export type SampleLoop = (first: Slice, last: Slice, drawn: Slice, n: number, o: DrawOptions) => void;

export interface Backend {
  readonly name: string;

  alloc(length: number): Buf; // zero-filled f32
  allocInt(length: number): Buf; // zero-filled i32 (token ids, targets)
  upload(dst: Slice, src: Float32Array | Int32Array): void;
  // The slice as every call made before this one leaves it; calls made after it, before it
  // resolves, do not change what it resolves to (so a caller may go on recording meanwhile).
  download(src: Slice): Promise<Float32Array>;
  flush(): Promise<void>;

  // C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, beta: number, C: Slice): void;
  // Optional, where a product packs its B first (the CPU): op(B)[K,N] packed once into
  // `packed` (packedLength(K, N) floats), for many products with the same B — a layer's W_hh
  // at every step of a sequence. gemmPacked is then gemm with that B, the same result bit for
  // bit; B is passed too, for the shapes that read it directly.
  packedLength?(K: number, N: number): number;
  packB?(transB: boolean, K: number, N: number, B: Slice, packed: Slice): void;
  gemmPacked?(transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Slice, B: Slice, packed: Slice, beta: number, C: Slice): void;

  // out[N,G] += b[G]
  addBias(out: Slice, b: Slice, N: number, G: number): void;
  // db[G] += Σ_n dout[n,G], and db2 likewise when given: one pass over dout for the two biases
  // of an LSTM or RNN layer, which get the same gradient. The same as a call for db, then one for db2.
  sumRows(db: Slice, dout: Slice, N: number, G: number, db2?: Slice): void;

  // One-hot input projection, the gather that replaces one-hot · Wᵀ:
  // out[N,G] += w[G,V][:, ids[n]]
  gatherCols(out: Slice, w: Slice, ids: Slice, N: number, G: number, V: number): void;
  // dw[G,V][:, ids[n]] += dout[n,G]
  scatterAddCols(dw: Slice, dout: Slice, ids: Slice, N: number, G: number, V: number): void;
  // Embedding: out[N,E] = table[V,E][ids[n], :]
  gatherRows(out: Slice, table: Slice, ids: Slice, N: number, E: number): void;
  // dtable[ids[n], :] += dout[n,E]
  scatterAddRows(dtable: Slice, dout: Slice, ids: Slice, N: number, E: number): void;

  // LSTM step, gates i,f,g,o. pre[B,4H] holds x·W_ihᵀ + h·W_hhᵀ + biases.
  // act[B,4H] = (σ(i), σ(f), tanh(g), σ(o)); c = f⊙cPrev + i⊙g; h = o⊙tanh(c)
  lstmStep(pre: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, B: number, H: number): void;
  // dh[B,H], dc[B,H] (in: from above and from step t+1) → dpre[B,4H]; dc is overwritten with dcPrev.
  lstmStepBackward(act: Slice, c: Slice, cPrev: Slice, dh: Slice, dc: Slice, dpre: Slice,
    B: number, H: number): void;

  // Optional, where a sequence's steps cost more one call at a time than together (a GPU's
  // dispatches): an LSTM layer's forward over T steps, leaving hs, cs and act as the recurrent
  // product and lstmStep of every step would (pre itself is not written). pre[T·B, 4H] holds
  // x·W_ihᵀ and both biases; hs, cs [(T+1)·B, H] the state carried in at step 0's rows;
  // act [T·B, 4H]. Returns false where it does not run them (the caller then steps).
  lstmForward?(pre: Slice, whh: Slice, hs: Slice, cs: Slice, act: Slice, T: number, B: number, H: number): boolean;
  // Its backward likewise: from the last step down, as lstmStepBackward and the product of each
  // step's gradients into the step before's dh would leave dh, dc and dpre. act, dpre [T·B, 4H];
  // cs [(T+1)·B, H]; dh [T·B, H] dL/dh from above; dc [B, H] zero.
  lstmBackward?(act: Slice, cs: Slice, dh: Slice, dc: Slice, dpre: Slice, whh: Slice, T: number, B: number, H: number): boolean;

  // GRU step, gates r,z,n as PyTorch. xi[B,3H] = x·W_ihᵀ + b_ih, hh[B,3H] = h·W_hhᵀ + b_hh.
  // act[B,3H] = (r, z, n); h = (1−z)⊙n + z⊙hPrev
  gruStep(xi: Slice, hh: Slice, hPrev: Slice, act: Slice, h: Slice, B: number, H: number): void;
  // dh[B,H] → dxi[B,3H], dhh[B,3H]; dhPrev[B,H] += z⊙dh (the part not through W_hh).
  gruStepBackward(act: Slice, hh: Slice, hPrev: Slice, dh: Slice, dxi: Slice, dhh: Slice,
    dhPrev: Slice, B: number, H: number): void;
  // Optional, as lstmForward: a GRU layer's T steps, leaving hs, hh and act as the product
  // (with b_hh) and gruStep of every step would. xi, hh, act [T·B, 3H]; bhh [3H]; hs [(T+1)·B, H].
  gruForward?(xi: Slice, bhh: Slice, hs: Slice, hh: Slice, act: Slice, whh: Slice, T: number, B: number, H: number): boolean;
  // Its backward, as gruStepBackward and each step's product into the step before's dh would
  // leave dh, dxi and dhh (step 0's z⊙dh, into the state carried in, is not kept).
  gruBackward?(act: Slice, hh: Slice, hs: Slice, dh: Slice, dxi: Slice, dhh: Slice, whh: Slice, T: number, B: number, H: number): boolean;

  // Optional, where a step's many small calls cost more than its work (batch-1 sampling on the
  // CPU): one step of a single stream with both products fused in. x is the input row [In] or,
  // with oneHot, its id (i32) of In symbols; h must not alias hPrev. As the separate kernels
  // with B = 1, from xi = W_ih·x + b_ih and hh = W_hh·hPrev + b_hh:
  //   lstmStepOne: lstmStep of pre = xi + hh (pre itself is not written);
  //   gruStepOne:  gruStep of (xi, hh), hh written too (the backward reads it);
  //   rnnStepOne:  h = tanh(xi + hh).
  lstmStepOne?(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, cPrev: Slice, act: Slice, c: Slice, h: Slice, H: number): void;
  gruStepOne?(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, act: Slice, hh: Slice, h: Slice, H: number): void;
  rnnStepOne?(x: Slice, oneHot: boolean, In: number, wih: Slice, bih: Slice, whh: Slice, bhh: Slice,
    hPrev: Slice, h: Slice, H: number): void;

  // Vanilla RNN: h[n] = tanh(pre[n]) over n elements, in place allowed.
  tanhForward(pre: Slice, h: Slice, n: number): void;
  // dpre = dh ⊙ (1 − h²)
  tanhBackward(h: Slice, dh: Slice, dpre: Slice, n: number): void;
  // Optional, as lstmForward: an RNN layer's T steps, leaving hs as the product and tanh of
  // every step would (pre, [T·B, H] with x·W_ihᵀ and both biases, is not written).
  rnnForward?(pre: Slice, hs: Slice, whh: Slice, T: number, B: number, H: number): boolean;
  // Its backward, as tanhBackward and each step's product into the step before's dh would leave dh and dpre.
  rnnBackward?(hs: Slice, dh: Slice, dpre: Slice, whh: Slice, T: number, B: number, H: number): boolean;

  // Inverted dropout: mask[i] = keep ? 1/(1−p) : 0 from the counter RNG at (seed, stream, i);
  // out = x ⊙ mask (out may be x). Backward is mul(dout, mask).
  dropout(x: Slice, out: Slice, mask: Slice, p: number, seed: number, stream: number): void;
  mul(x: Slice, m: Slice): void; // x *= m

  // Row-wise softmax cross-entropy over logits[N,V] and targets[N]:
  // losses[n] = −log softmax(logits[n])[targets[n]]; dlogits = (softmax − onehot)·gradScale.
  softmaxXent(logits: Slice, targets: Slice, losses: Slice, dlogits: Slice,
    N: number, V: number, gradScale: number): void;
  // probs[N,V] = softmax(logits / temperature)
  softmax(logits: Slice, probs: Slice, N: number, V: number, temperature: number): void;
  // Optional, where reading back is costly (a GPU) or a draw on the host per step is: one id
  // per row of logits[N,V], drawn as the host sampler draws from softmax(logits / temperature)
  // (src/sample/sample.ts), so sampling can run many steps without a read-back. ids[n] (i32)
  // gets the id, to be the next step's input; drawn[n] (f32) the same, to download.
  drawRows?(logits: Slice, ids: Slice, drawn: Slice, N: number, V: number, o: DrawOptions): void;
  // Optional, where even a few kernels per character cost more than the character (a GPU;
  // CPU threads, which would meet once per kernel): single-stream sampling of a whole network
  // for many characters per call, as the layers' steps, the decoder and drawRows would sample
  // it. Resolves to null where this backend cannot run `net` that way.
  sampleLoop?(net: SamplerNet): Promise<SampleLoop | null>;

  // Optimiser steps over matching slices of parameters, gradients and state.
  rmsprop(p: Slice, g: Slice, cache: Slice, lr: number, decay: number, eps: number): void;
  adam(p: Slice, g: Slice, m: Slice, v: Slice, lr: number, beta1: number, beta2: number,
    eps: number, step: number): void;
  adagrad(p: Slice, g: Slice, cache: Slice, lr: number, eps: number): void;

  sumSquares(x: Slice, out: Slice): void; // out[0] = Σ x²
  // x *= min(1, maxNorm / sqrt(sumsq[0])); the norm stays on the device.
  clipByNorm(x: Slice, sumsq: Slice, maxNorm: number): void;
  clamp(x: Slice, lo: number, hi: number): void;
  scale(x: Slice, alpha: number): void;
  fill(x: Slice, value: number): void;
  copy(dst: Slice, src: Slice): void;
}
