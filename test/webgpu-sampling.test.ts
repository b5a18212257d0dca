// Sampling on the webgpu backend (Dawn over Mesa's CPU renderer where no GPU exists, as in CI):
// the text equals the js reference's, in few dispatches, through sampling's loop
// (kernels/sampler.ts), and where that loop loses step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slice, type Buf } from '../src/backend/backend.js';
import { JsBackend } from '../src/backend/js/index.js';
import { WebGPUBackend } from '../src/backend/webgpu/index.js';
import { CPU_RENDERER_SPIN } from '../src/backend/webgpu/device.js';
import { CharLM } from '../src/model/charlm.js';
import type { ModelConfig } from '../src/model/config.js';
import { Corpus } from '../src/text/corpus.js';
import { train } from '../src/train/loop.js';
import { sampleText, sampleTexts } from '../src/sample/sample.js';
import { corpusText, cpuRenderer, dev, onLlvmpipe, runsUntil, skip, t } from './helpers/webgpu-device.js';

t('text sampled on the device equals the js backend\'s (argmax, temperatures, top-k, prime, several streams), in few dispatches', async () => {
  const corpus = Corpus.fromText(corpusText, { valFrac: 0.1 });
  const js = CharLM.create(new JsBackend(), { model: 'lstm', layers: 2, hidden: 32 }, corpus.vocab.size, 3);
  for await (const _ of train(js, corpus, { maxIters: 40, batch: 10, seq: 25, lr: 5e-3, evalEvery: 1000 })) { /* train */ }
  const be = dev();
  const model = new CharLM(be, js.config, corpus.vocab.size);
  model.importParams(await js.exportParams());
  const submits = be.stats.submits;
  for (const opts of [{ argmax: true, prime: 'Call me' }, { temperature: 1, seed: 42 }, { temperature: 0.7, seed: 7, prime: 'The ' },
    { topK: 5, seed: 3 }]) {
    const o = { length: 300, ...opts };
    assert.equal(await sampleText(model, corpus.vocab, o), await sampleText(js, corpus.vocab, o), JSON.stringify(o));
  }
  // 1,200 characters came back in a few dozen submits, not one (or more) per character.
  assert.ok(be.stats.submits - submits < 150, `${be.stats.submits - submits} submits`);
  // One stream is sampled by the backend's loop: one dispatch for many characters (8 on a CPU
  // renderer), not the nine kernels a character of this model takes one by one.
  const d0 = be.stats.dispatches;
  await sampleText(model, corpus.vocab, { length: 201, seed: 1 });
  assert.ok((be.stats.dispatches - d0) / 200 <= 0.25, `${(be.stats.dispatches - d0) / 200} dispatches per character`);
  const texts = async (m: CharLM): Promise<string[]> => sampleTexts(m, corpus.vocab, { length: 100, count: 3, seed: 11, temperature: 0.9 });
  assert.deepEqual(await texts(model), await texts(js));
});

// The backend's sampling loops as made so far: workgroups, flag word; null where lost or never made.
type SamplerLoop = { groups: number; waiting: { ex: Buf; word: number } };
const samplerLoops = (be: WebGPUBackend): Promise<(SamplerLoop | null)[]> =>
  Promise.all((be as unknown as { samplers: Map<string, Promise<SamplerLoop | null>> }).samplers.values());

// Sampling's loop (kernels/sampler.ts) against the js backend's layers, decoder and draw, on
// untrained models of every shape it generates code for. A hidden size above what one workgroup
// holds needs several, which a CPU renderer is not given (samplerGroups 1): there sampling falls
// back to a kernel per operation, and must still agree.
t('sampling\'s loop draws what the js backend draws: LSTM, GRU and RNN, one-hot and embedded input, 1–3 layers, ragged sizes', async () => {
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  const configs: Partial<ModelConfig>[] = [
    { model: 'lstm', layers: 1, hidden: 7 }, { model: 'lstm', layers: 3, hidden: 20, embedding: 5 },
    { model: 'gru', layers: 2, hidden: 33 }, { model: 'gru', layers: 1, hidden: 12, embedding: 40 },
    { model: 'rnn', layers: 2, hidden: 18 }, { model: 'rnn', layers: 1, hidden: 300 }];
  const be = dev();
  for (const [k, config] of configs.entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 10 + k);
    const model = new CharLM(be, js.config, vocab.size);
    model.importParams(await js.exportParams());
    for (const o of [{ length: 120, seed: k, temperature: 0.8 }, { length: 60, seed: 50 + k, topK: 4, prime: 'the ' }]) {
      const d0 = be.stats.dispatches;
      const text = await sampleText(model, vocab, o);
      const perChar = (be.stats.dispatches - d0) / o.length;
      assert.equal(text, await sampleText(js, vocab, o), `${JSON.stringify(config)} ${JSON.stringify(o)}`);
      if (js.config.hidden <= 256 && !o.prime) assert.ok(perChar < 0.5, `${JSON.stringify(config)}: ${perChar} dispatches per character`);
    }
  }
});

t('sampling\'s loop: where its wait gave up, the read-back says so, and sampling goes on step by step from where the lost stretch began, drawing what the loop would have', async () => {
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  for (const [k, config] of ([{ model: 'lstm', layers: 2, hidden: 24 }, { model: 'gru', layers: 1, hidden: 20 }, { model: 'rnn', layers: 2, hidden: 16 }] as const).entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 20 + k);
    // Weights well above their initial size, so that the state a stretch starts from shows in its draws.
    js.backend.upload(js.params, (await js.backend.download(js.params)).map((v) => 6 * v));
    const be = new WebGPUBackend(dev().device, cpuRenderer() ? { samplerGroups: 1, samplerSteps: 8 } : {});
    const model = new CharLM(be, js.config, vocab.size);
    model.importParams(await js.exportParams());
    // The loop's second stretch loses step: the state it leaves is spoilt, and the flag set as a
    // wait that gives up sets it.
    const make = be.sampleLoop.bind(be);
    let calls = 0;
    be.sampleLoop = async (net) => {
      const loop = await make(net), made = await samplerLoops(be);
      return loop && ((first, last, drawn, n, o) => {
        loop(first, last, drawn, n, o);
        if (++calls !== 2) return;
        be.fill(net.h, NaN);
        for (const l of made) if (l) be.upload(slice(l.waiting.ex, l.waiting.word, 1), Int32Array.of(1));
      });
    };
    const o = { length: 300, seed: 5, temperature: 0.9 };
    assert.equal(await sampleText(model, vocab, o), await sampleText(js, vocab, o), config.model);
    assert.ok(calls >= 3, `${config.model}: ${calls} stretches in the loop`);
    // The loop is not used again: the next sample is drawn step by step, and still alike.
    assert.deepEqual(await samplerLoops(be), [null]);
    const o2 = { length: 50, seed: 6, prime: 'the ' }, before = calls;
    assert.equal(await sampleText(model, vocab, o2), await sampleText(js, vocab, o2), config.model);
    assert.equal(calls, before);
  }
});

// On llvmpipe, as the sequence kernel's (webgpu-sequence.test.ts): sampling's loop on 2
// workgroups, which pass each layer's h to each other, draws what js draws; with waits that may
// turn once in all it loses step (in a run or a few), and sampling goes on a kernel per
// operation, still drawing what js draws.
test('webgpu: sampling\'s loop on llvmpipe: 2 workgroups pass h to each other and draw what js draws', { skip }, async (ctx) => {
  if (!onLlvmpipe()) return void ctx.skip('llvmpipe only, as the persistent test on llvmpipe');
  const vocab = Corpus.fromText(corpusText.slice(0, 5000), { valFrac: 0.1 }).vocab;
  const took: string[] = [];
  for (const [k, config] of ([{ model: 'lstm', layers: 2, hidden: 24 }, { model: 'gru', layers: 1, hidden: 20 }, { model: 'rnn', layers: 2, hidden: 16 }] as const).entries()) {
    const js = CharLM.create(new JsBackend(), config, vocab.size, 30 + k);
    js.backend.upload(js.params, (await js.backend.download(js.params)).map((v) => 6 * v));
    const o = { length: 300, seed: 7, temperature: 0.9 }, want = await sampleText(js, vocab, o);
    // The loop after a sample on a backend whose waits may turn `spin` times in all: its workgroups, or null where it lost step.
    const sampled = async (spin: number, run: string): Promise<SamplerLoop | null> => {
      const be = new WebGPUBackend(dev().device, { samplerGroups: 2, samplerSteps: 8, spin });
      const model = new CharLM(be, js.config, vocab.size);
      model.importParams(await js.exportParams());
      assert.equal(await sampleText(model, vocab, o), want, `${config.model}, ${run}`);
      const loops = await samplerLoops(be);
      assert.equal(loops.length, 1);
      return loops[0];
    };
    const runs = await runsUntil(async (run) => (await sampled(CPU_RENDERER_SPIN, run))?.groups === 2,
      `${config.model}: the loop kept 2 workgroups through the sample`);
    const lost = await runsUntil(async (run) => (await sampled(1, `spin 1, ${run}`)) === null,
      `${config.model}: with spin 1 the loop lost step`);
    took.push(`${config.model} ${runs}/${lost}`);
  }
  ctx.diagnostic(`runs until the loop held on 2 workgroups / until it lost step with spin 1: ${took.join(', ')}`);
});
