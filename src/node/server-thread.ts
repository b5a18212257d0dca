// The web app's server on a thread of its own, for a process whose main thread is busy: training
// holds it for a whole step at a time, and pages and event streams should not wait for steps.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.js';
import type { RunningServer, ServerOptions } from './server.js';

/** What the server thread reports once, when it listens or fails to. */
export type ServerThreadReport =
  | { type: 'listening'; url: string; port: number }
  | { type: 'failed'; message: string; user: boolean };

const entry = new URL('./server-worker.js', import.meta.url);

/**
 * Starts startServer(opts) on a worker thread. `onError` hears of the thread failing later;
 * requests never make it fail, so that would be a bug.
 */
export async function startServerThread(opts: ServerOptions, onError: (err: Error) => void): Promise<RunningServer> {
  const w = new Worker(entry, { workerData: opts });
  const report = await new Promise<ServerThreadReport>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`the web server thread exited (code ${code}) before it started`)));
  });
  w.removeAllListeners();
  if (report.type === 'failed') {
    await once(w, 'exit');
    throw report.user ? new UserError(report.message) : new Error(report.message);
  }
  w.on('error', onError);
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  return {
    url: report.url,
    port: report.port,
    close: async () => {
      w.postMessage('close');
      await exited;
    },
  };
}
