// The command-line tool run as a user runs it: the real binary in a child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const BIN = resolve('bin/charrnn.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the tool to its end, in `cwd` and with `env` where given (else this process's). */
export function runCli(args: string[], { cwd, env }: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, cwd, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
  });
}

/** Starts the tool without waiting for it; the caller ends it with stopCli. */
export function spawnCli(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Ends a child started by spawnCli (if it still runs) and waits for it to exit. */
export async function stopCli(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGKILL');
  await exited;
}

/** Trains a small model on `textFile` for a few dozen iterations into `dir`; returns its latest checkpoint. */
export async function trainSmallModel(textFile: string, dir: string): Promise<string> {
  const r = await runCli(['train', textFile, '--hidden', '32', '--layers', '1', '--batch', '8', '--seq', '32',
    '--max-iters', '60', '--eval-every', '30', '--checkpoint-dir', dir, '--threads', '1', '--quiet']);
  if (r.code !== 0) throw new Error(`charrnn train failed: ${r.stderr}`);
  return join(dir, 'latest.safetensors');
}

/** Writes `text` to `<dir>/text.txt` and trains a small model on it into `<dir>/model`. */
export async function trainSmallModelOn(text: string, dir: string): Promise<string> {
  const file = join(dir, 'text.txt');
  await writeFile(file, text);
  return trainSmallModel(file, join(dir, 'model'));
}
