// The `galvatron` program: commander parses everything; each command lives in its own module and is a
// thin layer over the library. main.ts runs it; tests run it in-process (runInProcess).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBaselines } from './baselines-command.js';
import { registerCalibrate } from './calibrate-command.js';
import { registerClusters } from './clusters-command.js';
import { runCli } from './errors.js';
import { registerEstimate } from './estimate-command.js';
import { registerModels } from './models-command.js';
import { registerPlan } from './plan-command.js';
import { EXIT_NOTHING_FITS } from './search-flags.js';
import { registerProfile } from './profile-command.js';
import { registerTrain } from './train-command.js';
import { registerExport } from './export-command.js';
import { registerExplain } from './explain-command.js';
import { registerSimulate } from './simulate-command.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function createProgram(): Command {
  const program = new Command('galvatron')
    .description('Automatic hybrid-parallel planning for Transformer training (Galvatron in TypeScript).')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand(false)
    .showSuggestionAfterError(true)
    // Settings below are inherited by the commands registered after them.
    .exitOverride()
    .configureOutput({ outputError: () => {} }); // errors.ts prints commander's errors in our one-line form
  registerPlan(program);
  registerBaselines(program);
  registerEstimate(program);
  registerTrain(program);
  registerExport(program);
  registerExplain(program);
  registerSimulate(program);
  registerProfile(program);
  registerCalibrate(program);
  registerModels(program);
  registerClusters(program);
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 2 bad input (the message names the flag or field and the fix), ${EXIT_NOTHING_FITS} no plan fits
(plan: the message says how much memory or how many GPUs would), 1 a failed run or an unexpected error.

Examples:
  $ galvatron plan
  $ galvatron baselines --model gpt3-1.3b --global-batch 32
  $ galvatron estimate --model gpt3-175b --cluster dgx-a100-80g --gpus 1024 --global-batch 1536 --tp 8 --pp 8 --recompute full
  $ galvatron plan --model examples/tiny-gpt.json --gpus 8 --global-batch 16 -o tiny.json && galvatron train --plan tiny.json --device cpu
  $ galvatron models`,
  );
  return program;
}

/** Runs one command line (the words after `galvatron`) in this process, ending like the CLI: the exit code. */
export async function runProgram(args: string[]): Promise<number> {
  process.exitCode = undefined;
  await runCli(async () => {
    await createProgram().parseAsync(['node', 'galvatron', ...args]);
  });
  const code = process.exitCode ?? 0;
  process.exitCode = undefined;
  return typeof code === 'number' ? code : Number(code);
}
