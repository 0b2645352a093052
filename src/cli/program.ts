// The `galvatron` program: commander parses everything; each command lives in its own module and is a
// thin layer over the library. main.ts runs it; tests run it in-process (runInProcess).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBaselines } from './baselines-command.js';
import { registerCalibrate } from './calibrate-command.js';
import { registerClusters } from './clusters-command.js';
import { runCli } from './errors.js';
import { UserInputError } from '../errors.js';
import { MODEL_PRESETS } from '../model/presets.js';
import { CLUSTER_PRESETS } from '../hardware/presets.js';
import { registerEstimate } from './estimate-command.js';
import { registerModels } from './models-command.js';
import { registerPlan } from './plan-command.js';
import { EXIT_NOTHING_FITS } from './search-flags.js';
import { registerProfile } from './profile-command.js';
import { registerTrain } from './train-command.js';
import { registerExport } from './export-command.js';
import { registerExplain } from './explain-command.js';
import { registerSimulate } from './simulate-command.js';
import { registerUi } from './ui-command.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** `galvatron plan llama2-7b`: the word named, and the flag it was probably meant for. */
function refuseStrayWords(command: Command): void {
  const declared = command.registeredArguments.length;
  const stray = command.args[declared];
  if (stray === undefined) return;
  const asModel = Object.hasOwn(MODEL_PRESETS, stray) || /\.json$/i.test(stray);
  const asCluster = Object.hasOwn(CLUSTER_PRESETS, stray);
  const guess = asModel && command.options.some((o) => o.long === '--model') ? `; did you mean --model ${stray}?` : asCluster && command.options.some((o) => o.long === '--cluster') ? `; did you mean --cluster ${stray}?` : '';
  const takes = declared === 0 ? 'takes only options (--name value)' : `takes ${declared} argument${declared > 1 ? 's' : ''} and options (--name value)`;
  throw new UserInputError(stray, `unexpected word: \`galvatron ${command.name()}\` ${takes}${guess}`);
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
    .configureOutput({ outputError: () => {} }) // errors.ts prints commander's errors in our one-line form
    // Stray words are refused below, by name (commander's own message does not say which word).
    .allowExcessArguments(true)
    .hook('preAction', (_program, command) => refuseStrayWords(command));
  registerPlan(program);
  registerBaselines(program);
  registerEstimate(program);
  registerTrain(program);
  registerExport(program);
  registerExplain(program);
  registerSimulate(program);
  registerUi(program);
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
