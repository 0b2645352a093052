// `galvatron export plan.json --to megatron|deepspeed|torchtitan|galvatron`: the plan as the target engine reads it, what the
// target cannot express, and what the plan it does express costs.
import type { Command } from 'commander';
import { EXPORT_TARGETS, TORCHTITAN_FORMATS, exportPlan, type ExportTarget, type TorchtitanFormat } from '../plan/export/index.js';
import { readPlanFile } from '../plan/io.js';
import { writeOutputFile } from '../io/output-file.js';
import { ms } from './format.js';
import { oneOf } from './parsers.js';

interface ExportFlags {
  to: ExportTarget;
  torchtitanFormat: TorchtitanFormat;
  output?: string;
  json?: boolean;
}

function runExport(planPath: string, flags: ExportFlags): void {
  const plan = readPlanFile(planPath);
  const result = exportPlan(plan, flags.to, { torchtitanFormat: flags.torchtitanFormat });
  if (flags.output !== undefined) {
    writeOutputFile('--output', flags.output, result.content);
    process.stderr.write(`galvatron: wrote ${flags.to} configuration ${flags.output}\n`);
  }
  if (flags.json) {
    const { exported: _plan, ...rest } = result;
    process.stdout.write(`${JSON.stringify(rest)}\n`);
    return;
  }
  if (flags.output === undefined) process.stdout.write(result.content);
  const summary =
    result.differences.length === 0
      ? `exact: ${flags.to} runs the plan as written (${ms(result.planIterationS)} ms predicted)`
      : `${result.differences.length} difference(s) from the plan; predicted ${ms(result.exportedIterationS)} ms as exported against ${ms(result.planIterationS)} ms as planned`;
  process.stderr.write(`galvatron: ${summary}\n`);
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .summary('write a plan as Megatron-LM arguments, a DeepSpeed config, a torchtitan config or a Galvatron runtime JSON')
    .description(
      'Translate a plan file (galvatron.plan/v1) into the configuration another engine reads. Where the engine cannot ' +
        'express the plan (per-layer TP in Megatron-LM, interleaving in Galvatron, …) the closest configuration it can run ' +
        'is written, each difference is listed, and both plans are priced by the cost model.',
    )
    .argument('<plan>', 'plan file written by `galvatron plan -o` or `galvatron estimate -o`')
    .requiredOption('--to <engine>', `target: ${EXPORT_TARGETS.join('|')}`, oneOf('--to', EXPORT_TARGETS))
    .option('--torchtitan-format <form>', `torchtitan: ${TORCHTITAN_FORMATS.join('|')} (python: its current config function; toml: before 2026-02-23)`, oneOf('--torchtitan-format', TORCHTITAN_FORMATS), 'python')
    .option('-o, --output <file>', 'write the configuration to this file (whole or not at all) instead of stdout')
    .option('--json', 'print one JSON object: content, differences, predicted times')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron plan --model gpt3-13b --gpus 64 -o plan.json
  $ galvatron export plan.json --to megatron
  $ galvatron export plan.json --to torchtitan -o galvatron_plan.py
  $ galvatron export plan.json --to galvatron -o galvatron_config.json`,
    )
    .action((planPath: string, flags: ExportFlags) => runExport(planPath, flags));
}
