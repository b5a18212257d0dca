// How the workgroups of one dispatch that stay resident together (sampling's loop, sampler.ts;
// a layer's sequence kernel, sequence.ts) pass values to one another, and how the backend first
// checks that they are resident together. WGSL has no memory fence between workgroups, so a
// value travels as two atomic words of (16-bit tag, 16-bit half): a reader waits until both
// carry the tag it wants, and needs no ordering between writes to different addresses.
//
// Their code names the exchange buffer $ex, of atomic<i32>.

const SPIN = 1 << 20; // polls before a wait gives up
const PROBE_SPIN = 1 << 16;
// A probe's turns where waits are bounded (a CPU renderer, whose threads may wait a time slice
// for one another to start): within llvmpipe's 65,535 turns of a kernel's loops.
const BOUNDED_PROBE_TURNS = 49_152;
// Polls per turn of a wait's loop, written out: llvmpipe counts the turns of a kernel's loops
// against its limit, so more polls per turn let a wait there outlast a time slice in which
// another program holds its partner's thread off the cores.
const ROUND = 8;

/**
 * exSettle(v, w, tag): the half word w holds once it carries the tag, v being the word as first
 * loaded; if it never does, 0xffff (a NaN with the other half) and the flag word `flag` set,
 * which every other wait heeds within 1,024 polls. A wait gives up after 2²⁰ polls, or once the
 * thread's waits have turned their loops `budget` times in all in this dispatch (an expression:
 * the kernel's argument). exTake(lo, hi, w, tag): the f32 in words w, w + 1, first loaded as lo,
 * hi. exPut(w, tag, v): v into words w, w + 1. `failed` tells a thread whether one of its waits
 * gave up.
 */
export function exchangeWgsl(flag: string, budget: string): string {
  return /* wgsl */ `
var<private> failed: bool; // a wait of this thread gave up: its others return at once
var<private> turns: u32; // of this thread's waits' loops in this dispatch

fn exSettle(v: u32, w: u32, tag: u32) -> u32 {
  if ((v >> 16u) == tag) { return v & 0xffffu; }
  if (!failed) {
    for (var n = 0u; n < ${SPIN / ROUND}u && turns < ${budget}; n++) {
      turns += 1u;${`
      { let x = bitcast<u32>(atomicLoad(&$ex[w])); if ((x >> 16u) == tag) { return x & 0xffffu; } }`.repeat(ROUND)}
      if ((n & 127u) == 127u && atomicLoad(&$ex[${flag}]) != 0) { break; }
    }
    failed = true;
    atomicStore(&$ex[${flag}], 1);
  }
  return 0xffffu;
}

fn exTake(lo: u32, hi: u32, w: u32, tag: u32) -> f32 {
  return bitcast<f32>(exSettle(lo, w, tag) | (exSettle(hi, w + 1u, tag) << 16u));
}

fn exPut(w: u32, tag: u32, v: f32) {
  let bits = bitcast<u32>(v);
  atomicStore(&$ex[w], bitcast<i32>((tag << 16u) | (bits & 0xffffu)));
  atomicStore(&$ex[w + 1u], bitcast<i32>((tag << 16u) | (bits >> 16u)));
}`;
}

/**
 * The probe, as statements of a kernel's entry point: are all `count` workgroups resident at
 * once? Thread `lead` of each adds itself to word `arrive` (zero before the dispatch), then waits
 * for all: 2¹⁶ polls, or where the waits' turns are bounded (`budget`, as exchangeWgsl's, other
 * than 2³² − 1) 6 times as long; where `first` (one workgroup), `answer` gets 1 if they all came,
 * else 0. Then returns.
 */
export function probeWgsl(o: { lead: string; arrive: string; count: string; first: string; answer: string; budget: string }): string {
  return /* wgsl */ `
    if (${o.lead}) {
      atomicAdd(&$ex[${o.arrive}], 1);
      var all = false;
      for (var n = 0u; n < select(${PROBE_SPIN / ROUND}u, ${BOUNDED_PROBE_TURNS}u, ${o.budget} != 0xffffffffu) && !all; n++) {${`
        all = all || u32(atomicLoad(&$ex[${o.arrive}])) >= ${o.count};`.repeat(ROUND)}
      }
      if (${o.first}) { ${o.answer} = select(0.0, 1.0, all); }
    }
    return;`;
}
