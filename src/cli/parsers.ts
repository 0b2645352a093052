// Commander option-argument parsers. Each throws a UserInputError naming the flag, which commander
// passes through untouched (only its own InvalidArgumentError is re-worded), so the message reads
// "galvatron: --tp: must be a positive whole number, got "x"".
import { UserInputError } from '../errors.js';

export type Parser<T> = (value: string) => T;

/** A whole number ≥ 1 (degrees, batch sizes, GPU counts, sequence lengths). */
export function positiveInt(flag: string): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\+?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new UserInputError(flag, `must be a positive whole number, got "${value}"`);
    }
    return n;
  };
}

/** A finite number > 0 (GiB of memory). */
export function positiveNumber(flag: string, max = Infinity, maxWhy = ''): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new UserInputError(flag, `must be a positive number, got "${value}"`);
    }
    if (n > max) throw new UserInputError(flag, `${value} is more than ${max}${maxWhy}; give a value up to ${max}`);
    return n;
  };
}

/** One of a fixed set of words. */
export function oneOf<const T extends string>(flag: string, choices: readonly T[]): Parser<T> {
  return (value) => {
    const match = choices.find((c) => c === value.toLowerCase());
    if (match === undefined) throw new UserInputError(flag, `must be one of ${choices.join(', ')}, got "${value}"`);
    return match;
  };
}

/** A non-empty string (preset id or path). */
export function nonEmpty(flag: string): Parser<string> {
  return (value) => {
    if (value.trim() === '') throw new UserInputError(flag, 'must not be empty; give a preset id or a path to a JSON file');
    return value;
  };
}


/** The command line as typed, for a plan's `source.command` (arguments with spaces are quoted). */
export function commandLine(args: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['galvatron', ...args.map(quote)].join(' ');
}

/** A repeatable flag naming files: each occurrence adds one path, in the order given. */
export function fileList(flag: string): (value: string, previous: string[] | undefined) => string[] {
  const one = nonEmpty(flag);
  return (value, previous) => [...(previous ?? []), one(value)];
}
