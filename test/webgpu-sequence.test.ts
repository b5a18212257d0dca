// The webgpu backend's sequence kernels against the js reference, on Dawn over Mesa's CPU
// renderer where no GPU exists (CI): whole training runs, tuning's choice between them and the
// steps, and what happens where their workgroups lose step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSameTraining, traceTraining } from './helpers/same-training.js';
import { slice, sub, type Buf, type Slice } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { WebGPUBackend, type WebGPUBackendOptions } from '../src/backend/webgpu/index.js';
import { CPU_RENDERER_SPIN } from '../src/backend/webgpu/device.js';
import type { StepKind } from '../src/backend/webgpu/kernels/step.js';
import { SEQUENCE_TAGS, sequenceExchangeWords, sequenceWidth } from '../src/backend/webgpu/kernels/sequence.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import { corpusText, cpuRenderer, dev, dispatchesPerIteration, onLlvmpipe, runsUntil, skip, t } from './helpers/webgpu-device.js';

// A layer's forward and backward in a dispatch each (persistent; kernels/sequence.ts). On a CPU
// renderer, which may run workgroups one after another, only where one workgroup holds every
// unit of its rows (hidden ≤ 16 forward, ≤ 32 backward on the rule's tiles for these shapes), in
// dispatches of 8 steps; on a GPU its workgroups of the same rows exchange h (backward, the
// gates' gradients) through the exchange buffer, once the first read-back's probe finds them all
// resident.
const persistentOn = (o: WebGPUBackendOptions = {}): WebGPUBackend =>
  new WebGPUBackend(dev().device, { persistent: true, ...(cpuRenderer() ? { samplerGroups: 1, samplerSteps: 8 } : {}), ...o });
type SequenceKernelState = { def: { key: string }; X: number; Y: number };
type SequenceState = { kind: StepKind; use: boolean | null; kernels: SequenceKernelState[]; kernel: SequenceKernelState };
const sequenceMap = (be: WebGPUBackend): Map<string, SequenceState> => (be as unknown as { sequences: Map<string, SequenceState> }).sequences;
const sequencesOf = (be: WebGPUBackend): SequenceState[] => [...sequenceMap(be).values()];
const sequencesRun = (be: WebGPUBackend): string[] => [...be.sequencePlans().values()];

t('persistent: an LSTM\'s, a GRU\'s and an RNN\'s forward and backward over the sequence, a dispatch each, train as js does (ragged sizes, several batch tiles, 2 layers, candidate tiles)', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const shapes = cpuRenderer() ? [[13, 20], [16, 7]] : [[13, 20], [100, 7], [300, 33]];
  for (const model of ['lstm', 'gru', 'rnn'] as const) for (const [hidden, batch] of shapes) {
    const config: Partial<ModelConfig> = { model, layers: 2, hidden, dropout: 0.2 }, be = persistentOn();
    const ref = await traceTraining(new JsBackend(), config, corpus, { batch });
    assertSameTraining(ref, await traceTraining(be, config, corpus, { batch }), `persistent ${model} ${hidden}×${batch}`, 1e-5);
    // Training (batch × 11) and evaluation shapes, forward and backward, each run in the sequence kernel.
    const run = sequencesRun(be);
    assert.ok(run.length >= 2 && run.every((k) => k.startsWith(`sequence_${model}`)), `${model} ${hidden}×${batch}: ${run}`);
    assert.ok(run.some((k) => k.startsWith(`sequence_${model}Back`)), `${model} ${hidden}×${batch}: ${run}`);
    const tiles = Math.max(...sequencesOf(be).map((s) => s.kernels.length));
    assert.ok(tiles >= 4, `${tiles} tiles`);
    // Where the step tile leaves several batch tiles (training, batch 20), taller tiles on fewer workgroups too.
    const several = sequencesOf(be).filter((s) => s.kernels[0].Y > 1);
    if (batch >= 20) assert.ok(several.length >= 2 && several.every((s) => s.kernels.some((k) => k.Y < s.kernels[0].Y)), 'no taller tile');
    // The LSTM on every candidate; the GRU and RNN, whose kernels differ from it only in the
    // cell, on every third and the last (longer K-steps, 2 and 4 grids, taller tiles, doubled).
    for (let g = 1; g < tiles; g++) {
      if (model !== 'lstm' && g % 3 !== 0 && g !== tiles - 1) continue;
      for (const s of sequencesOf(be)) s.kernel = s.kernels[Math.min(g, s.kernels.length - 1)];
      assertSameTraining(ref, await traceTraining(be, config, corpus, { batch }), `persistent ${model} ${hidden}×${batch} ${sequencesOf(be)[0].kernel.def.key}`, 1e-5);
    }
  }
});

// On llvmpipe, workgroups that wait on one another run at once (runsUntil in
// helpers/webgpu-device.ts): 2 of a batch tile exchange values, forward where a tile holds half
// of the units (16 of an LSTM's or GRU's 32; 32 of an RNN's 64), backward the same at 64. Each
// case trains until its sequence kept the exchange through a whole run, then with waits that
// may turn once in all until it loses it, and the run goes on, as js trains, on the steps.
test('webgpu: persistent on llvmpipe: 2 workgroups of the same rows exchange h forward and the gates\' gradients backward through whole training runs, as js trains', { skip }, async (ctx) => {
  if (!onLlvmpipe()) return void ctx.skip('llvmpipe only: SwiftShader does not run workgroups that wait on one another at once, and on a GPU the test above exchanges between up to 19');
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const cases = [['lstm', 32, false], ['lstm', 64, true], ['gru', 32, false], ['gru', 64, true], ['rnn', 64, false], ['rnn', 64, true]] as const;
  const took: string[] = [];
  for (const [model, hidden, back] of cases) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden }, who = `${model} ${hidden} ${back ? 'backward' : 'forward'}`;
    const ref = await traceTraining(new JsBackend(), config, corpus, { batch: 4 });
    // This direction's sequences after a run on a backend whose waits may turn `spin` times in all, each on 2 workgroups.
    const trained = async (spin: number, run: string): Promise<SequenceState[]> => {
      const be = new WebGPUBackend(dev().device, { persistent: true, samplerGroups: 2, samplerSteps: 8, spin });
      assertSameTraining(ref, await traceTraining(be, config, corpus, { batch: 4 }), `${who}, ${run}`, 1e-5);
      const mine = sequencesOf(be).filter((q) => q.kind.endsWith('Back') === back);
      assert.ok(mine.length > 0 && mine.every((q) => q.kernel.X === 2), `${who}: workgroups per batch tile ${mine.map((q) => q.kernel.X)}`);
      return mine;
    };
    const runs = await runsUntil(async (run) => (await trained(CPU_RENDERER_SPIN, run)).every((q) => q.use === true),
      `${who}: the sequence kept the exchange between its workgroups (their waits gave up)`);
    // With waits that may turn once in all, one gives up: the flag is read, and the run goes on on the steps.
    const lost = await runsUntil(async (run) => (await trained(1, `spin 1, ${run}`)).every((q) => q.use === false),
      `${who}: with spin 1 the sequence lost the exchange`);
    took.push(`${who} ${runs}/${lost}`);
  }
  ctx.diagnostic(`runs until the exchange held / until it was lost with spin 1: ${took.join(', ')}`);
});

t('persistent: a layer\'s forward and backward are one dispatch each, whatever T', async () => {
  const corpus = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const make = (be: WebGPUBackend): CharLM => CharLM.create(be, { model, layers: 2, hidden: 8 }, corpus.vocab.size, 1);
    const m = make(persistentOn({ samplerSteps: 1000 })), steps = make(dev());
    await dispatchesPerIteration(m, 11);
    const [a, b, c] = [await dispatchesPerIteration(m, 11), await dispatchesPerIteration(m, 12), await dispatchesPerIteration(steps, 11)];
    assert.equal(b, a, `${model}: ${a} dispatches at T = 11, ${b} at T = 12`);
    // Step by step: 2 layers × (11 forward + 11 backward, the last without its product) … here 2 × 2.
    assert.ok(a <= c - 2 * 2 * 10, `${model}: ${a} dispatches, ${c} step by step`);
  }
});

t('persistent with tune: the sequence kernel runs where timed faster than the steps, and training matches js', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden: 16 }, be = persistentOn({ tune: true });
    assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), `persistent ${model} tuned`, 1e-5);
    const run = sequencesRun(be);
    assert.ok(run.length >= 2 && run.every((k) => k === 'steps' || k.startsWith(`sequence_${model}`)), `decided: ${run}`);
    // Each decision as timed: the steps and every candidate, the one kept the fastest.
    const times = be.sequenceTimes();
    assert.equal(times.size, run.length);
    for (const [shape, timed] of times) {
      const kept = be.sequencePlans().get(shape)!, least = Math.min(...timed.values());
      assert.equal(timed.size, 1 + sequenceMap(be).get(shape)!.kernels.length);
      assert.ok([...timed.values()].every((ms) => ms > 0 && Number.isFinite(ms)), `${shape}: ${[...timed]}`);
      assert.equal(timed.get(kept), least, `${shape}: kept ${kept}, timed ${[...timed]}`);
    }
  }
});

t('persistent: where a sequence kernel\'s wait gave up, the read-back says so, that sequence runs its steps from then on, and training runs the lost work again as js trains', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  type Live = SequenceState & { ex: Buf; B: number; H: number };
  // Per method: the argument its kernel writes garbage into when it loses step (made NaN here).
  const spoilt = { lstmForward: 2, lstmBackward: 4, gruForward: 2, gruBackward: 5, rnnForward: 1, rnnBackward: 2 } as const;
  for (const model of ['lstm', 'gru', 'rnn'] as const) {
    const config: Partial<ModelConfig> = { model, layers: 1, hidden: 16, dropout: 0.1 }, be = persistentOn();
    // The forward's second run in the kernel (iteration 2) and the backward's third (iteration 2
    // run again) lose step: what they wrote is spoilt, and the flag set as a wait that gives up sets it.
    for (const [dir, nth] of [['Forward', 2], ['Backward', 3]] as const) {
      const name = `${model}${dir}` as keyof typeof spoilt, inner = be as unknown as Record<string, (...a: unknown[]) => boolean>;
      const run = inner[name].bind(be);
      let runs = 0;
      inner[name] = (...a: unknown[]): boolean => {
        if (!run(...a)) return false;
        if (++runs !== nth) return true;
        // The one shape of each direction (evaluation's is training's).
        const seq = (sequencesOf(be) as Live[]).find((q) => q.kind === (dir === 'Forward' ? model : `${model}Back`))!;
        const out = a[spoilt[name]] as Slice, skip = dir === 'Forward' ? seq.B * seq.H : 0;
        be.fill(sub(out, skip, out.length - skip), NaN);
        be.upload(slice(seq.ex, sequenceExchangeWords(seq.B, sequenceWidth(seq.kind, seq.H)) - 1, 1), Int32Array.of(1));
        return true;
      };
    }
    assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), `persistent ${model}, work lost`, 1e-5);
    // Training's shapes (evaluation's is the same) ran in the kernel until they lost step.
    assert.deepEqual([...be.sequencePlans().values()], ['steps', 'steps'], `${model}: ${[...be.sequencePlans()]}`);
  }
});

t('persistent with tune: a candidate whose waits give up while timed is left out, and the others are timed again', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const config: Partial<ModelConfig> = { model: 'lstm', layers: 1, hidden: 16 }, be = persistentOn({ tune: true });
  // Before the backward's decision, a candidate whose steps wait for a step 8 ahead, which
  // never comes before them.
  type Decide = (seq: SequenceState & { kind: string }, ...rest: unknown[]) => Promise<void>;
  const inner = be as unknown as { decideSequence: Decide };
  const decide = inner.decideSequence.bind(be), broken: string[] = [];
  inner.decideSequence = async (seq, ...rest) => {
    if (seq.kind === 'lstmBack') {
      const good = seq.kernels[0], def = good.def as unknown as { key: string; code: string };
      const code = def.code.replace(`want = tagOf(s + ${SEQUENCE_TAGS - 1}u)`, 'want = tagOf(s + 7u)');
      assert.notEqual(code, def.code);
      seq.kernels.splice(1, 0, { ...good, def: { ...def, key: `${def.key}_broken`, code } as unknown as { key: string } });
      broken.push(`${def.key}_broken`);
    }
    return decide(seq, ...rest);
  };
  assertSameTraining(await traceTraining(new JsBackend(), config, corpus, {}), await traceTraining(be, config, corpus, {}), 'persistent tuned, a candidate broken', 1e-5);
  assert.ok(broken.length > 0, 'no backward sequence decided');
  assert.ok([...be.sequenceTimes().keys()].some((shape) => shape.startsWith('lstmBack')), 'the backward timed');
  for (const [shape, timed] of be.sequenceTimes()) {
    assert.ok(broken.every((k) => !timed.has(k)), `${shape}: ${[...timed.keys()]}`);
    assert.notEqual(be.sequencePlans().get(shape), 'undecided');
    if (shape.startsWith('lstmBack')) assert.ok(timed.size >= 3, `${shape}: the steps and the other candidates timed: ${[...timed.keys()]}`);
  }
});
