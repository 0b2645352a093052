// `galvatron baselines`: the plans a user would otherwise pick (pure DP, ZeRO-2, ZeRO-3/FSDP, Megatron's
// (t, p, d) grid, DeepSpeed 3D), each the best of its family by the same cost model, next to the
// searched plan (DESIGN.md §5).
import type { Command } from 'commander';
import { baselineRows, headerLine, renderBaselineRows } from './plan-format.js';
import { addSearchOptions, baselinesFor, prepareSearch, runSearch, type SearchFlags } from './search-flags.js';
import { createProgress } from './progress.js';

async function runBaselines(flags: SearchFlags): Promise<void> {
  const prepared = prepareSearch(flags);
  const outcome = await runSearch(prepared, flags.globalBatch, createProgress('searching'));
  const baselines = baselinesFor(prepared, outcome.globalBatch, outcome.result);
  const rows = baselineRows(outcome.result.best, baselines);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const priced = outcome.result.best ?? baselines.find((b) => b.input && b.cost);
  const lines: string[] = [];
  if (priced?.input && priced.cost) lines.push(headerLine(prepared.model, priced.input, priced.cost.totalGpus, outcome.globalBatch));
  if (outcome.autoBatch) lines.push(`auto batch: ${outcome.autoBatch.reason}`);
  if (lines.length > 0) lines.push('');
  const budgetGiB = prepared.options.memoryGiB ?? prepared.cluster.gpu.memoryGiB;
  lines.push(renderBaselineRows(rows, budgetGiB));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerBaselines(program: Command): void {
  const command = program
    .command('baselines')
    .summary('compare the searched plan with pure DP, ZeRO-2, ZeRO-3/FSDP, Megatron-LM, DeepSpeed 3D and Galvatron (even split)')
    .description(
      'Price the best configuration of each baseline family (pure DP, ZeRO-2, ZeRO-3/FSDP, the Megatron-LM (t, p, d) ' +
        'grid with uniform recompute, DeepSpeed 3D with ZeRO-1, Galvatron\'s per-layer search with layers split evenly over the ' +
        'stages) by the same cost model as the search, and print them ' +
        "under the searched plan's line with speed-ups. Takes the same flags as `galvatron plan`.",
    );
  addSearchOptions(command)
    .option('--json', 'print one JSON array (the searched plan first, then one element per baseline family) on stdout and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron baselines
  $ galvatron baselines --model gpt3-1.3b --gpus 8 --global-batch 32
  $ galvatron baselines --model llama2-13b --gpus 16 --global-batch 128 --json`,
    )
    .action((flags: SearchFlags) => runBaselines(flags));
}
