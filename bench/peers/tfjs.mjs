// TensorFlow.js peer: a char-rnn as a TF.js user would write it — tf.layers LSTMs with
// returnSequences, dropout layers, a softmax dense layer, RMSprop, model.trainOnBatch;
// sampling with a stateful copy of the network and model.predict per character.
// The backend is the spec's `variant`: cpu (plain JS), wasm (@tensorflow/tfjs-backend-wasm)
// or node (@tensorflow/tfjs-node, the native TensorFlow binding).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readSpec, report, notRun, timeIterations, loadCorpus, batcher, draw } from '../lib/common.mjs';

const spec = readSpec();
const require = createRequire(join(process.cwd(), 'package.json'));
const resolvable = (name) => { try { return require.resolve(name); } catch { return null; } };

let tf;
const variant = spec.variant;
if (variant === 'node') {
  // Its install step downloads libtensorflow; without network the package never lands.
  if (!resolvable('@tensorflow/tfjs-node')) notRun('@tensorflow/tfjs-node needs a binary download at install time (not installed)');
  try {
    tf = await import('@tensorflow/tfjs-node');
  } catch (e) {
    notRun(`@tensorflow/tfjs-node does not load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
} else {
  if (!resolvable('@tensorflow/tfjs')) notRun('@tensorflow/tfjs is not installed (npm install)');
  tf = await import('@tensorflow/tfjs');
  if (variant === 'wasm') {
    const main = resolvable('@tensorflow/tfjs-backend-wasm');
    if (!main) notRun('@tensorflow/tfjs-backend-wasm is not installed (npm install)');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // In Node the .wasm files are read from disk: point the loader at the package's dist/.
    wasm.setWasmPaths(`${dirname(main)}/`);
  }
}
const backendName = { cpu: 'cpu', wasm: 'wasm', node: 'tensorflow' }[variant];
if (!backendName) throw new Error(`unknown TF.js variant ${variant}`);
if (!(await tf.setBackend(backendName))) notRun(`TF.js backend ${backendName} did not initialise`);
await tf.ready();

const { ids, vocab: V } = loadCorpus(spec.data);
const c = spec.config;
const B = c.batch, T = c.seq, H = c.hidden;
// char-rnn's initialisation; the Keras default (orthogonal recurrent weights) costs a QR
// decomposition per layer at start-up and changes nothing in the speed of a step.
const init = () => tf.initializers.randomUniform({ minval: -0.08, maxval: 0.08 });

function network({ stateful, dropout }) {
  const m = tf.sequential();
  for (let k = 0; k < c.layers; k++) {
    const shape = stateful ? { batchInputShape: [1, 1, V] } : k === 0 ? { inputShape: [T, V] } : {};
    m.add(tf.layers.lstm({
      units: H, returnSequences: true, stateful, unitForgetBias: true,
      kernelInitializer: init(), recurrentInitializer: init(), ...shape,
    }));
    if (dropout > 0) m.add(tf.layers.dropout({ rate: dropout }));
  }
  m.add(tf.layers.dense({ units: V, activation: 'softmax', kernelInitializer: init() }));
  return m;
}

const flags = {};
if (variant === 'wasm') {
  flags.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  flags.threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
}
const info = { impl: `tfjs-${variant}`, version: tf.version.tfjs, backend: tf.getBackend(), ...flags, vocab: V };

if (spec.measure === 'train') {
  // stateful=false: each batch starts from a zero state. Carrying it (char-rnn) changes the
  // values, not the work. TF.js optimisers have no gradient clipping and trainOnBatch no
  // hook for it: the clamp, one elementwise pass over the parameters, is the only step missing.
  const model = network({ stateful: false, dropout: c.dropout });
  model.compile({ optimizer: tf.train.rmsprop(2e-3, 0.95, 0, 1e-8), loss: 'categoricalCrossentropy' });
  const fill = batcher(ids.subarray(0, Math.floor(ids.length * 0.9)), B, T);
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  let it = 0, lastLoss = NaN;
  const step = async () => {
    fill(it++, x, y);
    const [xt, yt] = tf.tidy(() => [tf.oneHot(tf.tensor2d(x, [B, T], 'int32'), V), tf.oneHot(tf.tensor2d(y, [B, T], 'int32'), V)]);
    const loss = await model.trainOnBatch(xt, yt);
    lastLoss = Array.isArray(loss) ? loss[0] : loss;
    tf.dispose([xt, yt]);
  };
  const t = await timeIterations(step, spec);
  report({ ...info, measure: 'train', params: model.countParams(), secsPerIter: t.median, n: t.n, warmup: t.warmup, secs: t.secs, lastLoss });
} else if (spec.measure === 'sample') {
  const model = network({ stateful: true, dropout: 0 });
  let seed = 1;
  const generate = async (length) => {
    model.resetStates();
    // A small LCG, as a TF.js user would pair predict() with Math.random: the draw is not the point.
    let s = seed++ >>> 0;
    const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    let cur = Math.floor(u() * V);
    for (let i = 1; i < length; i++) {
      const p = tf.tidy(() => model.predict(tf.oneHot(tf.tensor2d([cur], [1, 1], 'int32'), V)));
      const probs = await p.data();
      p.dispose();
      cur = draw(probs, u());
    }
  };
  await generate(spec.warmupLength);
  const t = await timeIterations(() => generate(spec.length), { ...spec, warmup: 0 });
  report({ ...info, measure: 'sample', params: model.countParams(), secsPerRun: t.median, length: spec.length, n: t.n, warmup: 1, secs: t.secs });
} else {
  throw new Error(`unknown measure ${spec.measure}`);
}
process.exit(0);
