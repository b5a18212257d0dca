// Optimisers over the one flat parameter buffer: each step is a single kernel call.
// Their state tensors are named for checkpoints (optim.cache, optim.m, optim.v).
import { slice, type Backend, type Slice } from '../backend/backend.js';
import type { OptimizerName, TrainOptions } from './options.js';

/** The state tensors each optimiser keeps, by their checkpoint names. */
export function optimizerStateNames(name: OptimizerName): string[] {
  return name === 'adam' ? ['optim.m', 'optim.v'] : ['optim.cache'];
}

export class Optimizer {
  readonly state: Map<string, Slice> = new Map();
  step = 0; // updates applied so far; Adam's bias correction counts them

  constructor(private readonly be: Backend, readonly name: OptimizerName, private readonly n: number) {
    for (const s of optimizerStateNames(name)) this.state.set(s, slice(be.alloc(n)));
  }

  update(params: Slice, grads: Slice, lr: number, o: TrainOptions): void {
    this.step++;
    const s = (k: string): Slice => this.state.get(k)!;
    if (this.name === 'rmsprop') this.be.rmsprop(params, grads, s('optim.cache'), lr, o.decay, 1e-8);
    else if (this.name === 'adam') this.be.adam(params, grads, s('optim.m'), s('optim.v'), lr, 0.9, 0.999, 1e-8, this.step);
    else this.be.adagrad(params, grads, s('optim.cache'), lr, 1e-10);
  }

  async exportState(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [k, v] of this.state) out.set(k, await this.be.download(v));
    return out;
  }

  importState(tensors: Map<string, Float32Array>, step: number): void {
    for (const [k, v] of this.state) {
      const t = tensors.get(k);
      if (!t || t.length !== this.n) throw new Error(`optimizer state ${k} missing or of the wrong size`);
      this.be.upload(v, t);
    }
    this.step = step;
  }
}
