// When no plan fits: how much memory per GPU, or how many GPUs, would be enough (DESIGN.md §7: say
// what would fix it). Both answers come from coarse feasibility probes, not full searches:
//   - a probe solves the search's tasks in the order most likely to fit (most micro-batches, so the
//     smallest ones, then the deepest pipeline first) and stops at the first plan that fits; it does
//     not look for the fastest;
//   - it keeps at most PROBE_FRONTIER_LIMIT points per stage frontier and tries no interleaving;
//   - of the micro-batch counts it tries only the leanest for each data-parallel degree (the most
//     micro-batches whose size that degree divides): smaller micro-batches never need more memory.
// A plan a probe finds lies in the user's search space (same rules, partition mode, batch and
// software setup), so each answer is an upper bound on what is needed: that much is enough, a little
// less may be too. A probe that finds nothing proves nothing, so the bounds can only err high.
import { loadCostConstants } from '../cost/constants.js';
import { stateBytesPerParam } from '../cost/layer-memory.js';
import { scaleCluster } from '../hardware/resolve.js';
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import { parameterCounts } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { balancedPartition, bmwSolve } from './balanced-partitions.js';
import { priceBaselines, softwareSetup, UNIFORM_BASELINE_FAMILIES, type BaselineOptions } from './baselines.js';
import type { PipelineTask, SearchContext, TaskResult } from './pipeline-task.js';
import { leastStageMemoryBytes, solveTask, taskStages } from './pipeline-task.js';
import { divisorsOf, searchContext, searchTasks, type SearchOptions } from './search.js';

const GIB = 1024 ** 3;

/** Largest stage frontier a probe keeps (coarse: fast, and may miss plans that fit). */
export const PROBE_FRONTIER_LIMIT = 16;
/** Bisection steps between a budget that does not fit and one that does (at most). */
export const MEMORY_BISECTION_STEPS = 8;
/** Bisection stops once the bracket is narrower than this fraction of its top (or 0.1 GiB). */
const MEMORY_TOLERANCE = 0.01;
/** The GPU count is doubled up to this factor of the original. */
export const MAX_GPU_FACTOR = 64;
/** When no upper bound is known, the budget is doubled up to this factor before giving up. */
const MAX_MEMORY_FACTOR = 64;

export type FeasibilityOptions = Omit<SearchOptions, 'onProgress'> & {
  /** Called after each probe with what it tried and whether something fit. */
  onProbe?: (probe: { memoryGiB: number; gpus: number; fits: boolean }) => void;
};

/** One task solved the way searchPlan solves it for the given partition mode. */
function solveAsSearch(ctx: SearchContext, task: PipelineTask, options: SearchOptions): TaskResult | undefined {
  const mode = options.partition ?? 'exact';
  if (mode === 'exact' || task.virtualStages > 1) return solveTask(ctx, task, Infinity);
  if (mode === 'bmw') return bmwSolve(ctx, task, Infinity);
  return solveTask(ctx, { ...task, fixedPartition: balancedPartition(mode, ctx, task) }, Infinity);
}

/**
 * For each possible data-parallel degree d (a divisor of the GPU count), the largest micro-batch count
 * whose micro-batch d divides: the leanest choice for layers of that degree (activations shrink with
 * the micro-batch; 1F1B keeps at most p micro-batches in flight and GPipe all of the batch).
 */
export function leanMicroBatchCounts(globalBatch: number, gpus: number, counts?: number[]): number[] {
  const all = (counts ?? divisorsOf(globalBatch)).filter((m) => Number.isInteger(m) && m > 0 && globalBatch % m === 0);
  const chosen = new Set<number>();
  for (const d of divisorsOf(gpus)) {
    const best = Math.max(...all.filter((m) => (globalBatch / m) % d === 0));
    if (Number.isFinite(best)) chosen.add(best);
  }
  return [...chosen].sort((a, b) => a - b);
}

function probeOptions(options: FeasibilityOptions, cluster: ClusterSpec, memoryGiB: number): SearchOptions {
  const { onProbe: _onProbe, ...rest } = options;
  const limit = Math.min(options.frontierLimit ?? PROBE_FRONTIER_LIMIT, PROBE_FRONTIER_LIMIT);
  const microBatchCounts = leanMicroBatchCounts(options.globalBatch, totalGpus(cluster), options.microBatchCounts);
  return { ...rest, memoryGiB, frontierLimit: limit, maxVirtualStages: 1, microBatchCounts };
}

/**
 * The first plan that fits `memoryGiB` per GPU on `cluster`, or undefined when the probe finds none.
 * Tasks are tried most micro-batches first (the smallest activations), then deepest pipeline first.
 */
export function probeFit(model: ModelSpec, cluster: ClusterSpec, options: FeasibilityOptions, memoryGiB: number): TaskResult | undefined {
  const search = probeOptions(options, cluster, memoryGiB);
  const ctx = searchContext(model, cluster, search);
  const tasks = searchTasks(model, ctx, search)
    .map((task, i) => ({ task, i }))
    .sort((a, b) => b.task.microBatches - a.task.microBatches || b.task.degree - a.task.degree || a.i - b.i);
  let found: TaskResult | undefined;
  for (const { task } of tasks) {
    const stages = taskStages(ctx, task);
    // A task whose leanest stage partition does not fit has no plan that fits: not solved.
    if (leastStageMemoryBytes(ctx, task, stages) > stages.budgetBytes) continue;
    const result = solveAsSearch(ctx, task, search);
    if (result?.cost.fits) {
      found = result;
      break;
    }
  }
  options.onProbe?.({ memoryGiB, gpus: totalGpus(cluster), fits: found !== undefined });
  return found;
}

/**
 * A lower bound on the memory per GPU of any plan on `gpus` GPUs: every parameter's weights, gradients
 * and optimizer states live somewhere (ZeRO-3, TP and PP only spread them), plus the fixed overhead.
 */
export function memoryLowerBoundGiB(model: ModelSpec, cluster: ClusterSpec, options: Pick<SearchOptions, 'precision' | 'fp32MainGrads' | 'constants'>, gpus: number): number {
  const precision = options.precision ?? (cluster.gpu.bf16 ? 'bf16' : 'fp16');
  const bytes = stateBytesPerParam(precision, options.fp32MainGrads ?? false);
  const perParam = bytes.param + bytes.grad + bytes.optimizer;
  const constants = options.constants ?? loadCostConstants();
  return (perParam * parameterCounts(model).total) / gpus / GIB + constants.fixedMemoryGiB;
}

/**
 * The least memory per GPU among the baselines' configurations (a cheap first guess at an upper bound).
 * At a budget nothing fits, each family reports its leanest configuration.
 */
function leanestBaselineGiB(model: ModelSpec, cluster: ClusterSpec, options: FeasibilityOptions): number | undefined {
  const baselineOptions: BaselineOptions = { globalBatch: options.globalBatch, ...softwareSetup(options) };
  // The uniform grids only: the even-partition family is a whole search, too slow for a first guess.
  const needs = priceBaselines(model, cluster, baselineOptions, options.constants ?? loadCostConstants(), UNIFORM_BASELINE_FAMILIES)
    .map((b) => b.cost?.memoryPerGpuBytes)
    .filter((bytes): bytes is number => bytes !== undefined && Number.isFinite(bytes));
  return needs.length === 0 ? undefined : Math.min(...needs) / GIB;
}

export interface SmallestMemory {
  /** Memory per GPU of the leanest fitting plan the probes found, GiB (an upper bound on what is needed). */
  memoryGiB: number;
  /** That plan. */
  plan: TaskResult;
}

/**
 * The least memory per GPU (GiB) with which a plan fits on `cluster` as it is, or undefined when even
 * MAX_MEMORY_FACTOR × the budget finds none. Bisection over the budget between the given one (which
 * does not fit) and an upper bound (the leanest baseline's need, else doubling), MEMORY_BISECTION_STEPS
 * steps; the answer is the memory of the plan found at the smallest budget that fits. Coarse (see the
 * top of this file): an upper bound on what is needed.
 */
export function smallestFittingMemoryGiB(model: ModelSpec, cluster: ClusterSpec, options: FeasibilityOptions): SmallestMemory | undefined {
  const budget = options.memoryGiB ?? cluster.gpu.memoryGiB;
  const gpus = totalGpus(cluster);
  let lo = Math.max(budget, memoryLowerBoundGiB(model, cluster, options, gpus));
  let hiPlan: TaskResult | undefined;
  let hi = lo;
  const leanest = leanestBaselineGiB(model, cluster, options);
  if (leanest !== undefined && leanest > lo) {
    // Slightly above the baseline's need: its own configuration then fits (if the rules allow it).
    hi = leanest * 1.001;
    hiPlan = probeFit(model, cluster, options, hi);
    if (!hiPlan) lo = hi;
  }
  if (!hiPlan) {
    hi = lo;
    while (!hiPlan && hi < budget * MAX_MEMORY_FACTOR) {
      lo = hi;
      hi = Math.min(hi * 2, budget * MAX_MEMORY_FACTOR);
      hiPlan = probeFit(model, cluster, options, hi);
    }
  }
  if (!hiPlan) return undefined;
  // The plan found at hi may need less than hi: start from what it needs.
  hi = Math.min(hi, hiPlan.cost.memoryPerGpuBytes / GIB);
  for (let step = 0; step < MEMORY_BISECTION_STEPS && hi - lo > Math.max(0.1, MEMORY_TOLERANCE * hi); step++) {
    const mid = (lo + hi) / 2;
    const plan = probeFit(model, cluster, options, mid);
    if (plan) {
      hiPlan = plan;
      hi = Math.min(mid, plan.cost.memoryPerGpuBytes / GIB);
    } else {
      lo = mid;
    }
  }
  return { memoryGiB: hiPlan.cost.memoryPerGpuBytes / GIB, plan: hiPlan };
}

export interface SmallestGpus {
  gpus: number;
  cluster: ClusterSpec;
  plan: TaskResult;
}

/**
 * The smallest GPU count gpus·2^k (k = 1 … log2 MAX_GPU_FACTOR) at which a plan fits the same memory
 * per GPU, or undefined when none up to MAX_GPU_FACTOR × does. `nodeCluster` is the cluster at its
 * full node size (the preset before `--gpus` shrank it), so that doubling adds whole nodes. Counts
 * whose parameter states alone exceed the budget are skipped without a probe. Coarse (see the top of
 * this file): an upper bound on the GPUs needed.
 */
export function smallestFittingGpus(
  model: ModelSpec,
  cluster: ClusterSpec,
  options: FeasibilityOptions,
  nodeCluster: ClusterSpec = cluster,
): SmallestGpus | undefined {
  const budget = options.memoryGiB ?? cluster.gpu.memoryGiB;
  const start = totalGpus(cluster);
  for (let factor = 2; factor <= MAX_GPU_FACTOR; factor *= 2) {
    const gpus = start * factor;
    if (memoryLowerBoundGiB(model, cluster, options, gpus) > budget) continue;
    let scaled: ClusterSpec;
    try {
      scaled = scaleCluster(nodeCluster, gpus);
    } catch {
      continue; // not a whole number of nodes
    }
    const plan = probeFit(model, scaled, options, budget);
    if (plan) return { gpus, cluster: scaled, plan };
  }
  return undefined;
}
