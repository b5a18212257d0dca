// The body of one wasm kernel worker thread (started by wasm-workers.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { runKernelWorker, type WorkerInit } from '../backend/wasm/threads.js';

const port = parentPort;
if (port === null) throw new Error('wasm-worker.js runs only as a worker thread');
try {
  await runKernelWorker(workerData as WorkerInit, () => port.postMessage('ready'));
} catch (err) {
  port.postMessage(err instanceof Error ? err.message : String(err));
}
