// The `charrnn` command line: one file per command; this file wires them together and owns
// how the process ends (see errors.ts).
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { reportError } from './errors.js';
import { registerEval } from './eval.js';
import { registerInspect } from './inspect.js';
import { registerSample } from './sample.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';
import { registerViz } from './viz.js';

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
}

function buildProgram(): Command {
  const program = new Command('charrnn')
    .description('character-level language models (LSTM, GRU, RNN): train, sample, evaluate, inspect')
    .version(version())
    .showSuggestionAfterError(true)
    // Errors are thrown to main rather than printed and exited on by commander, so every
    // failure, ours or commander's, ends the same way. Subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerTrain(program);
  registerSample(program);
  registerEval(program);
  registerInspect(program);
  registerViz(program);
  registerServe(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  // `charrnn sample | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

await main(process.argv);
