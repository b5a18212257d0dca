// The web app's HTTP server (Node's own http): the pages, their compiled scripts, the engine's
// browser-safe modules and wasm kernels, uPlot, and an API over a directory of training runs
// (/api/checkpoints, /api/checkpoint, /api/runs, /api/events). It only serves bytes: checkpoints
// are decoded in the page, so no file can make the server fail.
//
// Every response is cross-origin isolated (COOP, COEP, CORP): the wasm backend runs on shared
// memory, which browsers allow only on isolated pages. Only files inside a route's own root are
// served: paths are checked segment by segment after decoding (no "..", no hidden names) and
// again as real paths, so neither encoded dots nor symbolic links lead out.
import { open, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { tailEvents, type EventTail } from './server-events.js';
import { checkpointFile, isInside, listCheckpoints, listRuns, runEventLog } from './server-listing.js';
import { DEFAULT_HOST, DEFAULT_PORT } from './server-defaults.js';

export interface ServerOptions {
  /** The directory of checkpoints and runs the API lists (e.g. the checkpoint directory). */
  dir: string;
  host?: string;
  /** 0 picks any free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  /** Ends open event streams and stops listening. */
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
} as const;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  wasm: 'application/wasm',
  json: 'application/json; charset=utf-8',
  safetensors: 'application/octet-stream',
};

const PAGES = new Set(['index.html', 'sample.html', 'viz.html', 'train.html', 'style.css']);
const WASM = new Set(['charrnn-simd.wasm', 'charrnn-relaxed.wasm']);
const VENDOR = new Set(['uPlot.esm.js', 'uPlot.min.css']);
// Node-only engine code: of no use to a page, and not to be read by one.
const NODE_ONLY = new Set(['node', 'cli']);

interface Roots {
  web: string;
  app: string;
  src: string;
  wasm: string;
  vendor: string;
  data: string;
}

// This file runs as dist/src/node/server.js in the package.
const packageDir = fileURLToPath(new URL('../../../', import.meta.url));

async function realOrMissing(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path; // a part not built: its files are simply not found
  }
}

async function resolveRoots(dir: string): Promise<Roots> {
  let vendor: string;
  try {
    vendor = dirname(createRequire(import.meta.url).resolve('uplot'));
  } catch {
    vendor = join(packageDir, 'node_modules', 'uplot', 'dist');
  }
  const [web, app, src, wasm, v, data] = await Promise.all([
    join(packageDir, 'web'), join(packageDir, 'dist', 'web', 'app'), join(packageDir, 'dist', 'src'),
    join(packageDir, 'build', 'wasm'), vendor, dir,
  ].map(realOrMissing));
  return { web, app, src, wasm, vendor: v, data };
}

async function checkDir(dir: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    throw new UserError(`no such directory: ${dir} (train a model with --checkpoint-dir ${dir} first, or serve another with --dir)`);
  }
  if (!isDir) throw new UserError(`${dir} is not a directory`);
}

/** Serves the web app over `dir` until close(). Fails with a UserError when it cannot listen. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  await checkDir(opts.dir);
  const roots = await resolveRoots(opts.dir);
  const tails = new Set<EventTail>();

  // Sockets with a response under way: one of those cannot take another answer.
  const answering = new WeakSet<object>();
  const server = createServer((req, res) => {
    const socket = req.socket;
    answering.add(socket);
    res.on('close', () => answering.delete(socket));
    res.on('error', () => res.destroy());
    receive(req, res, roots, tails);
  });
  // A request Node cannot parse gets a plain 400 that carries the headers every response has.
  server.on('clientError', (_err, socket) => {
    if (!socket.writable || answering.has(socket)) return socket.destroy();
    const headers = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(`HTTP/1.1 400 Bad Request\r\n${headers}Content-Length: 0\r\nConnection: close\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(err, host, port));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      // Later errors are about single connections (a failed accept when out of file
      // descriptors): the server goes on with the others.
      server.on('error', () => {});
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${bound}/`,
    port: bound,
    close: () => new Promise<void>((resolve) => {
      for (const t of tails) t.stop();
      tails.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (err.code) {
    case 'EADDRINUSE': return new UserError(`port ${port} on ${host} is already in use (choose another with --port, or 0 for any free one)`);
    case 'EACCES': return new UserError(`no permission to listen on port ${port} (choose one above 1023 with --port)`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return new UserError(`cannot listen on host ${host} (${err.code}): use an address of this machine, such as 127.0.0.1`);
    default: return err;
  }
}

/** Reads (and bounds) the request body, then answers. */
function receive(req: IncomingMessage, res: ServerResponse, roots: Roots, tails: Set<EventTail>): void {
  let received = 0;
  let refused = false;
  const tooLarge = (): void => {
    refused = true;
    send(res, 413, 'request body too large\n', { Connection: 'close' });
    res.on('finish', () => req.destroy());
  };
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return tooLarge();
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_BODY && !refused) tooLarge();
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (refused) return;
    answer(req, res, roots, tails).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
}

function send(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(req: IncomingMessage, res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': TYPES.json, 'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const notFound = (res: ServerResponse): void => send(res, 404, 'not found\n');

/**
 * The path's segments, decoded; null for one that could lead out of a root or name a hidden
 * file: "..", ".", any name starting with a dot, an encoded slash, backslash or NUL.
 */
function pathSegments(rawPath: string): string[] | null {
  const segments: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (s.startsWith('.') || /[/\\\0]/.test(s)) return null;
    segments.push(s);
  }
  return segments;
}

async function answer(req: IncomingMessage, res: ServerResponse, roots: Roots, tails: Set<EventTail>): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const segs = pathSegments(q < 0 ? url : url.slice(0, q));
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  if (segs === null) return notFound(res);
  const [first, ...rest] = segs;
  const last = segs.at(-1) ?? '';

  if (segs.length === 0) return serveFile(req, res, roots.web, ['index.html']);
  if (segs.length === 1 && PAGES.has(first)) return serveFile(req, res, roots.web, segs);
  if (first === 'app' && rest.length > 0 && last.endsWith('.js')) return serveFile(req, res, roots.app, rest);
  if (first === 'src' && rest.length > 0 && last.endsWith('.js') && !NODE_ONLY.has(rest[0])) {
    return serveFile(req, res, roots.src, rest, NODE_ONLY);
  }
  if (first === 'wasm' && rest.length === 1 && WASM.has(rest[0])) return serveFile(req, res, roots.wasm, rest);
  if (first === 'vendor' && rest.length === 1 && VENDOR.has(rest[0])) return serveFile(req, res, roots.vendor, rest);
  if (first === 'api' && rest.length === 1) {
    switch (rest[0]) {
      case 'checkpoints': return sendJson(req, res, await listCheckpoints(roots.data));
      case 'runs': return sendJson(req, res, await listRuns(roots.data));
      case 'checkpoint': {
        const file = await checkpointFile(roots.data, query.get('path') ?? '');
        return file === null ? notFound(res) : serveFile(req, res, roots.data, [], undefined, file);
      }
      case 'events': {
        const file = await runEventLog(roots.data, query.get('run') ?? '');
        if (file === null) return notFound(res);
        res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-store', Connection: 'keep-alive' });
        if (req.method === 'HEAD') return void res.end();
        // The client learns at once that the stream is open, even while the log is quiet.
        res.flushHeaders();
        const tail = tailEvents(file, res);
        tails.add(tail);
        res.on('close', () => tails.delete(tail));
        return;
      }
    }
  }
  notFound(res);
}

/**
 * Sends root/…segments (or `known`, a real path already checked to be inside root) if it is a
 * regular file whose real path lies inside `root` and outside root's `excluded` subdirectories.
 */
async function serveFile(req: IncomingMessage, res: ServerResponse, root: string, segments: string[],
  excluded?: Set<string>, known?: string): Promise<void> {
  let real: string;
  try {
    real = known ?? await realpath(join(root, ...segments));
  } catch {
    return notFound(res);
  }
  if (!isInside(root, real) || real === root) return notFound(res);
  if (excluded) {
    const top = real.slice(root.length + 1).split(sep)[0];
    if (excluded.has(top)) return notFound(res);
  }
  try {
    if (!(await stat(real)).isFile()) return notFound(res);
  } catch {
    return notFound(res);
  }
  // Length and bytes come from one open file: a checkpoint renamed over while it is sent is
  // still sent whole, as it was.
  const fh = await open(real, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  const ext = real.slice(real.lastIndexOf('.') + 1);
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': size, 'Cache-Control': 'no-cache' });
  if (req.method === 'HEAD' || size === 0) {
    await fh.close();
    return void res.end();
  }
  // pipeline closes the file however the response ends, a client gone before it began included.
  pipeline(fh.createReadStream({ start: 0, end: size - 1 }), res, () => {});
}
