// The "train in the browser" page: takes the text from #corpus-input, trains in a module Worker
// (train-worker.ts) and shows its events: the loss curves, speed, samples; pause, resume and
// download of a checkpoint the command line can sample from.
import uPlot from 'uplot';
import type { TrainEvent } from '../../src/index.js';
import { renderStats, sampleElement, thousands } from './run-view.js';
import { engineRequestOf } from './engine-choice.js';
import type { FromWorker, ModelSize, ToWorker } from './train-protocol.js';

const PASTED = 'text pasted in the browser';
const SPEED_WINDOW = 20; // iterations the chars/s figure averages over
const CHART_HEIGHT = 300;

function byId<T extends HTMLElement>(id: string, kind: { new (): T }): T {
  const e = document.getElementById(id);
  if (!(e instanceof kind)) throw new Error(`the page has no #${id}`);
  return e;
}

const input = byId('corpus-input', HTMLTextAreaElement);
const fileInput = byId('corpus-file', HTMLInputElement);
const sizeSelect = byId('size-select', HTMLSelectElement);
const engineSelect = byId('engine-select', HTMLSelectElement);
const startButton = byId('start-button', HTMLButtonElement);
const pauseButton = byId('pause-button', HTMLButtonElement);
const downloadButton = byId('download-button', HTMLButtonElement);
const chartBox = byId('loss-chart', HTMLDivElement);
const stats = byId('stats', HTMLElement);
const samples = byId('samples', HTMLDivElement);
const status = byId('status', HTMLElement);

let source = PASTED;

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

let worker: Worker | null = null;
let paused = false;

// Where the text came from is recorded in the checkpoint, as the command line records its file.
input.addEventListener('input', () => { source = PASTED; });
input.addEventListener('dragover', (e) => e.preventDefault());
input.addEventListener('drop', (e) => {
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  e.preventDefault();
  void load(file);
});
fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) void load(file);
});

async function load(file: File): Promise<void> {
  input.value = await file.text();
  source = file.name;
  setStatus(`${file.name}: ${thousands(input.value.length)} characters`);
}

// The same chart as the dashboard's: train loss per iteration, validation loss per evaluation.
class LossChart {
  private readonly iters: number[] = [];
  private readonly train: (number | null)[] = [];
  private readonly val: (number | null)[] = [];
  private readonly plot: uPlot;
  private readonly resize: ResizeObserver;
  private drawPending = false;

  constructor(private readonly box: HTMLElement) {
    this.plot = new uPlot({
      width: this.width(), height: CHART_HEIGHT,
      scales: { x: { time: false } },
      axes: [{ label: 'iteration' }, { label: 'loss (nats/char)', size: 60 }],
      series: [
        { label: 'iteration' },
        { label: 'train loss', stroke: '#2f62d0', width: 1.25, points: { show: false } },
        { label: 'val loss', stroke: '#d0542f', width: 2, spanGaps: true, points: { show: true, size: 6, fill: '#d0542f' } },
      ],
    }, [this.iters, this.train, this.val], box);
    this.resize = new ResizeObserver(() => this.plot.setSize({ width: this.width(), height: CHART_HEIGHT }));
    this.resize.observe(box);
  }

  // #loss-chart's padding is 0.5em on each side.
  private width(): number { return Math.max(300, this.box.clientWidth - 16); }

  addTrain(iter: number, loss: number): void {
    this.iters.push(iter);
    this.train.push(loss);
    this.val.push(null);
    this.redraw();
  }

  // An evaluation follows the iteration it measured, so it usually lands on the last point.
  addVal(iter: number, loss: number): void {
    if (this.iters.at(-1) === iter) this.val[this.val.length - 1] = loss;
    else {
      this.iters.push(iter);
      this.train.push(null);
      this.val.push(loss);
    }
    this.redraw();
  }

  // Iterations come faster than frames: draw once per frame.
  private redraw(): void {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.plot.setData([this.iters, this.train, this.val]);
    });
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot.destroy();
  }
}

/** One run's display: the chart, the figures in #stats and the samples. */
class RunView {
  readonly chart = new LossChart(chartBox);
  private where = '1 thread';
  private note: string | null = null; // why a slower engine runs
  description = '';
  private lastVal: number | null = null;
  private secsPerChar: number[] = [];

  constructor() {
    samples.replaceChildren();
    stats.replaceChildren();
  }

  show(e: TrainEvent): void {
    switch (e.type) {
      case 'start':
        this.description = `Training a ${e.config.layers} × ${e.config.hidden} LSTM (${thousands(e.params)} parameters) ` +
          `on ${e.vocab} distinct characters with the ${e.backend} engine on ${this.where}` +
          (this.note ? ` (${this.note})` : '');
        setStatus(this.description);
        break;
      case 'iteration':
        this.chart.addTrain(e.iter, e.loss);
        this.secsPerChar.push(1 / e.charsPerSec);
        if (this.secsPerChar.length > SPEED_WINDOW) this.secsPerChar.shift();
        this.stats(e.iter, e.epoch, e.loss);
        break;
      case 'eval':
        this.lastVal = e.valLoss;
        this.chart.addVal(e.iter, e.valLoss);
        break;
      case 'sample':
        samples.append(sampleElement(e.iter, e.text));
        break;
      case 'checkpoint':
        downloadButton.disabled = false;
        downloadButton.textContent = 'Download checkpoint';
        break;
      case 'done':
        setStatus(`Stopped: ${e.message}`);
        pauseButton.disabled = true;
        break;
    }
  }

  setEngine(where: string, note: string | null): void {
    this.where = where;
    this.note = note;
  }

  private stats(iter: number, epoch: number, loss: number): void {
    const charsPerSec = this.secsPerChar.length / this.secsPerChar.reduce((a, b) => a + b, 0);
    const parts: [string, string][] = [
      ['iteration', thousands(iter)],
      ['epoch', epoch.toFixed(2)],
      ['chars/s', thousands(charsPerSec)],
      ['loss', loss.toFixed(4)],
      ...(this.lastVal === null ? [] : [['val loss', this.lastVal.toFixed(4)] as [string, string]]),
    ];
    renderStats(stats, parts);
  }
}

let view: RunView | null = null;

function send(w: Worker, m: ToWorker): void { w.postMessage(m); }

function start(): void {
  worker?.terminate();
  view?.chart.destroy();
  const v = new RunView();
  view = v;
  paused = false;
  pauseButton.textContent = 'Pause';
  pauseButton.disabled = true;
  downloadButton.disabled = true;
  downloadButton.textContent = 'Download checkpoint (after the first evaluation)';
  startButton.textContent = 'Start over';
  setStatus('Loading the engine…');

  const w = new Worker(new URL('./train-worker.js', import.meta.url), { type: 'module' });
  worker = w;
  // A run started over may still have messages on their way: only the current worker's count.
  w.onmessage = (e: MessageEvent<FromWorker>) => {
    if (worker !== w) return;
    const m = e.data;
    switch (m.type) {
      case 'ready':
        v.setEngine(m.where, m.note);
        pauseButton.disabled = false;
        break;
      case 'event':
        v.show(m.event);
        break;
      case 'checkpoint':
        save(m.name, m.bytes);
        break;
      case 'error':
        fail(m.message);
        break;
    }
  };
  w.onerror = (e) => {
    if (worker === w) fail(`the training worker stopped: ${e.message}`);
  };
  send(w, { type: 'start', text: input.value, size: sizeSelect.value as ModelSize, source, engine: engineRequestOf(engineSelect.value) });
}

function fail(message: string): void {
  setStatus(`Error: ${message}`, true);
  pauseButton.disabled = true;
  worker?.terminate();
  worker = null;
}

function save(name: string, bytes: Uint8Array<ArrayBuffer>): void {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // The browser reads the blob after this event returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

startButton.addEventListener('click', start);
pauseButton.addEventListener('click', () => {
  if (!worker || !view) return;
  paused = !paused;
  send(worker, { type: paused ? 'pause' : 'resume' });
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
  setStatus(paused ? 'Paused' : view.description);
});
downloadButton.addEventListener('click', () => {
  if (worker) send(worker, { type: 'download' });
});
