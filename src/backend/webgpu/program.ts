/// <reference types="@webgpu/types" />
// Kernels as WGSL templates, and the pipelines made from them. Every buffer is bound whole
// (element offsets travel as arguments, because binding offsets must be 256-byte aligned),
// and WebGPU refuses a dispatch that binds one buffer twice when either binding is writable.
// So a kernel names its buffer parameters ($name in its code) and, per call, the distinct
// buffers become the bindings: each parameter is rewritten to the binding of its buffer.
// A pattern of sharing (say c and cPrev in one buffer) is one more pipeline, made once. A buffer
// read as vec4f has a binding of its own beside any f32 one (both read-only: WebGPU refuses a
// writable binding of a buffer bound twice, so a caller reads a buffer it writes as f32).

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface BufParam {
  name: string;
  int?: boolean; // i32 elements (token ids), else f32
  write?: boolean;
  atomic?: boolean; // array<atomic<i32>> (with int and write): for kernels whose workgroups talk
  vec4?: boolean; // array<vec4f>, read-only: read four floats at a time
}

export interface KernelDef {
  key: string; // unique per distinct WGSL source
  bufs: readonly BufParam[];
  args: readonly (readonly [string, ScalarType])[];
  // WGSL with the entry point `main`; buffers as $name, arguments as a.name.
  code: string;
}

/** One binding per distinct buffer of a call; `slotOf[i]` is parameter i's binding. */
export interface Binding {
  slotOf: number[];
  writable: boolean[]; // per slot
  int: boolean[]; // per slot
  atomic: boolean[]; // per slot
  vec4: boolean[]; // per slot
}

export function bindingOf(def: KernelDef, bufs: readonly GPUBuffer[]): { binding: Binding; slots: GPUBuffer[] } {
  const slots: GPUBuffer[] = [], slotOf: number[] = [], writable: boolean[] = [], int: boolean[] = [], atomic: boolean[] = [], vec4: boolean[] = [];
  for (let i = 0; i < bufs.length; i++) {
    const p = def.bufs[i], v = p.vec4 === true;
    let s = slots.findIndex((b, j) => b === bufs[i] && vec4[j] === v);
    if (s < 0) {
      s = slots.length;
      slots.push(bufs[i]);
      writable.push(false);
      int.push(p.int === true);
      atomic.push(false);
      vec4.push(v);
    }
    if (int[s] !== (p.int === true)) throw new TypeError(`${def.key}: one buffer passed as both i32 and f32`);
    writable[s] ||= p.write === true;
    atomic[s] ||= p.atomic === true;
    slotOf.push(s);
  }
  if (vec4.some((v, s) => v && slots.some((b, t) => b === slots[s] && writable[t]))) throw new TypeError(`${def.key}: a buffer read as vec4f is also written`);
  return { binding: { slotOf, writable, int, atomic, vec4 }, slots };
}

/** The bind group layout's identity: what each binding is. */
export function signatureOf(b: Binding): string {
  return b.writable.map((w) => (w ? 'w' : 'r')).join('');
}

export function wgslOf(def: KernelDef, b: Binding, common: string): string {
  const lines: string[] = [];
  if (def.args.length > 0) {
    lines.push(`struct Args { ${def.args.map(([n, t]) => `${n}: ${t},`).join(' ')} }`);
  } else {
    lines.push('struct Args { unused: u32 }');
  }
  lines.push('@group(0) @binding(0) var<uniform> a: Args;');
  b.writable.forEach((w, s) => {
    lines.push(`@group(0) @binding(${s + 1}) var<storage, ${w ? 'read_write' : 'read'}> s${s}: array<${b.atomic[s] ? 'atomic<i32>' : b.int[s] ? 'i32' : b.vec4[s] ? 'vec4f' : 'f32'}>;`);
  });
  const names = new Map(def.bufs.map((p, i) => [p.name, `s${b.slotOf[i]}`]));
  const code = def.code.replace(/\$(\w+)/g, (_, n: string) => {
    const s = names.get(n);
    if (s === undefined) throw new Error(`${def.key}: unknown buffer $${n}`);
    return s;
  });
  return `${lines.join('\n')}\n${common}\n${code}`;
}
