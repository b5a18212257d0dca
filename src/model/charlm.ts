// The character language model: input (one-hot or embedding) → recurrent layers (with
// dropout on each layer's output) → linear decoder → softmax cross-entropy.
// Parameters and gradients each live in one flat buffer, laid out as paramLayout says.
import { slice, sub, type Backend, type Slice } from '../backend/backend.js';
import { UserError } from '../errors.js';
import { Stream } from '../backend/rng.js';
import { checkModelConfig, defaultModelConfig, gatesOf, type ModelConfig } from './config.js';
import { paramLayout, initParams, type ParamLayout } from './params.js';
import type { LayerInput, LayerParams, LayerState, RecurrentLayer } from './layer.js';
import { LSTMLayer } from './lstm.js';
import { GRULayer } from './gru.js';
import { RNNLayer } from './rnn.js';

// Parameters, gradients and optimiser state are f32 arrays of this length: 1 GiB each.
const MAX_PARAMS = 2 ** 28;

/** Hidden (and cell) state of every layer for B streams: h[L,B,H], c[L,B,H]. */
export class RecurrentState {
  readonly h: Slice;
  readonly c: Slice | null;
  private readonly perLayer: { h: Slice; c: Slice | null }[]; // made once: sampling asks every step
  constructor(private readonly be: Backend, readonly layers: number, readonly B: number, readonly H: number, lstm: boolean) {
    this.h = slice(be.alloc(layers * B * H));
    this.c = lstm ? slice(be.alloc(layers * B * H)) : null;
    const n = B * H;
    this.perLayer = Array.from({ length: layers }, (_, k) => ({ h: sub(this.h, k * n, n), c: this.c ? sub(this.c, k * n, n) : null }));
  }
  layer(k: number): { h: Slice; c: Slice | null } {
    return this.perLayer[k];
  }
  reset(): void {
    this.be.fill(this.h, 0);
    if (this.c) this.be.fill(this.c, 0);
  }
  /** This state becomes `src`'s, of the same shape. */
  copyFrom(src: RecurrentState): void {
    this.be.copy(this.h, src.h);
    if (this.c && src.c) this.be.copy(this.c, src.c);
  }
}

/** Buffers for one (T, B) shape, allocated once and reused every iteration. */
interface Workspace {
  ids: Slice; // [T·B] inputs, time-major
  targets: Slice; // [T·B]
  emb: Slice | null; // [T·B, E]
  demb: Slice | null;
  drop: Slice[]; // per layer [T·B, H], its output with dropout applied
  mask: Slice[];
  logits: Slice; // [T·B, V]
  dlogits: Slice;
  losses: Slice; // [T·B]
  top: Slice | null; // the decoder's input of the last forward
}

export interface ForwardOptions {
  train?: boolean; // dropout on
  seed?: number; // dropout masks come from (seed, iteration, layer)
  iteration?: number;
}

export class CharLM {
  readonly config: ModelConfig;
  readonly layout: ParamLayout;
  readonly params: Slice;
  readonly grads: Slice;
  private readonly layers: RecurrentLayer[] = [];
  private readonly workspaces = new Map<string, Workspace>();
  // The decoder's and encoder's tensors, looked up once: sampling runs a forward per character.
  private readonly io: { dec: Slice; decB: Slice; dDec: Slice; dDecB: Slice; enc: Slice | null; dEnc: Slice | null };
  private readonly states = new Map<string, RecurrentState>();
  private readonly scratchBufs = new Map<string, Slice>();

  constructor(readonly backend: Backend, config: ModelConfig, readonly vocabSize: number) {
    this.config = checkModelConfig({ ...config });
    this.layout = paramLayout(this.config, vocabSize);
    if (this.layout.total > MAX_PARAMS) {
      throw new UserError(`a ${this.config.layers}×${this.config.hidden} ${this.config.model} has ${this.layout.total.toLocaleString('en-US')} parameters; at most ${MAX_PARAMS.toLocaleString('en-US')} are supported`);
    }
    this.params = slice(backend.alloc(this.layout.total));
    this.grads = slice(backend.alloc(this.layout.total));
    const { model, layers, hidden } = this.config;
    const G = gatesOf(model) * hidden;
    for (let k = 0; k < layers; k++) {
      const pick = (s: Slice): LayerParams => ({
        wih: this.tensor(s, `rnn.weight_ih_l${k}`), whh: this.tensor(s, `rnn.weight_hh_l${k}`),
        bih: this.tensor(s, `rnn.bias_ih_l${k}`), bhh: this.tensor(s, `rnn.bias_hh_l${k}`),
      });
      const Layer = model === 'lstm' ? LSTMLayer : model === 'gru' ? GRULayer : RNNLayer;
      this.layers.push(new Layer(backend, hidden, G, pick(this.params), pick(this.grads)));
    }
    const enc = this.config.embedding > 0;
    this.io = {
      dec: this.tensor(this.params, 'decoder.weight'), decB: this.tensor(this.params, 'decoder.bias'),
      dDec: this.tensor(this.grads, 'decoder.weight'), dDecB: this.tensor(this.grads, 'decoder.bias'),
      enc: enc ? this.tensor(this.params, 'encoder.weight') : null, dEnc: enc ? this.tensor(this.grads, 'encoder.weight') : null,
    };
  }

  /** A new model with char-rnn's initialisation, drawn from `seed`. */
  static create(backend: Backend, config: Partial<ModelConfig>, vocabSize: number, seed = 123): CharLM {
    const m = new CharLM(backend, { ...defaultModelConfig, ...config }, vocabSize);
    backend.upload(m.params, initParams(m.config, m.layout, seed));
    return m;
  }

  /** The named tensor's range within the parameter (or gradient) buffer. */
  tensor(buf: Slice, name: string): Slice {
    const s = this.layout.byName.get(name);
    if (!s) throw new Error(`no parameter ${name}`);
    return sub(buf, s.offset, s.length);
  }

  newState(B: number): RecurrentState {
    return new RecurrentState(this.backend, this.config.layers, B, this.config.hidden, this.config.model === 'lstm');
  }

  /**
   * A zeroed state kept under `name` for reuse: evaluation and sampling run again and again
   * during training, and a backend's buffers are never freed.
   */
  scratchState(name: string, B: number): RecurrentState {
    const key = `${name}:${B}`;
    let s = this.states.get(key);
    if (!s) this.states.set(key, (s = this.newState(B)));
    s.reset();
    return s;
  }

  /** A buffer (f32, or i32 with `int`) kept under `name` for reuse, as scratchState. */
  scratch(name: string, length: number, int = false): Slice {
    const key = `${name}:${length}${int ? ':i32' : ''}`;
    let s = this.scratchBufs.get(key);
    if (!s) this.scratchBufs.set(key, (s = slice(int ? this.backend.allocInt(length) : this.backend.alloc(length))));
    return s;
  }

  /** Mean cross-entropy of targets given inputs (both time-major [T·B]); state carries on. */
  async loss(inputs: Int32Array, targets: Int32Array, T: number, B: number, state: RecurrentState,
    opts: ForwardOptions = {}): Promise<number> {
    return this.meanLoss(this.forwardLoss(inputs, targets, T, B, state, opts));
  }

  /**
   * Forward and backward over one batch: leaves dL/dθ (mean loss) added into `grads`
   * and returns the mean loss. The caller zeroes `grads` when it starts a new step.
   */
  async lossAndGrad(inputs: Int32Array, targets: Int32Array, T: number, B: number, state: RecurrentState,
    opts: ForwardOptions = {}): Promise<number> {
    const be = this.backend;
    const ws = this.forwardLoss(inputs, targets, T, B, state, opts);
    const N = T * B, V = this.vocabSize, H = this.config.hidden;
    const layers = this.layers, L = layers.length;
    be.gemm(true, false, V, H, N, 1, ws.dlogits, ws.top!, 1, this.io.dDec);
    be.sumRows(this.io.dDecB, ws.dlogits, N, V);
    // Each gradient of a layer's output is written where that layer's backward reads it.
    be.gemm(false, false, N, H, V, 1, ws.dlogits, this.io.dec, 0, layers[L - 1].gradOutput());
    const dropping = opts.train === true && this.config.dropout > 0;
    for (let k = L - 1; k >= 0; k--) {
      if (dropping) be.mul(layers[k].gradOutput(), ws.mask[k]);
      layers[k].backward(k > 0 ? layers[k - 1].gradOutput() : ws.demb);
    }
    if (ws.emb) be.scatterAddRows(this.io.dEnc!, ws.demb!, ws.ids, N, this.config.embedding);
    return this.meanLoss(ws);
  }

  /**
   * Logits [T·B, V] for the inputs, from `state` (which carries on). Sampling and inspection use
   * this; inputs may already be on the backend (an i32 slice), as ids a device sampler drew.
   */
  logits(inputs: Int32Array | Slice, T: number, B: number, state: RecurrentState): Slice {
    return this.forward(inputs, T, B, state, {}).logits;
  }

  /**
   * Puts `state` back as the last forward found it, so that the forward can run again: after a
   * LostWorkError, or any other way its work was lost.
   */
  rewind(state: RecurrentState): void {
    this.layers.forEach((l, k) => l.rewind(state.layer(k)));
  }

  /**
   * Per layer, the hidden (and, for LSTM, cell) state after every step of the last forward:
   * [T·B, H] each, time-major. Valid until the next forward; inspection reads it.
   */
  layerStates(): LayerState[] {
    return this.layers.map((l) => l.states());
  }

  // Forward, then the per-position losses and their gradient dlogits (of the mean loss).
  private forwardLoss(inputs: Int32Array, targets: Int32Array, T: number, B: number, state: RecurrentState,
    opts: ForwardOptions): Workspace {
    const ws = this.forward(inputs, T, B, state, opts);
    this.backend.upload(ws.targets, targets);
    this.backend.softmaxXent(ws.logits, ws.targets, ws.losses, ws.dlogits, T * B, this.vocabSize, 1 / (T * B));
    return ws;
  }

  private forward(inputs: Int32Array | Slice, T: number, B: number, state: RecurrentState, opts: ForwardOptions): Workspace {
    const be = this.backend;
    if (state.B !== B) throw new Error(`state for ${state.B} streams used with a batch of ${B}`);
    const ws = this.workspace(T, B);
    const N = T * B, V = this.vocabSize;
    let ids = ws.ids;
    if (inputs instanceof Int32Array) be.upload(ws.ids, inputs);
    else ids = inputs;
    let x: LayerInput;
    if (ws.emb) {
      be.gatherRows(ws.emb, this.io.enc!, ids, N, this.config.embedding);
      x = { x: ws.emb, size: this.config.embedding };
    } else {
      x = { ids, size: V };
    }
    const { hidden: H, dropout: p } = this.config;
    const dropping = opts.train === true && p > 0;
    let top!: Slice; // the last layer's (dropped) output
    for (let k = 0; k < this.layers.length; k++) {
      top = this.layers[k].forward(x, state.layer(k), T, B);
      if (dropping) {
        const stream = (Stream.dropoutBase + (opts.iteration ?? 0) * this.layers.length + k) >>> 0;
        be.dropout(top, ws.drop[k], ws.mask[k], p, opts.seed ?? 0, stream);
        top = ws.drop[k];
      }
      x = { x: top, size: H };
    }
    ws.top = top;
    be.gemm(false, true, N, V, H, 1, ws.top, this.io.dec, 0, ws.logits);
    be.addBias(ws.logits, this.io.decB, N, V);
    return ws;
  }

  private async meanLoss(ws: Workspace): Promise<number> {
    const losses = await this.backend.download(ws.losses);
    let s = 0;
    for (let i = 0; i < losses.length; i++) s += losses[i];
    return s / losses.length;
  }

  private workspace(T: number, B: number): Workspace {
    const key = `${T}x${B}`;
    let ws = this.workspaces.get(key);
    if (ws) return ws;
    const be = this.backend, N = T * B, V = this.vocabSize;
    const { hidden: H, embedding: E, layers: L, dropout } = this.config;
    const f = (n: number): Slice => slice(be.alloc(n));
    const int = (n: number): Slice => slice(be.allocInt(n));
    ws = {
      ids: int(N), targets: int(N),
      emb: E > 0 ? f(N * E) : null, demb: E > 0 ? f(N * E) : null,
      drop: dropout > 0 ? Array.from({ length: L }, () => f(N * H)) : [],
      mask: dropout > 0 ? Array.from({ length: L }, () => f(N * H)) : [],
      logits: f(N * V), dlogits: f(N * V), losses: f(N), top: null,
    };
    this.workspaces.set(key, ws);
    return ws;
  }

  /** Every parameter as a named host copy, in layout order. */
  async exportParams(): Promise<Map<string, Float32Array>> {
    const all = await this.backend.download(this.params);
    return new Map(this.layout.specs.map((s) => [s.name, all.slice(s.offset, s.offset + s.length)]));
  }

  importParams(tensors: Map<string, Float32Array> | Record<string, Float32Array>): void {
    const get = (n: string): Float32Array | undefined => (tensors instanceof Map ? tensors.get(n) : tensors[n]);
    for (const s of this.layout.specs) {
      const t = get(s.name);
      if (!t) throw new Error(`missing parameter ${s.name}`);
      if (t.length !== s.length) throw new Error(`parameter ${s.name} has ${t.length} values, expected ${s.length}`);
      this.backend.upload(sub(this.params, s.offset, s.length), t);
    }
  }
}

