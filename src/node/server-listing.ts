// What the web app's server lists under its directory: checkpoints to sample and visualise, and
// training runs (directories with an event log) to show on the dashboard. Paths are relative
// POSIX paths; nothing outside the directory is listed, even through a symbolic link.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { EVENT_LOG_NAME } from './event-log.js';

export interface CheckpointEntry {
  path: string;
  bytes: number;
  mtime: number; // milliseconds since the epoch
}

export interface RunEntry {
  path: string; // the run's directory; "" is the served directory itself
  events: string; // its event log
  mtime: number; // of the event log: when the run last reported
}

// cv/<run>/<variant>/… is as deep as runs are usually kept; the limit also bounds a walk that
// symbolic links would make endless.
const MAX_DEPTH = 4;

interface FoundFile {
  rel: string;
  real: string;
  bytes: number;
  mtime: number;
}

/** Whether `path` is `root` or inside it (both real paths). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Files under `root` (a real path) whose names `want` accepts; hidden entries are skipped. */
async function findFiles(root: string, want: (name: string) => boolean): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  async function walk(dir: string, rel: string, depth: number): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // removed or unreadable while we looked: list what can be read
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const path = join(dir, e.name);
      const relPath = rel === '' ? e.name : `${rel}/${e.name}`;
      let real = path;
      if (e.isSymbolicLink()) {
        try {
          real = await realpath(path);
        } catch {
          continue;
        }
        if (!isInside(root, real)) continue;
      } else if (!e.isFile() && !e.isDirectory()) {
        continue;
      }
      let s;
      try {
        s = await stat(real);
      } catch {
        continue;
      }
      if (s.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(real, relPath, depth + 1);
      } else if (s.isFile() && want(e.name)) {
        found.push({ rel: relPath, real, bytes: s.size, mtime: s.mtimeMs });
      }
    }
  }
  await walk(root, '', 0);
  return found;
}

const newestFirst = (a: { mtime: number; path: string }, b: { mtime: number; path: string }): number =>
  b.mtime - a.mtime || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

const isCheckpoint = (name: string): boolean => name.endsWith('.safetensors');
const isEventLog = (name: string): boolean => name === EVENT_LOG_NAME;

/** The .safetensors files under `root`, newest first. */
export async function listCheckpoints(root: string): Promise<CheckpointEntry[]> {
  const files = await findFiles(root, isCheckpoint);
  return files.map((f) => ({ path: f.rel, bytes: f.bytes, mtime: Math.round(f.mtime) })).sort(newestFirst);
}

/** The directories under `root` (itself included) that hold an event log, most recently active first. */
export async function listRuns(root: string): Promise<RunEntry[]> {
  const files = await findFiles(root, isEventLog);
  return files.map((f) => ({ path: runOf(f.rel), events: f.rel, mtime: Math.round(f.mtime) })).sort(newestFirst);
}

function runOf(logPath: string): string {
  return logPath === EVENT_LOG_NAME ? '' : logPath.slice(0, -EVENT_LOG_NAME.length - 1);
}

/** The real path of the checkpoint listed as `rel`, or null when no such checkpoint is listed. */
export async function checkpointFile(root: string, rel: string): Promise<string | null> {
  return (await findFiles(root, isCheckpoint)).find((f) => f.rel === rel)?.real ?? null;
}

/** The real path of the event log of the run listed as `rel`, or null when no such run is listed. */
export async function runEventLog(root: string, rel: string): Promise<string | null> {
  return (await findFiles(root, isEventLog)).find((f) => runOf(f.rel) === rel)?.real ?? null;
}
