// `charrnn viz`: one standalone HTML page of what a model sees in a text: the text coloured by
// any cell's activation, the model's guesses for each next character, and the cells that best
// track features of the text (inside quotes, position in the line, bracket depth, comments).
import { Command, Option } from 'commander';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UserError } from '../errors.js';
import { modelFromCheckpoint } from '../io/checkpoint.js';
import { inspectIds, positionSymbols } from '../inspect/activations.js';
import { encodeInspection } from '../inspect/encode.js';
import { textFeatures } from '../inspect/features.js';
import { rankCells } from '../inspect/ranking.js';
import { writeFileAtomic } from '../node/atomic-write.js';
import { createBackend } from '../node/backend.js';
import { readCheckpoint } from '../node/checkpoint-file.js';
import { loadTextFile } from '../node/corpus-file.js';
import { thousands, unitOf } from './format.js';
import { intArg } from './parse.js';
import { readVizView, vizPage } from './viz-page.js';

interface VizFlags {
  out: string;
  maxChars: number;
  backend: string;
  threads?: number;
}

// The page holds layers × hidden × (2 for LSTM) activations per character: over the default
// 4,000 characters a trained 2×128 LSTM made a page of 0.9 MB, so a 2×512 makes about 3.6 MB.
const DEFAULT_MAX_CHARS = 4000;
const LIMIT_MAX_CHARS = 100_000;

export function registerViz(program: Command): void {
  program.command('viz')
    .description('write a standalone HTML page showing a model reading a text: its cells\' activations, its guesses, and the cells that track features of the text')
    .argument('<ckpt>', 'a checkpoint (.safetensors)')
    .argument('<file>', 'a UTF-8 text file for the model to read')
    .requiredOption('--out <page>', 'the HTML file to write (replaced only once it is complete)')
    .option('--max-chars <n>', `read only the first n characters of the file (bytes, for a byte-level model); the page grows with n × layers × hidden (at most ${thousands(LIMIT_MAX_CHARS)})`, intArg, DEFAULT_MAX_CHARS)
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'js', 'wasm', 'webgpu']).default('auto'))
    .option('--threads <n>', 'worker threads for the wasm backend (default: all cores)', intArg)
    .action(async (ckpt: string, file: string, flags: VizFlags) => {
      await runViz(ckpt, file, flags);
    });
}

async function runViz(ckptPath: string, file: string, f: VizFlags): Promise<void> {
  if (!(Number.isInteger(f.maxChars) && f.maxChars >= 1 && f.maxChars <= LIMIT_MAX_CHARS)) {
    throw new UserError(`--max-chars must be an integer from 1 to ${thousands(LIMIT_MAX_CHARS)}, got ${f.maxChars}`);
  }
  await checkWritable(f.out);
  const ck = await readCheckpoint(ckptPath);
  const unit = unitOf(ck.vocab.kind);
  const text = await loadTextFile(file);
  const head = firstCodePoints(text, f.maxChars);
  const encoded = ck.vocab.encode(head, `${file} has ${unit === 'byte' ? 'bytes' : 'characters'} the model never saw`);
  // A byte-level model reads more positions than characters; the limit is on positions.
  const ids = encoded.subarray(0, f.maxChars);
  if (head.length < text.length || ids.length < encoded.length) {
    process.stderr.write(`reading only the first ${thousands(ids.length)} ${unit}s of ${file} (--max-chars)\n`);
  }
  const model = modelFromCheckpoint(await createBackend(f.backend, { threads: f.threads }), ck);
  const ins = await inspectIds(model, ck.vocab, ids);
  const ranking = rankCells(ins.traces, textFeatures(positionSymbols(ins)));
  const { model: cell, layers, hidden } = ck.config;
  const title = `${basename(file)} read by a ${layers}×${hidden} ${cell.toUpperCase()}`;
  const about = `${thousands(ids.length)} ${unit}s of ${file}, read by ${ckptPath}. Pick a cell to colour the text by its activation; hover over a ${unit} for the model's guesses at the next one.`;
  const data = await encodeInspection(ins, ranking, { title, deflate: true });
  const html = new TextEncoder().encode(vizPage(data, about, await readVizView()));
  try {
    await writeFileAtomic(f.out, html);
  } catch (e) {
    throw new UserError(`cannot write ${f.out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  process.stderr.write(`wrote ${f.out} (${(html.length / 1e6).toFixed(1)} MB)\n`);
}

// Fails before any work if the page could not be written: its directory must exist and be
// writable, and the path must not be a directory.
async function checkWritable(out: string): Promise<void> {
  const s = await stat(out).catch(() => null);
  if (s?.isDirectory()) throw new UserError(`cannot write ${out}: it is a directory`);
  try {
    await access(dirname(out), constants.W_OK);
  } catch (e) {
    throw new UserError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

// The first n code points of s (a surrogate pair is one).
function firstCodePoints(s: string, n: number): string {
  let i = 0;
  for (let count = 0; count < n && i < s.length; count++) {
    const pair = s.charCodeAt(i) >= 0xd800 && s.charCodeAt(i) <= 0xdbff && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}
