// The training event log: each TrainEvent as one JSON line in <checkpoint-dir>/train.jsonl, which
// the web app's dashboard tails. Every line goes out in one synchronous write, so a reader
// polling the file sees whole lines in order, and a run that is stopped keeps every event
// before the stop.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { TrainEvent } from '../train/events.js';

export const EVENT_LOG_NAME = 'train.jsonl';

export interface EventLog {
  write(event: TrainEvent): void;
  close(): void;
}

/**
 * Opens `dir`/train.jsonl: a fresh run starts a new file, a resumed run appends to it. A failed
 * write is reported once through `warn` and ends the log, not the training.
 */
export function openEventLog(dir: string, append: boolean, warn: (message: string) => void): EventLog {
  const path = join(dir, EVENT_LOG_NAME);
  let fd: number | null;
  try {
    // Replaced rather than truncated in place: a new file (a new inode) tells a reader that
    // tails the old one to start over.
    if (!append) rmSync(path, { force: true });
    fd = openSync(path, 'a');
  } catch (e) {
    throw new UserError(`cannot write the event log ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return {
    write(event) {
      if (fd === null) return;
      try {
        writeSync(fd, `${JSON.stringify(event)}\n`);
      } catch (e) {
        warn(`cannot write the event log ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}): no more events are logged`);
        this.close();
      }
    },
    close() {
      if (fd === null) return;
      closeSync(fd);
      fd = null;
    },
  };
}
