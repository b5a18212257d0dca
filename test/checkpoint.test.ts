// Checkpoints: a round trip keeps everything; resuming continues exactly as an
// uninterrupted run; truncated or inconsistent files are rejected with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Corpus } from '../src/text/corpus.js';
import { CharLM } from '../src/model/charlm.js';
import { JsBackend } from '../src/backend/js/index.js';
import { train, type TrainHooks } from '../src/train/loop.js';
import { checkpointFromTraining, decodeCheckpoint, encodeCheckpoint, modelFromCheckpoint, type CorpusSource } from '../src/io/checkpoint.js';
import { encodeSafetensors, decodeSafetensors } from '../src/io/safetensors.js';
import { UserError } from '../src/errors.js';
import type { TrainOptions } from '../src/train/options.js';

const text = 'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness. '.repeat(40);
const corpus = Corpus.fromText(text, { valFrac: 0.1 });
const source: CorpusSource = { source: 'test', bytes: false, valFrac: 0.1, testFrac: 0, chars: corpus.length };
const opts: Partial<TrainOptions> = { batch: 4, seq: 8, optimizer: 'adam', lr: 0.01, evalEvery: 5, maxIters: 14, lrDecayAfter: 0, lrDecay: 0.9 };
const config = { model: 'lstm' as const, layers: 2, hidden: 12, dropout: 0.25, embedding: 5 };

async function run(model: CharLM, o: Partial<TrainOptions>, hooks: TrainHooks = {}) {
  const losses = new Map<number, number>();
  const vals = new Map<number, number>();
  for await (const e of train(model, corpus, o, hooks)) {
    if (e.type === 'iteration') losses.set(e.iter, e.loss);
    if (e.type === 'eval') vals.set(e.iter, e.valLoss);
  }
  return { losses, vals };
}

test('resume continues exactly: same losses at the same iterations as an uninterrupted run', async () => {
  const whole = await run(CharLM.create(new JsBackend(), config, corpus.vocab.size, 3), opts);
  assert.equal(whole.losses.size, 14);

  let saved: Uint8Array | null = null;
  const first = CharLM.create(new JsBackend(), config, corpus.vocab.size, 3);
  await run(first, { ...opts, maxIters: 8 }, {
    checkpoint: async (req) => {
      saved = encodeCheckpoint(await checkpointFromTraining(req, corpus.vocab, source));
      return 'memory';
    },
  });
  assert.ok(saved);
  const ck = decodeCheckpoint(saved);
  assert.equal(ck.training!.progress.iter, 8);
  const resumed = modelFromCheckpoint(new JsBackend(), ck);
  const t = ck.training!;
  const rest = await run(resumed, { ...t.options, maxIters: 14 }, {
    resume: { progress: t.progress, optimizer: t.optimizerState, state: t.state },
  });
  assert.deepEqual([...rest.losses.keys()], [9, 10, 11, 12, 13, 14]);
  for (const [iter, loss] of rest.losses) assert.equal(loss, whole.losses.get(iter), `iteration ${iter}`);
  assert.equal(rest.vals.get(10), whole.vals.get(10));
  assert.equal(rest.vals.get(14), whole.vals.get(14));
});

test('checkpoint round trip keeps config, vocabulary, weights, optimiser state and history', async () => {
  const model = CharLM.create(new JsBackend(), { model: 'gru', layers: 1, hidden: 8 }, corpus.vocab.size, 9);
  let bytes: Uint8Array | null = null;
  await run(model, { batch: 4, seq: 8, maxIters: 6, evalEvery: 3 }, {
    checkpoint: async (req) => { bytes = encodeCheckpoint(await checkpointFromTraining(req, corpus.vocab, source)); return 'memory'; },
  });
  const ck = decodeCheckpoint(bytes!);
  assert.deepEqual(ck.config, model.config);
  assert.deepEqual(ck.vocab.toJSON(), corpus.vocab.toJSON());
  for (const [name, data] of await model.exportParams()) assert.deepEqual(ck.params.get(name), data, name);
  const t = ck.training!;
  assert.equal(t.progress.iter, 6);
  assert.deepEqual(t.progress.trainHistory.map(([i]) => i), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(t.progress.valHistory.map(([i]) => i), [3, 6]);
  assert.equal(t.optimizer, 'rmsprop');
  assert.equal(t.optimizerState.get('optim.cache')!.length, model.layout.total);
  assert.equal(t.state.batch, 4);
  assert.equal(t.state.c, null);
  assert.deepEqual(t.corpus, source);
});

test('a truncated checkpoint is rejected with a clear error', async () => {
  const model = CharLM.create(new JsBackend(), { model: 'rnn', layers: 1, hidden: 4 }, corpus.vocab.size);
  const bytes = encodeCheckpoint({ config: model.config, vocab: corpus.vocab, params: await model.exportParams(), training: null });
  assert.ok(decodeCheckpoint(bytes));
  for (const cut of [4, 100, bytes.length - 4]) {
    assert.throws(() => decodeCheckpoint(bytes.subarray(0, cut)), (e: unknown) => e instanceof UserError && /truncated|short|header/.test(e.message));
  }
});

test('an inconsistent checkpoint is rejected: wrong shape, missing tensor, not charrnn', async () => {
  const model = CharLM.create(new JsBackend(), { model: 'lstm', layers: 1, hidden: 4 }, corpus.vocab.size);
  const bytes = encodeCheckpoint({ config: model.config, vocab: corpus.vocab, params: await model.exportParams(), training: null });
  const { tensors, metadata } = decodeSafetensors(bytes);
  const tweak = (f: (t: typeof tensors, m: typeof metadata) => void): Uint8Array => {
    const t = { ...tensors }, m = { ...metadata };
    f(t, m);
    return encodeSafetensors(t, m);
  };
  const rejects = (b: Uint8Array, re: RegExp): void => {
    assert.throws(() => decodeCheckpoint(b), (e: unknown) => e instanceof UserError && re.test(e.message));
  };
  rejects(tweak((_, m) => { m.config = JSON.stringify({ ...model.config, hidden: 5 }); }), /rnn.weight_ih_l0 is F32\[16,20\], expected F32\[20,20\]/);
  rejects(tweak((t) => { delete t['decoder.bias']; }), /missing tensor decoder.bias/);
  rejects(tweak((_, m) => { delete m.format; }), /not a charrnn checkpoint/);
  rejects(tweak((_, m) => { m.vocab = '{"kind":"chars"'; }), /vocab is not valid JSON/);
});

test('divergence stops training and writes no checkpoint after the last good one', async () => {
  const model = CharLM.create(new JsBackend(), { model: 'rnn', layers: 1, hidden: 32 }, corpus.vocab.size, 1);
  const saved: number[] = [];
  let done: { reason: string; message: string } | null = null;
  for await (const e of train(model, corpus, { batch: 4, seq: 8, lr: 5, gradClip: 0, maxIters: 200, evalEvery: 1 }, {
    checkpoint: async (req) => { saved.push(req.progress.iter); return 'memory'; },
  })) {
    if (e.type === 'done') done = e;
  }
  assert.equal(done!.reason, 'diverged');
  assert.match(done!.message, /3× the first loss|not a number/);
  const stoppedAt = Number(/iteration (\d+)/.exec(done!.message)![1]);
  assert.ok(stoppedAt >= 2, `diverged at iteration ${stoppedAt}`);
  // One checkpoint after each good iteration, none after the one that diverged.
  assert.deepEqual(saved, Array.from({ length: stoppedAt - 1 }, (_, i) => i + 1));
});

test('training, evaluation and sampling reuse their buffers: backend memory stops growing', async () => {
  const { loadWasmBackend } = await import('../src/node/wasm.js');
  const { sampleText } = await import('../src/sample/sample.js');
  const be = await loadWasmBackend({ threads: 1 });
  const model = CharLM.create(be, { model: 'lstm', layers: 2, hidden: 8 }, corpus.vocab.size);
  const used: number[] = [];
  // The validation split (450 characters) ends in a short chunk, a shape of its own.
  for await (const e of train(model, corpus, { batch: 4, seq: 8, maxIters: 8, evalEvery: 1, sampleEvery: 1, sampleLength: 5 })) {
    if (e.type === 'eval') used.push(be.bytesUsed);
  }
  assert.equal(used.length, 8);
  assert.deepEqual(used.slice(2), Array(6).fill(used[1]), `bytes used after each evaluation: ${used.join(', ')}`);
  // A prime of a new length is a new shape, once.
  const after = [];
  for (let i = 0; i < 3; i++) {
    await sampleText(model, corpus.vocab, { length: 20, prime: 'It was', seed: i });
    after.push(be.bytesUsed);
  }
  assert.deepEqual(after, [after[0], after[0], after[0]]);
});
