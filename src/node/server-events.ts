// Server-Sent Events from a training run's event log: every line already in the file, then each
// line appended later, found by polling (a file watcher misses writes on some file systems and
// fires for every write on others). A log replaced by a fresh run (a new file, or a shorter
// one) is announced with a `reset` event and sent again from its start.
import { open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';

const POLL_MS = 250;
// A comment line now and then keeps proxies and idle timeouts from closing a quiet stream.
const KEEPALIVE_POLLS = 60;
// A huge log goes out in slices of this size, so memory stays flat.
const READ_BYTES = 1 << 20;

export interface EventTail {
  stop(): void;
}

/** Streams `file` to `res` (whose headers are sent) until stop() or the client goes away. */
export function tailEvents(file: string, res: ServerResponse): EventTail {
  let offset = 0;
  let inode = -1;
  let partial = '';
  let decoder = new StringDecoder('utf8');
  let polls = 0;
  let busy = false;
  let stopped = false;
  const buf = Buffer.alloc(READ_BYTES);

  async function poll(): Promise<void> {
    if (busy || stopped) return;
    // A client that went away before this stream began sent no close event to stop it.
    if (res.destroyed || res.socket === null || res.socket.destroyed) return stop();
    busy = true;
    try {
      const s = await stat(file);
      let out = '';
      if (inode !== -1 && (s.ino !== inode || s.size < offset)) {
        offset = 0;
        partial = '';
        decoder = new StringDecoder('utf8');
        out += 'event: reset\ndata: {}\n\n';
      }
      inode = s.ino;
      let flowing = true;
      if (s.size > offset) {
        const fh = await open(file, 'r');
        try {
          // Up to what the file held when polled, a slice at a time; a client slower than the
          // file has its writes queued, and the rest waits for a later poll.
          while (offset < s.size && flowing && !stopped) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(READ_BYTES, s.size - offset), offset);
            if (bytesRead === 0) break;
            offset += bytesRead;
            const lines = (partial + decoder.write(buf.subarray(0, bytesRead))).split('\n');
            // The last piece is a line still being written (or ''): kept until its newline comes.
            partial = lines.pop() ?? '';
            for (const line of lines) {
              const data = line.replace(/\r/g, '').trim();
              if (data !== '') out += `data: ${data}\n\n`;
            }
            if (out !== '' && !stopped) flowing = res.write(out);
            out = '';
          }
        } finally {
          await fh.close();
        }
      }
      if (out === '' && ++polls % KEEPALIVE_POLLS === 0) out = ':\n\n';
      if (out !== '' && !stopped) res.write(out);
    } catch {
      // The log is gone for now (a run being restarted): keep polling until it is back.
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(() => { void poll(); }, POLL_MS);
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
  };
  res.on('close', stop);
  res.on('error', stop);
  void poll();
  return {
    stop() {
      stop();
      res.end();
    },
  };
}
