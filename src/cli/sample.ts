// `charrnn sample`: writes text from a checkpoint, streaming one stream as it is generated,
// or several streams sampled side by side and printed one after another.
import { Command, Option } from 'commander';
import { createBackend } from '../node/backend.js';
import { modelFromCheckpoint } from '../io/checkpoint.js';
import { readCheckpoint } from '../node/checkpoint-file.js';
import { defaultSampleOptions as d, sampleIds, sampleTexts, type SampleOptions } from '../sample/sample.js';
import { intArg, numArg } from './parse.js';

interface SampleFlags {
  length: number;
  temperature: number;
  prime: string;
  argmax?: boolean;
  topK: number;
  seed: number;
  count: number;
  backend: string;
  threads?: number;
}

const SEPARATOR = '----';
// Small writes keep the stream live on a terminal without a system call per character.
const CHUNK = 16;

export function registerSample(program: Command): void {
  program.command('sample')
    .description('write text from a trained model, streaming it to stdout')
    .argument('<ckpt>', 'a checkpoint (.safetensors)')
    .option('--length <n>', 'characters to generate after the prime text', intArg, d.length)
    .option('-t, --temperature <t>', 'softmax temperature: lower is more conservative', numArg, d.temperature)
    .option('--prime <text>', 'text to start from (printed first)', d.prime)
    .option('--argmax', 'always take the most likely character')
    .option('--top-k <k>', 'sample only among the k most likely characters; 0 = all', intArg, d.topK)
    .option('--seed <n>', 'random seed: the same seed gives the same text', intArg, d.seed)
    .option('--count <n>', 'independent samples, generated in parallel', intArg, d.count)
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'js', 'wasm', 'webgpu']).default('auto'))
    .option('--threads <n>', 'worker threads for the wasm backend (default: all cores)', intArg)
    .action(async (path: string, flags: SampleFlags) => {
      await runSample(path, flags);
    });
}

async function runSample(path: string, f: SampleFlags): Promise<void> {
  const ck = await readCheckpoint(path);
  const model = modelFromCheckpoint(await createBackend(f.backend, { threads: f.threads }), ck);
  const opts: SampleOptions = { length: f.length, temperature: f.temperature, prime: f.prime, argmax: f.argmax === true,
    topK: f.topK, seed: f.seed, count: f.count };
  if (f.count > 1) {
    const texts = await sampleTexts(model, ck.vocab, opts);
    for (const text of texts) process.stdout.write(`${text}\n\n${SEPARATOR}\n`);
    return;
  }
  // Nothing is written before the first step, so a prime the model cannot read fails cleanly.
  const decoder = ck.vocab.decoder();
  let pending = '';
  let last = '';
  for await (const ids of sampleIds(model, ck.vocab, opts)) {
    pending += decoder.push(ids[0]);
    if (pending.length >= CHUNK || pending.includes('\n')) {
      last = pending;
      process.stdout.write(pending);
      pending = '';
    }
  }
  pending += decoder.end();
  if (pending) last = pending;
  process.stdout.write(last.endsWith('\n') ? pending : `${pending}\n`);
}
