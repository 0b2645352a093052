// Printing searched plans for people (shared by `galvatron plan` and `galvatron baselines`): strategies
// in words, the plan run-length encoded per stage, the stage table, the comparison with the baselines.
import { layerRuns } from '../cost/estimate.js';
import type { PlanCost, PlanInput } from '../cost/plan-cost.js';
import type { ModelSpec } from '../model/spec.js';
import type { AutoBatchResult } from '../search/auto-batch.js';
import type { PartitionMode } from '../search/balanced-partitions.js';
import type { BaselineResult } from '../search/baselines.js';
import type { CandidateRules } from '../strategy/candidates.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { colors, gib, keyValues, layerRanges, ms, num, percent, sig, table } from './format.js';
import { profileNotes, termSources } from '../profile/coverage.js';
import { profileLines, sourceColumn } from './profile-notes.js';
import { pipelineText, planSummary, sameStrategy, strategyText } from '../plan/describe.js';
import { bestFittingBaseline, speedupOverBestBaseline } from '../search/baselines.js';

export { pipelineText, planSummary, strategyText } from '../plan/describe.js';
export { bestFittingBaseline, speedupOverBestBaseline } from '../search/baselines.js';

const GIB = 1024 ** 3;

export interface LayerRun {
  start: number;
  /** Exclusive. */
  end: number;
  strategy: LayerStrategy;
}

export interface StageRuns {
  stage: number;
  gpus: number;
  runs: LayerRun[];
}

/** Per pipeline stage, its layers as runs of one strategy (a run never crosses a chunk boundary). */
export function stageRuns(input: PlanInput): StageRuns[] {
  const { pipeline, strategies } = input;
  const out: StageRuns[] = [];
  for (let stage = 0; stage < pipeline.degree; stage++) {
    const runs: LayerRun[] = [];
    pipeline.chunks.forEach((chunk, j) => {
      if (j % pipeline.degree !== stage) return;
      for (let l = chunk.start; l < chunk.end; l++) {
        const strategy = strategies[l]!;
        const last = runs[runs.length - 1];
        if (last && last.end === l && sameStrategy(last.strategy, strategy)) last.end = l + 1;
        else runs.push({ start: l, end: l + 1, strategy });
      }
    });
    const first = runs[0]?.strategy ?? input.embeddingStrategy;
    out.push({ stage, gpus: first.tp * first.cp * first.dp, runs });
  }
  return out;
}

const layersText = (run: { start: number; end: number }) => (run.end - run.start === 1 ? `layer ${run.start}` : `layers ${layerRanges([run])}`);

/** A baseline's configuration in the same words as a plan's summary. */
export function baselineConfigText(b: BaselineResult): string {
  return b.input ? planSummary(b.input) : '—';
}


/** "LLaMA-2 7B on 8 × NVIDIA A100 80GB (DGX A100 …) · global batch 64 · seq 4,096 · bf16, flash attention". */
export function headerLine(model: ModelSpec, input: Pick<PlanInput, 'cluster' | 'setup'>, gpus: number, globalBatch: number): string {
  const { cluster, setup } = input;
  const software = `${setup.precision}${setup.fp32MainGrads ? ' (fp32 main grads)' : ''}, ${setup.attention} attention${setup.tpOverlap ? ', TP overlap' : ''}`;
  return `${colors.bold(model.name)} on ${gpus} × ${cluster.gpu.name} ${colors.dim(`(${cluster.name})`)} · global batch ${num(globalBatch)} · seq ${num(setup.seqLen)} · ${software}`;
}

/** The search space in one line. */
export function rulesText(rules: CandidateRules, maxVirtualStages: number, partition: PartitionMode): string {
  const limit = (n: number) => (Number.isFinite(n) ? String(n) : 'any');
  const has = (p: CandidateRules['paradigms'][number]) => rules.paradigms.includes(p);
  const dpTypes = [...(has('dp') ? rules.dpTypes : []), ...(has('sdp') ? ['zero3'] : [])];
  return [
    `tp ≤ ${has('tp') ? limit(rules.maxTp) : 1}`,
    `pp ≤ ${limit(rules.maxPp)}`,
    `cp ≤ ${has('cp') ? limit(rules.maxCp) : 1}`,
    `dp types ${dpTypes.join('/') || 'none'}`,
    `recompute ${rules.recompute.join('/')}`,
    `SP ${rules.sequenceParallel}`,
    `adjacency ${rules.tpAdjacency}`,
    `vpp ≤ ${maxVirtualStages}`,
    `${partition} partition`,
  ].join(' · ');
}

export interface SearchSummary {
  exact: boolean;
  tasks: number;
  elapsedMs: number;
  frontierLimit: number | undefined;
  partition: PartitionMode;
  /** No per-layer plan beat the best uniform plan (one strategy on every layer), which is shown. */
  uniform: boolean;
  /** The thinned search lost to the even-partition search of the same space, whose plan is shown. */
  evenPartition?: boolean;
}

/** Whether the plan is proven optimal on the cost model, in words. */
export function optimalityText(search: SearchSummary): string {
  const heuristic = search.partition !== 'exact' ? ` for the ${search.partition} partition heuristic (pipeline stages not searched exactly)` : ' on the cost model';
  const uniform = search.uniform ? '; no per-layer plan beats the best uniform one' : '';
  if (search.exact) return `${colors.green('proven optimal')}${heuristic} within the search space${uniform}`;
  const fallback = search.evenPartition
    ? "; the even-partition search (same space) found a faster plan than the thinned search, shown here"
    : search.uniform
      ? '; the thinned search found nothing faster than the best uniform plan, shown here'
      : '';
  return `${colors.yellow('not proven optimal')}: found under a frontier limit of ${search.frontierLimit ?? '?'} points per stage (--exact removes it; slower)${fallback}`;
}

export interface PlanView {
  model: ModelSpec;
  input: PlanInput;
  cost: PlanCost;
  search: SearchSummary;
  rules: CandidateRules;
  maxVirtualStages: number;
  baselines: BaselineResult[];
  autoBatch?: AutoBatchResult;
}

/** The speed-up of the plan over the best fitting baseline, or undefined when none fits. */

function comparisonText(view: PlanView): string {
  const found = speedupOverBestBaseline(view.cost, view.baselines);
  if (!found) return `no baseline fits (${view.baselines.map((b) => b.label).join(', ')}); this plan is the only one that does`;
  const { baseline, speedup } = found;
  const times = `${ms(view.cost.iterationTimeS)} vs ${ms(baseline.cost!.iterationTimeS)} ms`;
  const words = speedup >= 1.0005 ? `${num(speedup, 2)}× faster than` : speedup > 0.9995 ? 'as fast as' : `${num(speedup, 2)}× the speed of`;
  return `${colors.bold(words)} the best fitting baseline, ${baseline.label}: ${baselineConfigText(baseline)} (${times})`;
}

/** With a profile: the iteration's time terms with the source of each, then the profile's notes. */
function profiledTermsLines(input: PlanInput, cost: PlanCost): string[] {
  const source = sourceColumn(termSources(input, cost.breakdown));
  const terms = Object.entries(cost.breakdown).filter(([, seconds]) => seconds !== 0);
  return [
    '',
    colors.bold('Time terms') + colors.dim(' (along the slowest stage, all micro-batches)'),
    table(['term', 'ms', ...source.header], terms.map(([name, seconds]) => [name, ms(seconds), ...source.cell(name)]), ['left', 'right', ...source.align]),
    ...profileLines(profileNotes(input)),
  ];
}

/** What `galvatron plan` prints for people. */
export function renderPlan(view: PlanView): string {
  const { input, cost, model } = view;
  const budget = cost.memoryBudgetBytes / GIB;
  const lines: string[] = [];
  lines.push(headerLine(model, input, cost.totalGpus, input.setup.globalBatch));
  if (view.autoBatch) lines.push(colors.dim(`auto batch: ${view.autoBatch.reason}`));
  lines.push('');

  lines.push(colors.bold('Plan') + colors.dim(` (${pipelineText(input)})`));
  const stages = stageRuns(input);
  const rows: [string, string][] = [];
  for (const stage of stages) {
    stage.runs.forEach((run, i) => {
      rows.push([i === 0 ? `stage ${stage.stage}` : '', `${layersText(run)}: ${strategyText(run.strategy)}`]);
    });
  }
  const last = input.pipeline.degree - 1;
  const image = model.family === 'vit' || model.family === 'swin';
  const [input0, head] = image ? ['patch embedding', 'classifier'] : ['input embedding', 'LM head'];
  const where = last === 0 ? `${input0} and ${head} on stage 0` : `${input0} on stage 0, ${head} on stage ${last}`;
  rows.push(['embedding/head', `${strategyText(input.embeddingStrategy, false)} ${colors.dim(`(${where})`)}`]);
  lines.push(indent(keyValues(rows)));
  lines.push('');

  lines.push(colors.bold('Pipeline stages') + colors.dim(' (busy time per micro-batch, forward + backward; memory per GPU)'));
  lines.push(
    table(
      ['stage', 'layers', 'GPUs', 'busy ms', 'memory GiB', 'budget GiB', 'used'],
      cost.stages.map((s, i) => {
        const memory = s.memory.totalBytes / GIB;
        const used = percent(memory / budget);
        return [
          String(s.index),
          layerRanges(layerRuns(s.layers)),
          String(stages[i]?.gpus ?? ''),
          ms(s.forwardS + s.backwardS),
          memory > budget ? colors.red(gib(memory)) : gib(memory),
          gib(budget),
          memory > budget ? colors.red(used) : used,
        ];
      }),
      ['right', 'left', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  lines.push('');

  lines.push(
    keyValues([
      ['iteration', `${ms(cost.iterationTimeS)} ms (predicted)`],
      ['throughput', `${sig(cost.samplesPerS)} samples/s · ${sig(cost.tokensPerSPerGpu)} tokens/s per GPU`],
      ['compute', `${sig(cost.tflopsPerGpu)} TFLOP/s per GPU (model FLOPs) · MFU ${percent(cost.mfu)}`],
      ['memory', `${gib(cost.memoryPerGpuBytes / GIB)} GiB per GPU (largest stage) of ${gib(budget)} GiB`],
      ['vs baselines', comparisonText(view)],
      ['search', `${optimalityText(view.search)}; ${num(view.search.tasks)} tasks in ${sig(view.search.elapsedMs / 1000)} s`],
      ['space', rulesText(view.rules, view.maxVirtualStages, view.search.partition)],
    ]),
  );
  if (input.profile) lines.push(...profiledTermsLines(input, cost));
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** One row of `galvatron baselines` (also its --json element). */
export interface BaselineRow {
  family: string;
  label: string;
  /** The configuration in words. */
  configuration: string;
  iterationTimeS: number | null;
  samplesPerS: number | null;
  /** Memory per GPU of the configuration shown (for one that does not fit: the leanest one's need). */
  memoryPerGpuGiB: number | null;
  fits: boolean;
  /** How many times faster the searched plan is than this row (null when either does not fit). */
  planSpeedup: number | null;
  /** This row's speed relative to the best fitting baseline (> 1: faster than it). */
  vsBestBaseline: number | null;
  note?: string;
}

export const PLAN_FAMILY = 'galvatron-ts';

/** The searched plan's row first, then each baseline family. */
export function baselineRows(plan: { input: PlanInput; cost: PlanCost } | undefined, baselines: BaselineResult[]): BaselineRow[] {
  const best = bestFittingBaseline(baselines);
  const bestS = best?.cost?.iterationTimeS;
  const planS = plan?.cost.fits ? plan.cost.iterationTimeS : undefined;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? a / b : null);
  const rows: BaselineRow[] = [
    plan && plan.cost.fits
      ? {
          family: PLAN_FAMILY,
          label: 'Galvatron-TS (searched)',
          configuration: planSummary(plan.input),
          iterationTimeS: plan.cost.iterationTimeS,
          samplesPerS: plan.cost.samplesPerS,
          memoryPerGpuGiB: plan.cost.memoryPerGpuBytes / GIB,
          fits: true,
          planSpeedup: 1,
          vsBestBaseline: ratio(bestS, planS),
        }
      : {
          family: PLAN_FAMILY,
          label: 'Galvatron-TS (searched)',
          configuration: '—',
          iterationTimeS: null,
          samplesPerS: null,
          memoryPerGpuGiB: null,
          fits: false,
          planSpeedup: null,
          vsBestBaseline: null,
          note: 'no plan fits; `galvatron plan` says how much memory or how many GPUs would',
        },
  ];
  for (const b of baselines) {
    const time = b.fits ? b.cost?.iterationTimeS : undefined;
    rows.push({
      family: b.family,
      label: b.label,
      configuration: baselineConfigText(b),
      iterationTimeS: time ?? null,
      samplesPerS: b.fits && b.cost ? b.cost.samplesPerS : null,
      memoryPerGpuGiB: b.cost ? b.cost.memoryPerGpuBytes / GIB : null,
      fits: b.fits,
      planSpeedup: ratio(time, planS),
      vsBestBaseline: ratio(bestS, time),
      ...(b.note === undefined ? {} : { note: b.note }),
    });
  }
  return rows;
}

/** The `galvatron baselines` table and the notes under it. */
export function renderBaselineRows(rows: BaselineRow[], budgetGiB: number): string {
  const times = (x: number | null) => (x === null ? '—' : `${num(x, 3)}×`);
  const body = rows.map((r) => {
    const memory = r.memoryPerGpuGiB === null ? '—' : gib(r.memoryPerGpuGiB);
    const cells = [
      r.label,
      r.configuration,
      r.iterationTimeS === null ? '—' : ms(r.iterationTimeS),
      r.samplesPerS === null ? '—' : sig(r.samplesPerS),
      r.fits ? memory : colors.red(memory),
      r.fits ? colors.green('yes') : colors.red('no'),
      times(r.planSpeedup),
      times(r.vsBestBaseline),
    ];
    return r.family === PLAN_FAMILY ? cells.map((c) => colors.bold(c)) : cells;
  });
  const lines = [
    table(
      ['plan / baseline', 'configuration', 'iter ms', 'samples/s', 'GiB/GPU', 'fits', 'plan ×', 'vs best'],
      body,
      ['left', 'left', 'right', 'right', 'right', 'left', 'right', 'right'],
    ),
  ];
  lines.push(
    colors.dim(
      `GiB/GPU: memory per GPU against a budget of ${gib(budgetGiB)} GiB · plan ×: the plan's speed-up over the row (row's time ÷ plan's) · ` +
        "vs best: the row's speed relative to the best fitting baseline (its time ÷ row's)",
    ),
  );
  for (const r of rows) if (r.note) lines.push(`${r.label}: ${r.note}`);
  return lines.join('\n');
}
