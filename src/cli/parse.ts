// Strict parsing of numeric flags: Number('') is 0 and parseInt('3x') is 3, so both would let a
// typo through as a plausible value. Ranges are checked later, where the meaning is known.
import { InvalidArgumentError } from 'commander';

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function intArg(value: string): number {
  if (!INTEGER.test(value.trim())) throw new InvalidArgumentError('Expected an integer.');
  return Number(value);
}

export function numArg(value: string): number {
  if (!DECIMAL.test(value.trim())) throw new InvalidArgumentError('Expected a number.');
  return Number(value);
}
