// Checkpoints on disk: read with clear errors, written to a temporary file and renamed,
// so an interrupted write never destroys the last good checkpoint.
import { mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { checkpointName, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../io/checkpoint.js';

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`no such checkpoint: ${path}`);
    if (code === 'EISDIR') throw new UserError(`${path} is a directory, not a checkpoint`);
    throw new UserError(`cannot read checkpoint ${path}: ${code ?? String(e)}`);
  }
  try {
    return decodeCheckpoint(bytes);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new UserError(`cannot write checkpoint ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Makes sure checkpoints can be written to `dir` before any time is spent training. */
export async function checkWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const s = await stat(dir);
    if (!s.isDirectory()) throw new Error('ENOTDIR');
    const probe = join(dir, `.charrnn-write-test.${process.pid}`);
    await writeFile(probe, '');
    await unlink(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UserError(`checkpoint directory ${dir} is not writable (${code})`);
  }
}

/** Writes lm_<model>_epoch<E>_<loss>.safetensors and latest.safetensors; returns the first path. */
export async function writeCheckpoint(dir: string, ck: Checkpoint, epoch: number, loss: number): Promise<string> {
  const bytes = encodeCheckpoint(ck);
  const path = join(dir, checkpointName(ck.config.model, epoch, loss));
  await writeAtomic(path, bytes);
  await writeAtomic(join(dir, 'latest.safetensors'), bytes);
  return path;
}
