// What `train` shows while it runs. --json: one event per line on stdout, for programs.
// Otherwise on stderr, so stdout stays free: a live progress bar on a terminal, and plain lines
// at a steady pace when stderr is a file or a pipe, where a redrawn bar would be unreadable.
import cliProgress from 'cli-progress';
import type { TrainEvent } from '../train/events.js';
import { duration, thousands } from './format.js';

export interface Display {
  show(event: TrainEvent): void;
  note(line: string): void;
  close(): void;
}

export interface CorpusInfo {
  name: string;
  chars: number;
  vocab: number;
  unit: string;
}

const PLAIN_EVERY = 10;

export function createDisplay(mode: { json: boolean; quiet: boolean }, corpus: CorpusInfo): Display {
  if (mode.json) return jsonDisplay();
  if (mode.quiet) return { show: () => {}, note: () => {}, close: () => {} };
  return process.stderr.isTTY ? new BarDisplay(corpus) : new PlainDisplay(corpus);
}

function jsonDisplay(): Display {
  return {
    show: (e) => { process.stdout.write(`${JSON.stringify(e)}\n`); },
    note: (line) => { process.stderr.write(`${line}\n`); },
    close: () => {},
  };
}

function header(c: CorpusInfo, e: Extract<TrainEvent, { type: 'start' }>): string {
  const { config: m } = e;
  const shape = `${m.model} ${m.layers}×${m.hidden}${m.embedding > 0 ? `, embedding ${m.embedding}` : ''}${m.dropout > 0 ? `, dropout ${m.dropout}` : ''}`;
  const from = e.iter > 0 ? `, resuming at iteration ${e.iter}` : '';
  return `corpus ${c.name}: ${thousands(c.chars)} ${c.unit}s, vocabulary ${c.vocab}\n` +
    `model ${shape}: ${thousands(e.params)} parameters, backend ${e.backend}\n` +
    `${thousands(e.itersPerEpoch)} iterations per epoch, ${thousands(e.totalIters)} in all${from}`;
}

// Lines for the events other than iterations; the same text in both human displays.
function describe(e: TrainEvent, unit: string): string | null {
  switch (e.type) {
    case 'eval':
      return `iter ${e.iter} (epoch ${e.epoch.toFixed(2)}): val loss ${e.valLoss.toFixed(4)}, ${e.bpc.toFixed(3)} bits/${unit}`;
    case 'sample':
      return `sample at iter ${e.iter} (temperature ${e.temperature}):\n${e.text}\n----`;
    case 'checkpoint':
      return `saved ${e.path}`;
    case 'done': {
      const best = e.bestValLoss === null ? '' : `; best val loss ${e.bestValLoss.toFixed(4)}`;
      return `${e.message} (epoch ${e.epoch.toFixed(2)}, ${duration(e.elapsed)})${best}`;
    }
    default:
      return null;
  }
}

class PlainDisplay implements Display {
  private total = 0;
  constructor(private readonly corpus: CorpusInfo) {}

  show(e: TrainEvent): void {
    if (e.type === 'start') {
      this.total = e.totalIters;
      this.note(header(this.corpus, e));
    } else if (e.type === 'iteration') {
      if (e.iter === 1 || e.iter % PLAIN_EVERY === 0 || e.iter === this.total) {
        this.note(`iter ${e.iter}/${this.total} (epoch ${e.epoch.toFixed(2)}): loss ${e.loss.toFixed(4)}, ` +
          `grad norm ${e.gradNorm.toFixed(3)}, lr ${e.lr.toExponential(2)}, ${thousands(Math.round(e.charsPerSec))} ${this.corpus.unit}s/s, ETA ${duration(e.eta)}`);
      }
    } else {
      const line = describe(e, this.corpus.unit);
      if (line !== null) this.note(line);
    }
  }

  note(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  close(): void {}
}

class BarDisplay implements Display {
  private readonly multi: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | null = null;
  private val = '-';

  constructor(private readonly corpus: CorpusInfo) {
    this.multi = new cliProgress.MultiBar({
      stream: process.stderr,
      format: `{bar} {value}/{total} | epoch {epochs} | loss {loss} | val {val} | {speed} ${corpus.unit}s/s | ETA {left}`,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 24,
      fps: 5,
    }, cliProgress.Presets.shades_classic);
  }

  show(e: TrainEvent): void {
    if (e.type === 'start') {
      process.stderr.write(`${header(this.corpus, e)}\n`);
      this.bar = this.multi.create(e.totalIters, e.iter, { epochs: (e.iter / e.itersPerEpoch).toFixed(2), loss: '-', val: '-', speed: '-', left: '-' });
      return;
    }
    if (e.type === 'eval') this.val = e.valLoss.toFixed(4);
    if (e.type === 'iteration') {
      this.bar?.update(e.iter, { epochs: e.epoch.toFixed(2), loss: e.loss.toFixed(4), val: this.val,
        speed: thousands(Math.round(e.charsPerSec)), left: duration(e.eta) });
      return;
    }
    if (e.type === 'done') {
      this.close();
      process.stderr.write(`${describe(e, this.corpus.unit)}\n`);
      return;
    }
    const line = describe(e, this.corpus.unit);
    if (line !== null) this.note(line);
  }

  note(line: string): void {
    if (this.bar) this.multi.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  close(): void {
    if (!this.bar) return;
    this.multi.stop();
    this.bar = null;
  }
}
