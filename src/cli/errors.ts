// How the command line ends: a mistake the user can fix (a UserError, a usage error found by
// commander, a number that does not parse, a model too big to allocate) is one line on stderr and
// exit 1, so scripts and people see the cause at once; anything else is a bug and keeps its
// stack, with exit 2.
import { CommanderError } from 'commander';
import { UserError } from '../errors.js';

const EXIT_USER = 1;
const EXIT_BUG = 2;

// commander reports these after it has already printed what was asked for.
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

// V8's words for an allocation it cannot make. Sizes are chosen by flags (--hidden, --layers,
// --batch, …), so running out of memory is a choice the user can change, not a bug.
const OUT_OF_MEMORY = /Array buffer allocation failed|Invalid typed array length|Invalid array length/;

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function printError(message: string): void {
  process.stderr.write(`charrnn: ${oneLine(message)}\n`);
}

/** Reports `err` on stderr and returns the exit code the process should end with. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (NOT_ERRORS.has(err.code)) return err.exitCode;
    printError(err.message.replace(/^error:\s*/i, ''));
    return EXIT_USER;
  }
  if (err instanceof UserError) {
    printError(err.message);
    return EXIT_USER;
  }
  if (err instanceof RangeError && OUT_OF_MEMORY.test(err.message)) {
    printError(`out of memory: the model or batch is too large for this machine (${err.message})`);
    return EXIT_USER;
  }
  process.stderr.write(`charrnn: internal error\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_BUG;
}
