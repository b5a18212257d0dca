// One logical tensor held by the js reference and by a backend under test, at the same
// awkward offset with guard values around it, so kernels are compared whole-buffer.
import assert from 'node:assert/strict';
import { slice, type Backend, type Slice } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { uniform } from '../../src/backend/rng.js';

export const LEAD = 3; // data starts this many floats into each buffer: neither 0 nor a multiple of 4
export const TAIL = 5; // and guard values follow it; both must come back untouched

let seedCounter = 1000;
export function randoms(n: number, lo = -1, hi = 1): Float32Array {
  const s = seedCounter++;
  return new Float32Array(n).map((_, i) => lo + (hi - lo) * uniform(s, 7, i));
}
export function randomIds(n: number, V: number): Int32Array {
  const s = seedCounter++;
  return new Int32Array(n).map((_, i) => Math.min(V - 1, Math.floor(uniform(s, 8, i) * V)));
}

export interface Twin { ref: Slice; dut: Slice; n: number }
export type Pick = (t: Twin) => Slice;

export class Twins<B extends Backend = Backend> {
  readonly ref = new JsBackend();
  // lead: where each tensor's data starts in its buffer (LEAD, or a multiple of 4 for kernels that read vectors).
  constructor(readonly dut: B, readonly lead = LEAD) {}

  private make(data: Float32Array | Int32Array): Twin {
    const int = data instanceof Int32Array, lead = this.lead;
    const total = lead + data.length + TAIL;
    const whole = int ? new Int32Array(total) : randoms(total, -9, 9);
    if (int) whole.fill(-7); else whole.fill(NaN, 0, 1);
    whole.set(data, lead);
    const twin = (be: Backend): Slice => {
      const buf = int ? be.allocInt(total) : be.alloc(total);
      be.upload(slice(buf), whole);
      return slice(buf, lead, data.length);
    };
    return { ref: twin(this.ref), dut: twin(this.dut), n: data.length };
  }
  f(n: number, lo = -1, hi = 1): Twin { return this.make(randoms(n, lo, hi)); }
  of(data: Float32Array | Int32Array): Twin { return this.make(data); }
  ids(n: number, V: number): Twin { return this.make(randomIds(n, V)); }

  run(fn: (be: Backend, s: Pick) => void): void {
    fn(this.ref, (t) => t.ref);
    fn(this.dut, (t) => t.dut);
  }

  /** The backend's copy made equal to the reference's (whole buffer), so a later kernel is compared alone. */
  async sync(t: Twin): Promise<void> {
    this.dut.upload(slice(t.dut.buf), await this.ref.download(slice(t.ref.buf)));
  }

  /** The whole buffers, guards included: exact when tol is 0, else |Δ| ≤ tol·(1+|x|) inside. */
  async same(t: Twin, label: string, tol = 0): Promise<void> {
    const a = await this.ref.download(slice(t.ref.buf));
    const b = await this.dut.download(slice(t.dut.buf));
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      const inside = i >= this.lead && i < this.lead + t.n;
      const exact = tol === 0 || !inside;
      const ok = Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])) ||
        (!exact && Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(a[i])));
      if (!ok) assert.fail(`${label}: [${inside ? i - this.lead : `guard ${i}`}] js ${a[i]} ${this.dut.name} ${b[i]}`);
    }
  }
}
