// The visualiser page: pick a checkpoint the server lists, let the model read the text in
// #text-input here in the browser (src/inspect), and show the result with viz-view.
import { encodeInspection, inspectText, positionSymbols, rankCells, textFeatures } from '../../src/index.js';
import { messageOf } from './backends.js';
import { fetchCheckpoint, loadModel, type LoadedModel } from './engine.js';
import { decodeViz, renderViz } from './viz-view.js';

// As `charrnn viz`'s default: the page holds layers × hidden × (2 for LSTM) values per character.
const MAX_CHARS = 4000;

interface Listed {
  path: string;
  bytes: number;
  mtime: number;
}

function byId<T extends HTMLElement>(id: string, kind: { new (): T }): T {
  const e = document.getElementById(id);
  if (!(e instanceof kind)) throw new Error(`the page has no #${id}`);
  return e;
}

const select = byId('checkpoint-select', HTMLSelectElement);
const input = byId('text-input', HTMLTextAreaElement);
const button = byId('run-button', HTMLButtonElement);
const status = byId('status', HTMLElement);
const root = byId('viz-root', HTMLDivElement);

let loaded: { path: string; model: LoadedModel } | null = null;

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function fail(err: unknown): void {
  setStatus(`Error: ${messageOf(err)}`, true);
}

async function listCheckpoints(): Promise<void> {
  const res = await fetch('/api/checkpoints');
  if (!res.ok) throw new Error(`cannot list checkpoints: HTTP ${res.status}`);
  const list = (await res.json()) as Listed[]; // newest first
  select.replaceChildren(...list.map((c) => Object.assign(document.createElement('option'), { value: c.path, textContent: c.path })));
  if (list.length === 0) {
    setStatus('No checkpoints here yet: train one into the directory this server shows (charrnn train input.txt --checkpoint-dir cv).');
    return;
  }
  select.disabled = false;
  button.disabled = false;
}

async function model(path: string): Promise<LoadedModel> {
  if (loaded?.path === path) return loaded.model;
  loaded?.model.dispose();
  loaded = null;
  setStatus(`loading ${path}…`);
  const m = await loadModel(await fetchCheckpoint(path));
  loaded = { path, model: m };
  return m;
}

async function run(): Promise<void> {
  const path = select.value;
  const all = Array.from(input.value);
  if (all.length === 0) throw new Error('the text is empty: type or paste some text for the model to read');
  const text = all.slice(0, MAX_CHARS).join('');
  const m = await model(path);
  setStatus(`reading ${all.length > MAX_CHARS ? `the first ${MAX_CHARS} of ${all.length}` : all.length} characters…`);
  const started = performance.now();
  const ins = await inspectText(m.model, m.vocab, text);
  const ranking = rankCells(ins.traces, textFeatures(positionSymbols(ins)));
  const { model: cell, layers, hidden } = m.checkpoint.config;
  const json = await encodeInspection(ins, ranking, { title: `${path}: ${layers}×${hidden} ${cell}`, deflate: false });
  renderViz(root, await decodeViz(json));
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  setStatus(`${path} (${layers}×${hidden} ${cell.toUpperCase()}) read ${ins.ids.length} ${m.vocab.kind === 'bytes' ? 'bytes' : 'characters'} in ${secs} s on the ${m.backend} backend` +
    `${all.length > MAX_CHARS ? ` (only the first ${MAX_CHARS} characters)` : ''}.${m.note ? ` ${m.note}` : ''}`);
}

button.addEventListener('click', () => {
  button.disabled = true;
  run().catch(fail).finally(() => { button.disabled = false; });
});

listCheckpoints().catch(fail);
