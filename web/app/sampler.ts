// The sampler: picks a checkpoint served from the run directory, loads its model in the page
// (engine.ts) and streams sampled text into #output as it is drawn.
import { sampleIds, type SampleOptions } from '../../src/index.js';
import { messageOf } from './backends.js';
import { fetchCheckpoint, loadModel, type LoadedModel } from './engine.js';
import { engineRequestOf, type EngineRequest } from './engine-choice.js';
import { thousands } from './run-view.js';

interface CheckpointEntry {
  path: string;
  bytes: number;
  mtime: number;
}

// Text is shown and the page given a turn this often: sampling runs on this thread, and a page
// that never yields shows nothing until the end and cannot be stopped.
const YIELD_MS = 20;
const MAX_LENGTH = 100_000;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('sample-form');
const select = $<HTMLSelectElement>('checkpoint-select');
const engineSelect = $<HTMLSelectElement>('engine-select');
const temperature = $<HTMLInputElement>('temperature');
const temperatureValue = $<HTMLOutputElement>('temperature-value');
const prime = $<HTMLTextAreaElement>('prime');
const topk = $<HTMLInputElement>('topk');
const length = $<HTMLInputElement>('length');
const seed = $<HTMLInputElement>('seed');
const sampleButton = $<HTMLButtonElement>('sample-button');
const stopButton = $<HTMLButtonElement>('stop-button');
const output = $('output');
const status = $('status');
const modelInfo = $('model-info');
const backendNote = $('backend-note');

function showStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function showError(err: unknown): void {
  showStatus(`Error: ${messageOf(err)}`, true);
}

function sizeOf(bytes: number): string {
  return bytes < 1 << 20 ? `${thousands(bytes / 1024)} KB` : `${(bytes / (1 << 20)).toFixed(1)} MB`;
}

let checkpoints: CheckpointEntry[] = [];
let loaded: { path: string; mtime: number; engine: EngineRequest; m: LoadedModel } | null = null;
let running = false;
let stopRequested = false;

/** Refreshes the checkpoint list, keeping the selection while it is still listed. */
async function refreshCheckpoints(): Promise<void> {
  const res = await fetch('/api/checkpoints');
  if (!res.ok) throw new Error(`cannot list the checkpoints: HTTP ${res.status}`);
  checkpoints = (await res.json()) as CheckpointEntry[];
  const chosen = select.value;
  select.replaceChildren(...checkpoints.map((c) =>
    new Option(`${c.path} (${sizeOf(c.bytes)}, ${new Date(c.mtime).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' })})`, c.path)));
  if (checkpoints.some((c) => c.path === chosen)) select.value = chosen;
  select.disabled = checkpoints.length === 0;
  sampleButton.disabled = checkpoints.length === 0 || running;
}

/** The model of the chosen checkpoint, loaded again only when the file or the engine has changed. */
async function modelOf(entry: CheckpointEntry): Promise<LoadedModel> {
  const engine = engineRequestOf(engineSelect.value);
  if (loaded && loaded.path === entry.path && loaded.mtime === entry.mtime && loaded.engine === engine) return loaded.m;
  loaded?.m.dispose();
  loaded = null;
  modelInfo.textContent = '';
  backendNote.hidden = true;
  showStatus(`Loading ${entry.path}…`);
  const m = await loadModel(await fetchCheckpoint(entry.path), engine);
  loaded = { path: entry.path, mtime: entry.mtime, engine, m };
  const c = m.checkpoint.config, t = m.checkpoint.training;
  const trained = t ? ` · trained ${thousands(t.progress.iter)} iterations` +
    (t.progress.bestValLoss === null ? '' : `, best val loss ${t.progress.bestValLoss.toFixed(4)}`) : '';
  modelInfo.textContent = `${c.model} ${c.layers}×${c.hidden} · vocabulary ${m.vocab.size} ${m.vocab.kind}${trained}` +
    ` · ${m.backend} backend on ${m.where}`;
  backendNote.textContent = m.note ?? '';
  backendNote.hidden = m.note === null;
  return m;
}

function wholeNumber(input: HTMLInputElement, name: string, lo: number, hi: number): number {
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new Error(`${name} must be a whole number from ${thousands(lo)} to ${thousands(hi)}, got "${input.value}"`);
  }
  return v;
}

function readOptions(): Partial<SampleOptions> {
  return {
    temperature: Number(temperature.value),
    prime: prime.value,
    topK: wholeNumber(topk, 'top-k', 0, 1_000_000),
    length: wholeNumber(length, 'length', 1, MAX_LENGTH),
    seed: wholeNumber(seed, 'seed', 0, 2 ** 32 - 1),
  };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function sample(): Promise<void> {
  const opts = readOptions();
  await refreshCheckpoints();
  const entry = checkpoints.find((c) => c.path === select.value);
  if (!entry) throw new Error('that checkpoint is no longer there: pick another');
  const m = await modelOf(entry);
  if (opts.topK !== undefined && opts.topK > m.vocab.size) {
    throw new Error(`top-k ${opts.topK} is larger than the vocabulary (${m.vocab.size} symbols)`);
  }
  output.textContent = '';
  showStatus(`Sampling with the ${m.backend} backend on ${m.where}…`);
  const decoder = m.vocab.decoder();
  let pending = '';
  let chars = 0;
  const t0 = performance.now();
  let shown = t0;
  for await (const ids of sampleIds(m.model, m.vocab, opts)) {
    pending += decoder.push(ids[0]);
    chars++;
    const now = performance.now();
    if (now - shown >= YIELD_MS || chars === 1) {
      output.append(pending);
      pending = '';
      await nextTurn();
      shown = performance.now();
      if (stopRequested) break;
    }
  }
  output.append(pending + decoder.end());
  const secs = (performance.now() - t0) / 1000;
  const rate = secs > 0 ? ` (${thousands(chars / secs)} chars/s)` : '';
  showStatus(`${stopRequested ? 'Stopped after' : 'Done:'} ${thousands(chars)} characters in ${secs.toFixed(2)} s${rate}`);
}

temperature.addEventListener('input', () => { temperatureValue.value = Number(temperature.value).toFixed(2); });
stopButton.addEventListener('click', () => { stopRequested = true; });
form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (running) return;
  running = true;
  stopRequested = false;
  sampleButton.disabled = true;
  stopButton.disabled = false;
  sample().catch(showError).finally(() => {
    running = false;
    sampleButton.disabled = checkpoints.length === 0;
    stopButton.disabled = true;
  });
});

try {
  await refreshCheckpoints();
  if (checkpoints.length === 0) {
    showStatus('No checkpoints here yet: train a model first, e.g. npx charrnn train --serve, then reload this page.');
  }
} catch (err) {
  showError(err);
}
