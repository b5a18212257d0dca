// The body of the web server's thread (started by server-thread.ts): serves until told to close.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../errors.js';
import { startServer, type ServerOptions } from './server.js';
import type { ServerThreadReport } from './server-thread.js';

const port = parentPort;
if (port === null) throw new Error('server-worker.js runs only as a worker thread');
const report = (r: ServerThreadReport): void => port.postMessage(r);
try {
  const server = await startServer(workerData as ServerOptions);
  port.once('message', () => {
    // Closed, the server holds nothing that keeps the thread alive, so the thread ends.
    void server.close();
  });
  report({ type: 'listening', url: server.url, port: server.port });
} catch (err) {
  report({ type: 'failed', message: err instanceof Error ? err.message : String(err), user: err instanceof UserError });
}
