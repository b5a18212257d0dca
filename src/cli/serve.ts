// `charrnn serve`: the web app (dashboard, sampler, visualiser, training in the browser) over a
// directory of checkpoints and training runs, until Ctrl-C.
import { Command } from 'commander';
import { UserError } from '../errors.js';
import type { RunningServer } from '../node/server.js';
import { DEFAULT_HOST, DEFAULT_PORT } from '../node/server-defaults.js';
import { intArg } from './parse.js';

interface ServeFlags {
  port: number;
  host: string;
  dir: string;
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('serve the web app: a dashboard of training runs, a sampler, a visualiser, training in the browser')
    .option('--port <n>', 'port to listen on; 0 = any free one', intArg, DEFAULT_PORT)
    .option('--host <address>', 'address to listen on', DEFAULT_HOST)
    .option('--dir <dir>', 'directory of checkpoints and training runs to show', 'cv')
    .action(async (flags: ServeFlags) => {
      checkPort(flags.port);
      // Loaded here, not at start-up: the other commands have no use for the server.
      const { startServer } = await import('../node/server.js');
      const server = await startServer({ dir: flags.dir, host: flags.host, port: flags.port });
      process.stdout.write(`serving ${flags.dir} at ${server.url} (Ctrl-C to stop)\n`);
      await untilInterrupted(server);
    });
}

export function checkPort(port: number): void {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UserError(`--port must be an integer from 0 to 65535, got ${port}`);
  }
}

/** Resolves once Ctrl-C (or a termination signal) has closed `server`. */
export function untilInterrupted(server: Pick<RunningServer, 'close'>): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close().then(resolve, reject);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
