// The dashboard: picks a training run (newest first) and follows its event log over Server-Sent
// Events: loss curves (train and validation, by iteration), speed and progress, and the samples
// as a timeline. It only reads events, so it loads no engine code.
import uPlot from 'uplot';
import type { TrainEvent } from '../../src/index.js';
import { renderStats, sampleElement, thousands } from './run-view.js';

interface RunEntry {
  path: string;
  events: string;
  mtime: number;
}

type Start = Extract<TrainEvent, { type: 'start' }>;
type Iteration = Extract<TrainEvent, { type: 'iteration' }>;
type Eval = Extract<TrainEvent, { type: 'eval' }>;

// New runs appear in the picker without a reload.
const RUNS_POLL_MS = 3000;
const CHART_HEIGHT = 320;
// Per-iteration speed is noisy; the shown figure is smoothed over roughly this many iterations.
const SPEED_SMOOTHING = 20;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const runSelect = $<HTMLSelectElement>('run-select');
const runState = $('run-state');
const runInfo = $('run-info');
const noRuns = $('no-runs');
const runControls = $('run-controls');
const runView = $('run-view');
const stats = $('stats');
const chartBox = $('loss-chart');
const samples = $('samples');

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

function runLabel(r: RunEntry): string {
  const when = new Date(r.mtime).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
  return `${r.path === '' ? '(this directory)' : r.path} · ${when}`;
}

/** One run's curves and numbers, rebuilt from its events. */
class RunView {
  private readonly iters: number[] = [];
  private readonly train: (number | null)[] = [];
  private readonly val: (number | null)[] = [];
  private start: Start | null = null;
  private last: Iteration | null = null;
  private lastEval: Eval | null = null;
  private speed = 0;
  private done: string | null = null;
  private drawPending = false;

  constructor(private readonly plot: uPlot) {}

  add(e: TrainEvent): void {
    switch (e.type) {
      case 'start':
        this.start = e;
        this.done = null;
        break;
      case 'iteration':
        this.train[this.index(e.iter)] = e.loss;
        this.speed = this.last === null ? e.charsPerSec : this.speed + (e.charsPerSec - this.speed) / SPEED_SMOOTHING;
        this.last = e;
        break;
      case 'eval':
        this.val[this.index(e.iter)] = e.valLoss;
        this.lastEval = e;
        break;
      case 'sample':
        samples.append(sampleElement(e.iter, e.text, e.temperature));
        break;
      case 'done':
        this.done = e.message;
        break;
      case 'checkpoint':
        break;
    }
    this.scheduleDraw();
  }

  // The index of the chart's point at `iter`, made when it is new. Events come in order of
  // iteration (a resumed run goes on from where it stopped), so a new point is nearly always last.
  private index(iter: number): number {
    let i = this.iters.length - 1;
    while (i >= 0 && this.iters[i] > iter) i--;
    if (i >= 0 && this.iters[i] === iter) return i;
    i++;
    this.iters.splice(i, 0, iter);
    this.train.splice(i, 0, null);
    this.val.splice(i, 0, null);
    return i;
  }

  // Hundreds of events can arrive at once (a log replayed on connecting): draw once per frame.
  private scheduleDraw(): void {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      if (view !== this) return; // replaced by another run's view meanwhile
      this.plot.setData([this.iters, this.train, this.val] as uPlot.AlignedData);
      this.showNumbers();
    });
  }

  private showNumbers(): void {
    const s = this.start, it = this.last, ev = this.lastEval;
    if (s) {
      const c = s.config, o = s.options;
      runInfo.textContent = `${c.model} ${c.layers}×${c.hidden}${c.embedding > 0 ? `, embedding ${c.embedding}` : ''}` +
        `${c.dropout > 0 ? `, dropout ${c.dropout}` : ''} · ${thousands(s.params)} parameters · vocabulary ${s.vocab}` +
        ` · batch ${o.batch} × ${o.seq} · ${o.optimizer}, lr ${o.lr} · ${s.backend} backend`;
    }
    const parts: [string, string][] = [];
    if (it) {
      parts.push(['iteration', `${thousands(it.iter)} / ${s ? thousands(s.totalIters) : '?'}`]);
      parts.push(['epoch', it.epoch.toFixed(2)]);
      parts.push(['chars/s', thousands(this.speed)]);
      parts.push(['elapsed', clock(it.elapsed)]);
      if (this.done === null) parts.push(['ETA', clock(it.eta)]);
      parts.push(['loss', it.loss.toFixed(4)]);
    } else if (s) {
      parts.push(['iteration', `${thousands(s.iter)} / ${thousands(s.totalIters)}`]);
    }
    if (ev) parts.push(['val loss', `${ev.valLoss.toFixed(4)} (${ev.bpc.toFixed(3)} bits/char)`]);
    renderStats(stats, parts);
    runState.textContent = this.done ?? (s ? 'training…' : 'waiting for the run to start…');
  }
}

function makePlot(): uPlot {
  const opts: uPlot.Options = {
    width: Math.max(300, chartBox.clientWidth - 16),
    height: CHART_HEIGHT,
    scales: { x: { time: false } },
    axes: [
      { label: 'iteration' },
      { label: 'loss (nats/char)', size: 60 },
    ],
    series: [
      { label: 'iteration' },
      { label: 'train loss', stroke: '#2f62d0', width: 1.25, points: { show: false } },
      { label: 'val loss', stroke: '#d0542f', width: 2, spanGaps: true, points: { show: true, size: 6, fill: '#d0542f' } },
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  const plot = new uPlot(opts, [[], [], []], chartBox);
  new ResizeObserver(() => plot.setSize({ width: Math.max(300, chartBox.clientWidth - 16), height: CHART_HEIGHT }))
    .observe(chartBox);
  return plot;
}

const plot = makePlot();
let source: EventSource | null = null;
let view: RunView | null = null;
let runs: RunEntry[] = [];

function clearView(): void {
  view = new RunView(plot);
  samples.replaceChildren();
  stats.replaceChildren();
  runInfo.textContent = '';
  plot.setData([[], [], []]);
}

function follow(run: string): void {
  source?.close();
  clearView();
  runState.textContent = 'connecting…';
  const es = new EventSource(`/api/events?run=${encodeURIComponent(run)}`);
  source = es;
  // The server sends the whole log on every connection, a reconnection included: start over.
  es.onopen = () => clearView();
  es.addEventListener('reset', () => clearView());
  es.onmessage = (m: MessageEvent<string>) => {
    let e: TrainEvent;
    try {
      e = JSON.parse(m.data) as TrainEvent;
    } catch {
      return; // a line cut short by a crash: skip it
    }
    view?.add(e);
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      runState.textContent = 'this run is no longer there';
      void refreshRuns();
    } else {
      runState.textContent = 'connection lost, reconnecting…';
    }
  };
}

async function refreshRuns(): Promise<void> {
  let fresh: RunEntry[];
  try {
    const res = await fetch('/api/runs');
    if (!res.ok) return;
    fresh = (await res.json()) as RunEntry[];
  } catch {
    return; // the server is away for a moment; the next poll tries again
  }
  fresh.sort((a, b) => b.mtime - a.mtime);
  const chosen = runSelect.value;
  const had = runs.length > 0;
  runs = fresh;
  runSelect.replaceChildren(...runs.map((r) => new Option(runLabel(r), r.path)));
  runSelect.disabled = runs.length === 0;
  noRuns.hidden = runs.length > 0;
  runControls.hidden = runView.hidden = runs.length === 0;
  if (runs.length === 0) return;
  if (had && runs.some((r) => r.path === chosen)) {
    runSelect.value = chosen;
  } else {
    runSelect.value = runs[0].path;
    follow(runs[0].path);
  }
}

runSelect.addEventListener('change', () => follow(runSelect.value));
await refreshRuns();
setInterval(() => { void refreshRuns(); }, RUNS_POLL_MS);
