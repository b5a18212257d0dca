// The body of a browser module worker for the wasm backend's threads: the first message is
// the WorkerInit that webWorkerSpawner posts. Start it as
// `webWorkerSpawner(new URL('./web-worker.js', import.meta.url))`.
import { runKernelWorker, type WorkerInit } from './threads.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerInit>) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (e) => {
  scope.onmessage = null;
  runKernelWorker(e.data, () => scope.postMessage('ready')).catch((err: unknown) => {
    scope.postMessage(err instanceof Error ? err.message : String(err));
  });
};
