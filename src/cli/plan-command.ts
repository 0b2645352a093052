// `galvatron plan`: search the per-layer hybrid-parallel plan (DESIGN.md §5) and print it for people,
// as one JSON object, or as a plan file. The flags that shape the search are shared with
// `galvatron baselines` (search-flags.ts).
import type { Command } from 'commander';
import { reportedPlan } from '../search/setup.js';
import { renderPlan, speedupOverBestBaseline } from './plan-format.js';
import { writePlanFile } from './plan-output.js';
import { createProgress } from './progress.js';
import { profileNotes, termSources } from '../profile/coverage.js';
import { addSearchOptions, baselinesFor, nothingFitsLine, prepareSearch, runSearch, EXIT_NOTHING_FITS, type SearchFlags } from './search-flags.js';

interface PlanFlags extends SearchFlags {
  output?: string;
}

async function runPlan(flags: PlanFlags): Promise<void> {
  const prepared = prepareSearch(flags);
  const progress = createProgress('searching');
  const outcome = await runSearch(prepared, flags.globalBatch, progress);
  if (!outcome.result.best) {
    process.stderr.write(`galvatron: ${nothingFitsLine(prepared, outcome.globalBatch, progress)}\n`);
    process.exitCode = EXIT_NOTHING_FITS;
    return;
  }
  const baselines = baselinesFor(prepared, outcome.globalBatch, outcome.result);
  const reported = reportedPlan(prepared, outcome.result.best, outcome.result.plan!, outcome.summary.exact, baselines);
  const { best, plan } = reported;
  if (reported.evenPartition) outcome.summary.evenPartition = true;
  // The plan file first: if it cannot be written, stdout stays empty and the exit code says why.
  if (flags.output !== undefined) writePlanFile(flags.output, plan);
  if (flags.json) {
    const vs = speedupOverBestBaseline(best.cost, baselines);
    const output = {
      plan,
      search: { exact: outcome.summary.exact, tasks: outcome.summary.tasks, elapsedMs: Math.round(outcome.summary.elapsedMs), uniform: outcome.summary.uniform, evenPartition: outcome.summary.evenPartition === true },
      baselines: baselines.map((b) => ({ family: b.family, label: b.label, iterationTimeS: b.fits && b.cost ? b.cost.iterationTimeS : null, fits: b.fits })),
      speedupOverBestBaseline: vs?.speedup ?? null,
      bestBaseline: vs?.baseline.family ?? null,
      source: termSources(best.input, best.cost.breakdown),
      profileNotes: profileNotes(best.input),
      ...(outcome.autoBatch
        ? {
            autoBatch: {
              globalBatch: outcome.globalBatch,
              stop: outcome.autoBatch.stop,
              reason: outcome.autoBatch.reason,
              trials: outcome.autoBatch.trials.map((t) => ({ globalBatch: t.globalBatch, samplesPerS: t.samplesPerS ?? null })),
            },
          }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return;
  }
  const view = {
    model: prepared.model,
    input: best.input,
    cost: best.cost,
    search: outcome.summary,
    rules: prepared.rules,
    maxVirtualStages: flags.maxVpp,
    baselines,
    ...(outcome.autoBatch ? { autoBatch: outcome.autoBatch } : {}),
  };
  process.stdout.write(`${renderPlan(view)}\n`);
}

export function registerPlan(program: Command): void {
  const command = program
    .command('plan')
    .summary('search the fastest hybrid-parallel plan that fits (per-layer TP/SP/CP/DP/ZeRO/recompute, pipeline)')
    .description(
      'Search how to split every layer over the GPUs (tensor, sequence, context and data parallelism, ZeRO, ' +
        'activation recomputation) and how to pipeline the model, for the fastest predicted iteration that fits ' +
        'in memory. Prints the plan per layer group, the pipeline stages, the prediction and the speed-up over the ' +
        `best fitting baseline. Exit code ${EXIT_NOTHING_FITS} when no plan fits, with the memory or GPUs that would.`,
    );
  addSearchOptions(command)
    .option('-o, --output <file>', 'also write the plan (galvatron.plan/v1) to this file, validated and atomically')
    .option('--json', 'print one JSON object { plan, search, baselines, speedupOverBestBaseline } on stdout and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron plan
  $ galvatron plan --model llama3-70b --cluster dgx-h100 --gpus 64 --global-batch 512 -o plan.json
  $ galvatron plan --model gpt3-1.3b --global-batch auto --json
  $ galvatron plan --galvatron-v1 --exact
  $ galvatron plan --max-vpp 2    # also search interleaved 1F1B`,
    )
    .action((flags: PlanFlags) => runPlan(flags));
}
