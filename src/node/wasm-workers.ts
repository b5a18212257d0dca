// Worker threads for the wasm backend in Node: each runs wasm-worker.js over the backend's
// shared memory. Workers are unreferenced once ready, so they never keep a process alive
// after its work is done.
import { Worker } from 'node:worker_threads';
import type { SpawnWorker } from '../backend/wasm/threads.js';

const entry = new URL('./wasm-worker.js', import.meta.url);

export const spawnNodeWorker: SpawnWorker = (init) => {
  const w = new Worker(entry, { workerData: init });
  const ready = new Promise<void>((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`a wasm worker thread exited (code ${code}) before it started`));
    w.once('error', reject);
    w.once('exit', onExit);
    w.once('message', (m: unknown) => {
      w.off('error', reject);
      w.off('exit', onExit);
      if (m === 'ready') {
        // Unreferenced only now: before this, the pending start is what keeps the process waiting.
        w.unref();
        resolve();
      } else {
        reject(new Error(`a wasm worker thread failed to start: ${String(m)}`));
      }
    });
  });
  return { ready, terminate: () => { void w.terminate(); } };
};
