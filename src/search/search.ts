// The search (DESIGN.md §5): over PP degree, micro-batch count, schedule and virtual stages, every task
// solved exactly (per-layer strategies, embedding strategy, partition), the best plan kept.
import { loadCostConstants } from '../cost/constants.js';
import { UserInputError } from '../errors.js';
import { MAX_GLOBAL_BATCH } from '../limits.js';
import type { AttentionKernel, CostConstants, Precision, Schedule } from '../cost/types.js';
import { checkPrecisionOnGpu, defaultAttentionKernel } from '../cost/uniform-plan.js';
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import { embeddingShape, layerList } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { clusterWithProfile } from '../profile/cluster.js';
import type { Profile } from '../profile/schema.js';
import { ppDegrees, stageCandidates, type CandidateRules } from '../strategy/candidates.js';
import { balancedPartition, bmwSolve, type PartitionMode } from './balanced-partitions.js';
import { solveTask, taskLowerBoundS, taskStages, uniformTaskResult, uniformTimeS, type PipelineTask, type SearchContext, type TaskResult } from './pipeline-task.js';
import { leanOut } from './lean-out.js';
import { candidateOf, type Candidate } from './stage-frontier.js';
import { planOf } from '../plan/parse.js';
import type { Plan } from '../plan/schema.js';

export interface SearchOptions {
  globalBatch: number;
  rules: CandidateRules;
  precision?: Precision;
  attention?: AttentionKernel;
  fp32MainGrads?: boolean;
  tpOverlap?: boolean;
  /** GPU memory to plan against, GiB (default: the GPU's own). */
  memoryGiB?: number;
  /** Schedules without interleaving to consider (1F1B by default; GPipe never beats it on this model). */
  schedules?: ('1f1b' | 'gpipe')[];
  /** Largest number of interleaved chunks per GPU (1 = no interleaving). */
  maxVirtualStages?: number;
  partition?: PartitionMode;
  /** Micro-batch counts to try (default: every divisor of the global batch). */
  microBatchCounts?: number[];
  constants?: CostConstants;
  /** Measured times, link figures and λ that replace the analytic ones they cover. */
  profile?: Profile;
  /** Largest stage frontier kept; beyond it the search thins and reports exact: false (default: none). */
  frontierLimit?: number;
  onProgress?: (done: number, total: number) => void;
  /** What the plan's `source.command` records (the CLI passes its command line). */
  command?: string;
}

export interface SearchResult {
  best: TaskResult | undefined;
  /** The best plan as a validated galvatron.plan/v1 object, ready to write, export or run. */
  plan: Plan | undefined;
  tasks: number;
  /** Tasks whose plan beat every earlier one (the rest were slower or pruned by the lower bound). */
  improvements: number;
  /** True when no frontier was thinned: the plan is optimal on the model. */
  exact: boolean;
  /** True when no per-layer plan beat the best uniform plan (one strategy everywhere), which is returned. */
  uniform: boolean;
}

export { MAX_GLOBAL_BATCH } from '../limits.js';

/** Refuses a global batch the search cannot take, naming the config key. */
export function checkGlobalBatch(globalBatch: number): void {
  if (!Number.isInteger(globalBatch) || globalBatch <= 0) throw new UserInputError('globalBatch', `must be a positive whole number, got ${globalBatch}`);
  if (globalBatch > MAX_GLOBAL_BATCH) throw new UserInputError('globalBatch', `${globalBatch} samples is more than the largest global batch this planner accepts (${MAX_GLOBAL_BATCH.toLocaleString('en-US')})`);
}

export function divisorsOf(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

export function searchContext(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions): SearchContext {
  const precision = options.precision ?? (cluster.gpu.bf16 ? 'bf16' : 'fp16');
  checkPrecisionOnGpu(cluster, precision);
  const measured = options.profile ? clusterWithProfile(cluster, options.profile) : cluster;
  const sized = options.memoryGiB === undefined ? measured : { ...measured, gpu: { ...measured.gpu, memoryGiB: options.memoryGiB } };
  return {
    layers: layerList(model),
    embedding: embeddingShape(model),
    tiedEmbeddings: model.tiedEmbeddings,
    rope: model.positional === 'rope',
    cluster: sized,
    setupBase: {
      seqLen: model.seqLen,
      precision,
      attention: options.attention ?? defaultAttentionKernel(cluster, precision),
      fp32MainGrads: options.fp32MainGrads ?? false,
      tpOverlap: options.tpOverlap ?? false,
      dropout: model.family !== 'llama',
    },
    globalBatch: options.globalBatch,
    constants: options.constants ?? loadCostConstants(),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.frontierLimit === undefined ? {} : { frontierLimit: options.frontierLimit }),
    thinned: { value: false },
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Every task of the search, in a deterministic order. */
export function searchTasks(model: ModelSpec, ctx: SearchContext, options: SearchOptions): PipelineTask[] {
  const gpus = totalGpus(ctx.cluster);
  const L = ctx.layers.length;
  const schedules = options.schedules ?? ['1f1b'];
  const maxV = options.maxVirtualStages ?? 1;
  const microBatchCounts = options.microBatchCounts ?? divisorsOf(options.globalBatch);
  // SP and CP split every stream a layout holds: a T5's encoder and decoder tokens alike (python/galvatron_runtime/t5.py).
  let seqLen = model.family === 't5' ? gcd(model.seqLen, model.decoderSeqLen ?? model.seqLen) : model.seqLen;
  let heads = model.heads;
  let kvHeads = model.kvHeads ?? model.heads;
  if (model.family === 'swin') {
    // One candidate set serves every layer and the ends: TP must split every stage's heads, and SP every
    // layer's tokens and the head's (the last stage's grid: Swin-L's 7×7 = 49, so no SP at tp 2, which the
    // executor would refuse: python/galvatron_runtime/plan.py _check_swin_strategy).
    seqLen = ctx.layers.reduce((g, l) => gcd(g, l.seqLen), seqLen);
    heads = kvHeads = ctx.layers.reduce((g, l) => gcd(g, l.heads), heads);
  }
  const limits = { heads, kvHeads, seqLen };
  const tasks: PipelineTask[] = [];
  for (const degree of ppDegrees(gpus, L, options.rules)) {
    const all = stageCandidates(gpus / degree, options.rules, limits);
    for (const m of microBatchCounts) {
      if (options.globalBatch % m !== 0) continue;
      const samples = options.globalBatch / m;
      const candidates = all.filter((s) => samples % s.dp === 0).map(candidateOf);
      if (candidates.length === 0) continue;
      for (const schedule of schedules) tasks.push({ degree, microBatches: m, schedule, virtualStages: 1, candidates });
      for (let v = 2; v <= maxV && degree > 1; v++) {
        // Even chunks only (Megatron's rule for --num-layers-per-virtual-pipeline-stage): the closed form
        // prices a chunk as its stage's time / v, which uneven chunks break (the simulator measured an
        // iteration 8 % longer than the closed form for LLaMA-2 7B on 8 stages × 3 chunks of 1–2 layers).
        if (L % (degree * v) !== 0 || m % degree !== 0) continue;
        tasks.push({ degree, microBatches: m, schedule: 'interleaved-1f1b' as Schedule, virtualStages: v, candidates });
      }
    }
  }
  return tasks;
}

/** Context, tasks and the order to solve them in: most promising first. */
export interface PreparedSearch {
  ctx: SearchContext;
  model: ModelSpec;
  /** The GPU's own memory (the plan's cluster keeps it; the budget searched against is plan data). */
  deviceMemoryGiB: number;
  command: string;
  /** The strategy space (for the tie pass, leanOut). */
  rules: CandidateRules;
  tasks: PipelineTask[];
  /** Per task: a lower bound on any plan of it (taskLowerBoundS). */
  bounds: number[];
  /** Per task: its best uniform plan (one candidate everywhere, even stages), or none that fits. */
  uniformBest: ({ timeS: number; candidate: Candidate } | undefined)[];
  order: number[];
}

/**
 * Tasks are solved in order of their best uniform plan's time (then of their lower bound): the task that
 * holds the best uniform plan usually holds a plan better still, and finding it first sharpens every
 * later prune. (By lower bound first, GPT-3 175B on 64 GPUs spent 40 s on 2-stage tasks whose bounds
 * are loose before it reached the 8-stage interleaved task that wins, solved in 15 ms.)
 */
export function prepareSearch(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions): PreparedSearch {
  checkGlobalBatch(options.globalBatch);
  const ctx = searchContext(model, cluster, options);
  const tasks = searchTasks(model, ctx, options);
  const stagesOf = tasks.map((task) => taskStages(ctx, task));
  const bounds = tasks.map((task, i) => taskLowerBoundS(ctx, task, stagesOf[i]));
  const uniformBest = tasks.map((task, i) => {
    const stages = stagesOf[i]!;
    let best: { timeS: number; candidate: Candidate } | undefined;
    for (const candidate of task.candidates) {
      const timeS = uniformTimeS(ctx, task, candidate, stages);
      if (timeS !== undefined && timeS < (best?.timeS ?? Infinity)) best = { timeS, candidate };
    }
    return best;
  });
  const upper = (i: number) => uniformBest[i]?.timeS ?? Infinity;
  const order = tasks.map((_, i) => i).sort((a, b) => upper(a) - upper(b) || bounds[a]! - bounds[b]! || a - b);
  return { ctx, model, deviceMemoryGiB: cluster.gpu.memoryGiB, command: options.command ?? 'galvatron-ts search', rules: options.rules, tasks, bounds, uniformBest, order };
}

/** One task under the partition mode; undefined when it cannot beat `incumbentS`. */
export function solveWithMode(ctx: SearchContext, task: PipelineTask, mode: PartitionMode, incumbentS: number): TaskResult | undefined {
  if (mode === 'exact' || task.virtualStages > 1) return solveTask(ctx, task, incumbentS);
  if (mode === 'bmw') return bmwSolve(ctx, task, incumbentS);
  return solveTask(ctx, { ...task, fixedPartition: balancedPartition(mode, ctx, task) }, incumbentS);
}

/**
 * The exact search, and the even-partition search (Galvatron's baseline), start from the best uniform plan
 * of their space (one candidate on every layer, even stages: what pure DP, ZeRO, Megatron and DeepSpeed 3D
 * configurations are) as incumbent. That upper bound prunes from the first task on and never changes the
 * optimum, and it keeps a thinned search from ending behind any such plan. Cheap: priced from the option
 * tables, no frontier. (Unseeded, the even search spent 17 s of GPT-3 13B on 64 GPUs on its first task,
 * under a frontier limit, and ended 0.02 % behind a uniform plan of its space.) The balanced partition
 * modes keep their own partitions and start from nothing.
 */
export function initialIncumbent(options: SearchOptions, prepared: PreparedSearch): TaskResult | undefined {
  const mode = options.partition ?? 'exact';
  if (mode !== 'exact' && mode !== 'even') return undefined;
  const { ctx, tasks, uniformBest, order } = prepared;
  // The first task in order holds the best uniform plan (the first among equals).
  const first = order[0];
  const best = first === undefined ? undefined : uniformBest[first];
  return best && uniformTaskResult(ctx, tasks[first!]!, best.candidate, best.timeS);
}

/**
 * The result of a search. `best` is the seed while no task beat it; the search is exact when no thinned
 * task could have beaten the plan kept (an exact search cannot be beaten by a baseline either).
 */
export function finishSearch(
  prepared: PreparedSearch,
  seed: TaskResult | undefined,
  best: TaskResult | undefined,
  improvements: number,
  /** Lower bounds of the tasks whose frontiers were thinned. */
  thinnedBounds: number[],
): SearchResult {
  const exact = thinnedBounds.every((bound) => bound >= (best?.timeS ?? Infinity));
  const uniform = best !== undefined && best === seed;
  // Ties go to the leaner plan (a DP type with the same time and less memory).
  if (best) {
    const lean = leanOut(best, prepared.rules);
    if (lean.cost !== best.cost) best = { ...best, input: lean.input, cost: lean.cost, timeS: lean.cost.iterationTimeS, searchTimeS: lean.cost.iterationTimeS };
  }
  const plan = best ? planOf(prepared.model, best.input, best.cost, prepared.command, prepared.deviceMemoryGiB) : undefined;
  return { best, plan, tasks: prepared.tasks.length, improvements, exact, uniform };
}

export function searchPlan(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions): SearchResult {
  const prepared = prepareSearch(model, cluster, options);
  const { ctx, tasks, bounds, order } = prepared;
  const mode = options.partition ?? 'exact';
  const seed = initialIncumbent(options, prepared);
  let best: TaskResult | undefined = seed;
  let improvements = 0;
  const thinnedBounds: number[] = [];
  order.forEach((taskIndex, i) => {
    // A task whose bound cannot beat the incumbent is skipped before any frontier is built.
    if (bounds[taskIndex]! < (best?.timeS ?? Infinity)) {
      ctx.thinned.value = false;
      const result = solveWithMode(ctx, tasks[taskIndex]!, mode, best?.timeS ?? Infinity);
      if (ctx.thinned.value) thinnedBounds.push(bounds[taskIndex]!);
      if (result && result.cost.fits) {
        improvements++;
        if (!best || result.timeS < best.timeS) best = result;
      }
    }
    options.onProgress?.(i + 1, tasks.length);
  });
  return finishSearch(prepared, seed, best, improvements, thinnedBounds);
}
