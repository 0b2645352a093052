// `galvatron plan`: until the search exists, the estimate of a default configuration, picked as the
// fastest that fits among a small fixed grid of uniform configurations priced by the same cost model.
import type { Command } from 'commander';
import { estimate, type Estimate } from '../cost/estimate.js';
import type { UniformConfig } from '../cost/uniform-plan.js';
import { UserInputError } from '../errors.js';
import { loadCluster } from '../hardware/load.js';
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import { loadModel } from '../model/load.js';
import type { ModelSpec } from '../model/spec.js';
import type { DpType, RecomputeKind } from '../strategy/layer-strategy.js';
import { defaultPrecision, renderEstimate, writePlanFile } from './estimate-command.js';
import { colors } from './format.js';
import { commandLine, nonEmpty, positiveInt, positiveNumber } from './parsers.js';

export const DEFAULT_MODEL = 'llama2-7b';
export const DEFAULT_CLUSTER = 'dgx-a100-80g';
export const DEFAULT_GLOBAL_BATCH = 64;
export const NOTICE = 'search not implemented yet: showing the estimate of a default configuration';

const GRID_PP = [1, 2];
const GRID_DP_TYPES: DpType[] = ['ddp', 'zero2', 'zero3'];
const GRID_RECOMPUTE: RecomputeKind[] = ['none', 'full'];
const GRID_MICRO_BATCH = [1, 2, 4];

interface PlanOptions {
  model: string;
  cluster: string;
  gpus?: number;
  globalBatch: number;
  memoryGib?: number;
  seq?: number;
  output?: string;
  json?: boolean;
}

export interface GridResult {
  /** The configuration shown: fastest that fits, else the one needing the least memory. */
  best: Estimate;
  candidates: number;
  valid: number;
  fitting: number;
  /** The grid in words. */
  description: string;
}

const divisors = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

/** The fixed grid: tp over divisors of a node that divide the heads, pp 1/2, three DP types, recompute, micro-batch. */
export function gridConfigs(model: ModelSpec, cluster: ClusterSpec, globalBatch: number, memoryGiB?: number): UniformConfig[] {
  const tps = divisors(cluster.gpusPerNode).filter((t) => model.heads % t === 0);
  const configs: UniformConfig[] = [];
  for (const tp of tps) {
    for (const pp of GRID_PP) {
      for (const dpType of GRID_DP_TYPES) {
        for (const recompute of GRID_RECOMPUTE) {
          for (const microBatch of GRID_MICRO_BATCH) {
            const config: UniformConfig = {
              globalBatch,
              microBatch,
              tp,
              pp,
              cp: 1,
              vpp: 1,
              dpType,
              recompute,
              sequenceParallel: tp > 1,
              precision: defaultPrecision(cluster),
              schedule: '1f1b',
            };
            if (memoryGiB !== undefined) config.memoryGiB = memoryGiB;
            configs.push(config);
          }
        }
      }
    }
  }
  return configs;
}

/** Prices the grid; configurations the library rejects (degrees, batch divisibility) are skipped. */
export function pickFromGrid(model: ModelSpec, cluster: ClusterSpec, globalBatch: number, memoryGiB?: number): GridResult {
  const configs = gridConfigs(model, cluster, globalBatch, memoryGiB);
  const priced: Estimate[] = [];
  let firstError: UserInputError | undefined;
  for (const config of configs) {
    try {
      priced.push(estimate(model, cluster, config));
    } catch (error) {
      if (!(error instanceof UserInputError)) throw error;
      firstError ??= error;
    }
  }
  if (priced.length === 0) {
    throw firstError ?? new UserInputError('--model', 'no configuration of the grid applies to this model; use `galvatron estimate`');
  }
  const fitting = priced.filter((e) => e.cost.fits);
  // Strict comparisons keep the first of equals, so the grid order breaks ties deterministically.
  const best = fitting.length > 0
    ? fitting.reduce((a, b) => (b.cost.iterationTimeS < a.cost.iterationTimeS ? b : a))
    : priced.reduce((a, b) => (b.cost.memoryPerGpuBytes < a.cost.memoryPerGpuBytes ? b : a));
  const tps = [...new Set(configs.map((c) => c.tp))];
  const description =
    `tp ∈ {${tps.join(', ')}} (the divisors of ${cluster.gpusPerNode} GPUs per node that divide ${model.heads} heads, SP when tp > 1); ` +
    `pp ∈ {${GRID_PP.join(', ')}}; dp-type ∈ {${GRID_DP_TYPES.join(', ')}}; recompute ∈ {${GRID_RECOMPUTE.join(', ')}}; ` +
    `micro-batch ∈ {${GRID_MICRO_BATCH.join(', ')}}`;
  return { best, candidates: configs.length, valid: priced.length, fitting: fitting.length, description };
}

/** The `galvatron estimate` line that reproduces the configuration shown. */
export function estimateCommandFor(opts: PlanOptions, result: Estimate): string {
  const c = result.report.config;
  const args = ['estimate', '--model', opts.model, '--cluster', opts.cluster, '--gpus', String(result.report.gpus)];
  args.push('--global-batch', String(c.globalBatch), '--micro-batch', String(c.microBatch), '--tp', String(c.tp), '--pp', String(c.pp));
  if (c.dpType !== 'ddp') args.push('--dp-type', c.dpType);
  if (c.recompute !== 'none') args.push('--recompute', c.recompute);
  if (c.sequenceParallel) args.push('--sp');
  if (opts.seq !== undefined) args.push('--seq', String(opts.seq));
  if (opts.memoryGib !== undefined) args.push('--memory-gib', String(opts.memoryGib));
  return commandLine(args);
}

function runPlan(opts: PlanOptions): void {
  const model = loadModel(opts.model, opts.seq === undefined ? {} : { seqLen: opts.seq });
  const cluster = loadCluster(opts.cluster, opts.gpus);
  const grid = pickFromGrid(model, cluster, opts.globalBatch, opts.memoryGib);
  const { best } = grid;
  const sameAs = estimateCommandFor(opts, best);
  const choice = grid.fitting > 0 ? 'the fastest that fits' : 'none fits; this is the one that needs the least memory';
  if (opts.output !== undefined) writePlanFile(opts.output, model, best, commandLine(process.argv.slice(2)));
  if (opts.json) {
    const output = {
      notice: NOTICE,
      grid: { description: grid.description, candidates: grid.candidates, valid: grid.valid, fitting: grid.fitting, choice, estimateCommand: sameAs },
      ...best.report,
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } else {
    const lines = [
      colors.yellow(colors.bold(NOTICE)),
      `Picked from a small fixed grid, not a search: ${grid.candidates} uniform configurations on ${totalGpus(cluster)} GPUs`,
      `(${grid.description});`,
      `${grid.valid} valid for global batch ${opts.globalBatch}, ${grid.fitting} fit in memory; shown: ${choice}.`,
      `Same as: ${sameAs}`,
      '',
      renderEstimate(best),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .summary('choose a parallel configuration (for now: best of a small grid; the search comes next)')
    .description(
      'Choose how to parallelise training. The search is not implemented yet: for now this shows the estimate of a ' +
        'default configuration, the fastest that fits among a small fixed grid of uniform configurations, each priced ' +
        'by the cost model exactly as `galvatron estimate` prices it.',
    )
    .option('--model <preset|file>', 'model preset id (`galvatron models`) or a ModelSpec / HuggingFace config.json file', nonEmpty('--model'), DEFAULT_MODEL)
    .option('--cluster <preset|file>', 'cluster preset id (`galvatron clusters`) or a ClusterSpec JSON file', nonEmpty('--cluster'), DEFAULT_CLUSTER)
    .option('--gpus <n>', "total GPUs, in nodes of the cluster's size (default: the cluster's own)", positiveInt('--gpus'))
    .option('--global-batch <samples>', 'samples per iteration over all data-parallel ranks', positiveInt('--global-batch'), DEFAULT_GLOBAL_BATCH)
    .option('--memory-gib <G>', "GPU memory to plan against, GiB (default: the GPU's full memory)", positiveNumber('--memory-gib'))
    .option('--seq <tokens>', "sequence length (default: the model's own)", positiveInt('--seq'))
    .option('-o, --output <file>', 'also write the chosen configuration as a plan (galvatron.plan/v1) to this file')
    .option('--json', 'print one JSON object (notice, grid and the estimate report) on stdout and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron plan
  $ galvatron plan --model llama3-70b --cluster dgx-h100 --gpus 64 --global-batch 512 -o plan.json`,
    )
    .action((opts: PlanOptions) => runPlan(opts));
}
