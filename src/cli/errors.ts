// How the CLI ends on an error: bad input (UserInputError, or a flag commander rejects) prints one line
// "galvatron: <field>: <problem>; <fix>" on stderr and exits 2; anything unexpected exits 1.
import { CommanderError } from 'commander';
import { RunFailure, UserInputError } from '../errors.js';
import { flagOf } from './config-flags.js';

export const EXIT_OK = 0;
export const EXIT_UNEXPECTED = 1;
export const EXIT_USAGE = 2;

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/** Commander's own messages ("error: required option '--x <n>' not specified") in our field-first form. */
export function commanderMessage(error: CommanderError): string {
  const text = oneLine(error.message.replace(/^error:\s*/, ''));
  const flag = /option '([^']+)'/.exec(text)?.[1];
  const name = flag?.split(/[ ,]/).filter((part) => part.startsWith('--')).pop() ?? flag?.split(/[ ,]/)[0];
  const usage = flag?.replace(/^-\w,\s*/, '');
  switch (error.code) {
    case 'commander.missingMandatoryOptionValue':
      return `${name}: required; add ${usage}`;
    case 'commander.optionMissingArgument':
      return `${name}: needs a value; write ${usage}`;
    case 'commander.unknownOption': {
      const unknown = /unknown option '([^']+)'/.exec(text)?.[1] ?? 'option';
      const hint = /\(Did you mean ([^)]+)\?\)/.exec(text)?.[1];
      return `${unknown}: unknown option; ${hint ? `did you mean ${hint}? ` : ''}--help lists the flags`;
    }
    case 'commander.unknownCommand':
      return `${text}; \`galvatron --help\` lists the commands`;
    case 'commander.excessArguments':
      return `${text}; options take the form --name value`;
    default:
      return text;
  }
}

/** Prints what went wrong and returns the exit code. */
export function reportError(error: unknown, stderr: { write(text: string): unknown } = process.stderr): number {
  if (error instanceof UserInputError) {
    stderr.write(`galvatron: ${oneLine(error.render(flagOf))}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CommanderError) {
    // Help and --version end through here with code 0; commander has already printed them.
    if (error.exitCode === 0) return EXIT_OK;
    // `galvatron` with no command: commander printed the help on stderr.
    if (error.code === 'commander.help' || error.code === 'commander.executeSubCommandAsync') return EXIT_USAGE;
    stderr.write(`galvatron: ${commanderMessage(error)}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof RunFailure) {
    stderr.write(`galvatron: ${oneLine(error.message)}\n`);
    return EXIT_UNEXPECTED;
  }
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`galvatron: unexpected error: ${oneLine(message)}\n`);
  if (process.env.GALVATRON_DEBUG && error instanceof Error && error.stack) stderr.write(`${error.stack}\n`);
  return EXIT_UNEXPECTED;
}

/** Runs the CLI body; sets the exit code rather than exiting, so piped stdout is flushed first. */
export async function runCli(body: () => void | Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    process.exitCode = reportError(error);
  }
}
