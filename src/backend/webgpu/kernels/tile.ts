// The tiled product that the matrix product (gemm.ts) and the fused recurrent step (step.ts)
// share, generated as WGSL: a workgroup computes a BM×BN tile of op(A)·op(B),
// K in steps of BK through workgroup memory; thread (tx, ty) holds RM×RN accumulators as named
// scalars: no thread-local array, which a driver may keep in slow local memory (NVIDIA's did,
// for 8×8 accumulators indexed in loops). Its rows come in runs of up to 4 and its columns
// likewise, each run one vector read of workgroup memory (an H200 trained 3–14% faster than
// with a scalar read per value), with neighbouring threads' runs side by side so the reads of
// a warp do not meet in a bank. The loads of the next K-step go out before the current step's
// arithmetic, so that their latency hides behind it.
//
// With G > 1 the workgroup holds G such thread grids, each with its own tiles in workgroup
// memory: grid g sums K-steps g, g + G, …, and at the end the grids' sums are added in order of
// g into grid 0, which alone runs the epilogue. A product too small to fill the GPU (a time
// step's) so gets G times the warps to hide its latency with, as slices along K would (slices.ts),
// without writing its partial sums out or a second dispatch to add them.
//
// An operand whose layout allows it (TileSide vec4) is read from memory four floats at a time.
//
// With `double` the tiles come twice in workgroup memory: while the threads multiply from one
// K-step's tiles they store the next K-step's into the others, so a K-step needs one barrier
// instead of two (at twice the workgroup memory).

export interface TileShape {
  BM: number; BN: number; BK: number; // tile of the product, and its K-step
  RM: number; RN: number; // rows and columns per thread
  G?: number; // thread grids splitting K between them (1 if absent)
  double?: boolean; // two sets of tiles, one barrier per K-step
}

/** What a device allows a workgroup: threads, and bytes of workgroup memory. */
export interface TileLimits { threads: number; sharedBytes: number }

/**
 * Tile t on G thread grids along K: from 4 grids on, each on half the K-step, so that the grids'
 * tiles of every tile in gemm.ts and step.ts fit in 30 KiB of workgroup memory.
 */
export const gridsOf = <T extends { BK: number; G?: number }>(t: T, G: number): T => (G > 1 ? { ...t, G, BK: G >= 4 ? t.BK / 2 : t.BK } : t);

/** Tile t with its tiles twice in workgroup memory, one barrier per K-step (`double`). */
export const doubledOf = <T extends { double?: boolean }>(t: T): T => ({ ...t, double: true });

/** Whether a device runs a workgroup on tile t. */
export const tileFits = (t: TileShape, limits: TileLimits): boolean => tileThreads(t) <= limits.threads && tileSharedBytes(t) <= limits.sharedBytes;

/**
 * How one operand's tile is read: `at` indexes the buffer from tile row/column m|n, k and tile
 * start kt. With vec4 the buffer is an array<vec4f>, read four values at a time along the
 * operand's contiguous dimension (k, or m|n where kMajor): its offset and that dimension's
 * length and stride must be multiples of 4, which the caller checks.
 */
export interface TileSide { kMajor: boolean; at: string; vec4?: boolean; read?: TileRead }

/**
 * An operand read otherwise than from its buffer, one value at a time: `issue(index)` (with
 * `ok` in scope, false outside the operand) gives a register of `type` when the K-step's loads
 * go out, `take(register)` the value when it is stored into workgroup memory, after the
 * current K-step's arithmetic. A read that must wait for its value (the exchange of
 * kernels/sequence.ts) so waits behind the arithmetic, its loads all in flight together.
 */
export interface TileRead { type: string; issue: (index: string) => string; take: (register: string) => string }

export interface TileOptions {
  a: TileSide; b: TileSide;
  aOk: string; bOk: string; // whether tile row m (of A) or column n (of B) exists
  aOffset: string; bOffset: string;
  // Thread column c's tile column, in terms of tx (default: runs of up to 4 per thread,
  // consecutive threads' runs side by side); columns come in runs of WB, each run contiguous.
  cols?: { WB: number; col: (c: number) => string };
  // The K range of the product (default all of it, 0 … a.K): a slice, for products split along K.
  k?: { begin: string; end: string };
}

export interface TileCode {
  threads: number;
  shared: string; // module-scope declarations
  body: string; // leaves the accumulators of the whole product in acc(r, c)
  acc(r: number, c: number): string;
  lead(code: string): string; // code run by the threads that end with the whole sums (grid 0)
  rows(f: (r: number, m: string) => string): string;
  cols(f: (c: number, n: string) => string): string;
}

const PAD = 4; // row padding of the shared tiles, so that transposed stores spread over the banks
const RED = 1024; // floats of workgroup memory through which the grids add their sums, in rounds

/** Threads of a workgroup on tile t. */
export const tileThreads = (t: TileShape): number => (t.BN / t.RN) * (t.BM / t.RM) * (t.G ?? 1);

/** Bytes of workgroup memory a workgroup on tile t uses. */
export function tileSharedBytes(t: TileShape): number {
  const G = t.G ?? 1, NT = tileThreads(t) / G;
  return 4 * ((t.double ? 2 : 1) * G * t.BK * (t.BM + PAD + t.BN + PAD) + (G > 1 ? (G - 1) * redChunk(t, NT) * NT : 0));
}

// Accumulators per thread that each round of the grids' sum passes through workgroup memory.
const redChunk = (t: TileShape, NT: number): number => Math.max(1, Math.min(t.RM * t.RN, Math.floor(RED / (((t.G ?? 1) - 1) * NT))));

export function gemmTileCode(t: TileShape, o: TileOptions): TileCode {
  const { BM, BN, BK, RM, RN } = t, G = t.G ?? 1, D = t.double === true ? 2 : 1;
  const TX = BN / RN, TY = BM / RM, NT = TX * TY, AS = BM + PAD, BS = BN + PAD;
  const id = G === 1 ? 'li' : 'lt'; // the thread's index in its grid
  if (!Number.isInteger(TX) || !Number.isInteger(TY)) throw new Error(`tile ${BM}×${BN} is not ${RM}×${RN} per thread`);
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const acc = (r: number, c: number): string => `acc${r}_${c}`;
  const run = (n: number): number => (n % 4 === 0 ? 4 : n % 2 === 0 ? 2 : 1);
  const WA = run(RM), WB = o.cols?.WB ?? run(RN);
  const row = (r: number): string => `((${Math.floor(r / WA) * TY}u + ty) * ${WA}u + ${r % WA}u)`;
  const col = o.cols?.col ?? ((c: number): string => `((${Math.floor(c / WB) * TX}u + tx) * ${WB}u + ${c % WB}u)`);
  const vecType = (w: number): string => (w === 1 ? 'f32' : `vec${w}f`);
  const kBegin = o.k?.begin ?? '0u', kEnd = o.k?.end ?? 'a.K';
  const lane = (w: number, i: number): string => (w === 1 ? '' : `.${'xyzw'[i]}`);

  // Where grid kg's tile starts in an array of `size` elements per tile: in set `set` of the
  // two (double; the set a K-step multiplies from is db).
  const tileBase = (size: number, set: string): string => {
    const slot = D === 1 ? (G === 1 ? '' : 'kg') : G === 1 ? set : `(${set}) * ${G}u + kg`;
    return slot === '' ? '' : `${slot.includes(' ') ? `(${slot})` : slot} * ${size}u + `;
  };

  // One operand's tile: L loads per thread, each of element e = li + s·NT of the tile, or with
  // vec4 of its V = 4 values from element 4e on along the contiguous dimension.
  const side = (name: 'A' | 'B', s: TileSide, ok: string, offset: string, size: number, stride: number) => {
    const V = s.vec4 === true ? 4 : 1, run = s.kMajor ? size : BK;
    if (run % V !== 0) throw new Error(`tile ${BM}×${BN}k${BK}: ${name}'s rows of ${run} cannot be read in vectors of ${V}`);
    const L = Math.ceil((size * BK) / (V * NT)), exact = L * NT * V === size * BK;
    const ix = name === 'A' ? 'm' : 'n';
    const coords = (sIdx: number): string => {
      const e = `${id} + ${sIdx * NT}u`, v = V === 1 ? '' : ` * ${V}u`;
      return s.kMajor ? `let e = ${e}; let k = e / ${size / V}u; let ${ix} = e % ${size / V}u${v};` : `let e = ${e}; let ${ix} = e / ${BK / V}u; let k = e % ${BK / V}u${v};`;
    };
    const guard = (code: string): string => (exact ? code : `if (e < ${(size * BK) / V}u) { ${code} }`);
    const zero = V === 1 ? '0.0' : 'vec4f(0.0)';
    const regs = range(L).map((i) => `var p${name}${i} = ${s.read ? `${s.read.type}()` : zero};`).join(' ');
    // Branch-free (a read at the operand's start instead of outside it, then discarded): CPU
    // compilers (SwiftShader) take minutes over a few dozen guarded loads.
    if (s.read && V > 1) throw new Error(`tile ${BM}×${BN}k${BK}: ${name}'s own reads are not in vectors`);
    const at = `${offset} + select(0u, ${s.at}, ok)`;
    const loaded = s.read ? s.read.issue(at) : `select(${zero}, ${V === 1 ? `$${name}[${at}]` : `$${name}[(${at}) / 4u]`}, ok)`;
    const load = range(L).map((i) => `  { ${coords(i)} ${guard(`let ok = (${ok}) & (kt + k < kEnd); p${name}${i} = ${loaded};`)} }`).join('\n');
    const W = name === 'A' ? WA : WB;
    const store = (set: string): string => {
      const base = tileBase(BK * stride / W, set);
      const ref = (k: string, x: string): string => (W === 1 ? `${name}s[${base}${k} * ${stride}u + ${x}]`
        : `${name}s[${base}(${k} * ${stride}u + ${x}) / ${W}u][(${k} * ${stride}u + ${x}) % ${W}u]`);
      // A vector along k lands in V rows of the tile; one along m|n in one row, in one vector
      // store where the tile's vectors are as wide.
      const put = (p: string): string => (V === 1 ? `${ref('k', ix)} = ${p};`
        : s.kMajor && W === V ? `${name}s[${base}(k * ${stride}u + ${ix}) / ${W}u] = ${p};`
          : range(V).map((c) => `${s.kMajor ? ref('k', `${ix} + ${c}u`) : ref(`(k + ${c}u)`, ix)} = ${p}.${'xyzw'[c]};`).join(' '));
      return range(L).map((i) => `    { ${coords(i)} ${guard(put(s.read ? s.read.take(`p${name}${i}`) : `p${name}${i}`))} }`).join('\n');
    };
    return { regs, load, store };
  };
  const A = side('A', o.a, o.aOk, o.aOffset, BM, AS);
  const B = side('B', o.b, o.bOk, o.bOffset, BN, BS);

  // One k of the tile: a loop over k (whose index only addresses workgroup memory) keeps the
  // code short for compilers that run on the CPU (SwiftShader, llvmpipe); GPU drivers unroll it.
  const step = [
    ...range(RM / WA).map((g) => `let av${g} = As[${tileBase(BK * AS / WA, 'db')}(kk * ${AS}u + ${row(g * WA)}) / ${WA}u];`),
    ...range(RM).map((r) => `let a${r} = av${Math.floor(r / WA)}${lane(WA, r % WA)};`),
    ...range(RN / WB).map((g) => `let bv${g} = Bs[${tileBase(BK * BS / WB, 'db')}(kk * ${BS}u + ${col(g * WB)}) / ${WB}u];`),
    ...range(RN).map((c) => `let b${c} = bv${Math.floor(c / WB)}${lane(WB, c % WB)};`),
    ...range(RM).flatMap((r) => range(RN).map((c) => `${acc(r, c)} = fma(a${r}, b${c}, ${acc(r, c)});`)),
  ].join(' ');

  // Grids 1 … G−1 pass their sums to grid 0 through Red, a round of `chunk` accumulators at a
  // time; grid 0 adds them in order of grid.
  const gridSum = (): string => {
    const all = range(RM).flatMap((r) => range(RN).map((c) => acc(r, c))), chunk = redChunk(t, NT), rounds: string[] = [];
    for (let e0 = 0; e0 < all.length; e0 += chunk) {
      const part = all.slice(e0, e0 + chunk);
      rounds.push(`  if (kg != 0u) {
${part.map((v, i) => `    Red[((kg - 1u) * ${chunk}u + ${i}u) * ${NT}u + lt] = ${v};`).join('\n')}
  }
  workgroupBarrier();
  if (kg == 0u) {
${part.map((v, i) => range(G - 1).map((g) => `    ${v} += Red[${(g * chunk + i) * NT}u + lt];`).join('\n')).join('\n')}
  }`);
    }
    return rounds.join('\n  workgroupBarrier();\n');
  };
  // The K loop: K-steps kBegin, kBegin + BK, … (G = 1), or grid kg's every G-th of them, all
  // grids running the same number of K-steps (the barriers need it), past the end of K on zeros.
  const loop = G === 1
    ? { ids: `let tx = li % ${TX}u;\n  let ty = li / ${TX}u;`, first: kBegin, head: `for (var k0 = ${kBegin}; k0 < kEnd; k0 += ${BK}u)`, next: `k0 + ${BK}u`, more: 'kt < kEnd' }
    : {
      ids: `let lt = li % ${NT}u;\n  let kg = li / ${NT}u;\n  let tx = lt % ${TX}u;\n  let ty = lt / ${TX}u;\n  let kFirst = ${kBegin} + kg * ${BK}u;`,
      first: 'kFirst',
      head: `let kSteps = (select(0u, kEnd - (${kBegin}), kEnd > ${kBegin}) + ${G * BK - 1}u) / ${G * BK}u;\n  for (var s = 0u; s < kSteps; s++)`,
      next: `kFirst + (s + 1u) * ${G * BK}u`, more: 's + 1u < kSteps',
    };
  const multiply = `    for (var kk = 0u; kk < ${BK}u; kk++) { ${step} }`;
  // Single: store the K-step's tiles, barrier, load the next, multiply, barrier (before the
  // tiles are overwritten). Double: the first tiles stored before the loop, then load the next,
  // multiply from set db, store the next into the other set, barrier: a thread stores into the
  // set that all threads finished reading before the last barrier.
  const kLoop = D === 1 ? `  ${loop.head} {
${A.store('')}
${B.store('')}
    workgroupBarrier();
    {
    let kt = ${loop.next};
    if (${loop.more}) {
${A.load}
${B.load}
    }
    }
${multiply}
    workgroupBarrier();
  }` : `${A.store('0u')}
${B.store('0u')}
  workgroupBarrier();
  var db = 0u;
  ${loop.head} {
    let kt = ${loop.next};
    let more = ${loop.more};
    if (more) {
${A.load}
${B.load}
    }
${multiply}
    if (more) {
${A.store('1u - db')}
${B.store('1u - db')}
    }
    db = 1u - db;
    workgroupBarrier();
  }`;
  const body = `  ${loop.ids}
  ${range(RM).map((r) => range(RN).map((c) => `var ${acc(r, c)} = 0.0;`).join(' ')).join('\n  ')}
  ${A.regs} ${B.regs}
  let kEnd = ${kEnd};
  {
  let kt = ${loop.first};
${A.load}
${B.load}
  }
${kLoop}${G === 1 ? '' : `\n${gridSum()}`}`;
  const red = G === 1 ? '' : `\nvar<workgroup> Red: array<f32, ${(G - 1) * redChunk(t, NT) * NT}>;`;
  return {
    threads: NT * G,
    shared: `var<workgroup> As: array<${vecType(WA)}, ${(D * G * BK * AS) / WA}>;\nvar<workgroup> Bs: array<${vecType(WB)}, ${(D * G * BK * BS) / WB}>;${red}`,
    body,
    acc,
    lead: (code) => (G === 1 ? code : `  if (kg == 0u) {\n${code}\n  }`),
    rows: (f) => range(RM).map((r) => f(r, `(m0 + ${row(r)})`)).join('\n'),
    cols: (f) => range(RN).map((c) => f(c, `(n0 + ${col(c)})`)).join('\n'),
  };
}
