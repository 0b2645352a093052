// Baselines (DESIGN.md §5): the plans a user would otherwise pick, each the best of its family, priced by
// the same cost model as the search so every plan can be reported against them.
import { loadCostConstants } from '../cost/constants.js';
import { pricePlan, type PlanCost, type PlanInput } from '../cost/plan-cost.js';
import { layerTime, type LayerCostContext } from '../cost/layer-time.js';
import type { AttentionKernel, CostConstants, Precision } from '../cost/types.js';
import { checkPrecisionOnGpu, uniformPlanInput, type UniformConfig } from '../cost/uniform-plan.js';
import { UserInputError } from '../errors.js';
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import type { LayerShape, ModelSpec } from '../model/spec.js';
import type { Profile } from '../profile/schema.js';
import type { DpType, LayerStrategy, RecomputeKind } from '../strategy/layer-strategy.js';
import { defaultRules, type CandidateRules } from '../strategy/candidates.js';
import { checkGlobalBatch, searchPlan, type SearchResult } from './search.js';

export type BaselineFamily = 'pure-dp' | 'zero2' | 'zero3' | 'megatron' | 'deepspeed-3d' | 'galvatron-even';

export const BASELINE_FAMILIES: readonly BaselineFamily[] = ['pure-dp', 'zero2', 'zero3', 'megatron', 'deepspeed-3d', 'galvatron-even'];

/** The families priced from a grid of uniform configurations (no search inside). */
export const UNIFORM_BASELINE_FAMILIES: readonly BaselineFamily[] = BASELINE_FAMILIES.filter((f) => f !== 'galvatron-even');

/** The software setup shared by the search and the baselines. */
export type SoftwareSetup = Pick<BaselineOptions, 'precision' | 'memoryGiB' | 'attention' | 'fp32MainGrads' | 'tpOverlap' | 'profile'>;

/** The fields of `options` that are set, so optional ones stay absent. */
export function softwareSetup(options: SoftwareSetup): SoftwareSetup {
  const out: SoftwareSetup = {};
  if (options.precision !== undefined) out.precision = options.precision;
  if (options.memoryGiB !== undefined) out.memoryGiB = options.memoryGiB;
  if (options.attention !== undefined) out.attention = options.attention;
  if (options.fp32MainGrads !== undefined) out.fp32MainGrads = options.fp32MainGrads;
  if (options.tpOverlap !== undefined) out.tpOverlap = options.tpOverlap;
  if (options.profile !== undefined) out.profile = options.profile;
  return out;
}

export const BASELINE_LABELS: Record<BaselineFamily, string> = {
  'pure-dp': 'Pure DP (DDP)',
  zero2: 'ZeRO-2',
  zero3: 'ZeRO-3 / FSDP',
  megatron: 'Megatron-LM (t, p, d grid)',
  'deepspeed-3d': 'DeepSpeed 3D (ZeRO-1)',
  'galvatron-even': 'Galvatron (even partition)',
};

export interface BaselineResult {
  family: BaselineFamily;
  label: string;
  /** Best fitting config, or the least-memory one when none fits. */
  config: UniformConfig | undefined;
  input?: PlanInput;
  cost?: PlanCost;
  fits: boolean;
  /** Configurations priced (those uniformPlanInput rejected are not counted). */
  tried: number;
  /** Why nothing fits / was valid, one line. */
  note?: string;
}

export interface BaselineOptions {
  globalBatch: number;
  /** Default: bf16 where the GPU has it, else fp16. */
  precision?: Precision;
  memoryGiB?: number;
  attention?: AttentionKernel;
  fp32MainGrads?: boolean;
  tpOverlap?: boolean;
  /** Measured times, link figures and λ that replace the analytic ones they cover. */
  profile?: Profile;
  /** Micro-batch sizes to try (those that divide the per-replica batch); default: all divisors up to 64. */
  microBatchSizes?: number[];
  /** Strategy space of the Galvatron even-partition search (default: defaultRules()). */
  rules?: CandidateRules;
  /** Frontier limit of that search (default: 64, as `galvatron plan`). */
  frontierLimit?: number;
  /**
   * The exact-partition search's result in the same space and setup, when it already ran. Where it proved
   * that no per-layer plan beats the best uniform one, that uniform plan (even stages) is also the
   * even-partition optimum, and the even-partition search is not run again.
   */
  exactSearch?: SearchResult;
}

const GIB = 1024 ** 3;
const MAX_DEFAULT_MICRO_BATCH = 64;
const MAX_TP = 8;

const divisorsOf = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

/** Micro-batch sizes b with b·d | globalBatch, ascending. */
function microBatchSizes(globalBatch: number, dp: number, options: BaselineOptions): number[] {
  if (!Number.isInteger(globalBatch) || globalBatch <= 0 || globalBatch % dp !== 0) return [];
  const perReplica = globalBatch / dp;
  if (options.microBatchSizes === undefined) return divisorsOf(perReplica).filter((b) => b <= MAX_DEFAULT_MICRO_BATCH);
  return [...new Set(options.microBatchSizes)]
    .filter((b) => Number.isInteger(b) && b > 0 && perReplica % b === 0)
    .sort((a, b) => a - b);
}

/** TP degrees a Megatron/DeepSpeed user would try: divisors of the node size (≤ 8) valid for the heads. */
function tensorParallelDegrees(model: ModelSpec, cluster: ClusterSpec): number[] {
  const kv = model.kvHeads ?? model.heads;
  return divisorsOf(cluster.gpusPerNode).filter(
    (t) => t <= MAX_TP && model.heads % t === 0 && (kv % t === 0 || t % kv === 0),
  );
}

type SharedFields = Pick<
  UniformConfig,
  'globalBatch' | 'cp' | 'vpp' | 'schedule' | 'precision' | 'attention' | 'fp32MainGrads' | 'tpOverlap' | 'memoryGiB' | 'profile'
>;

/** The setup every candidate shares; optional fields stay absent unless given. */
function baseConfig(cluster: ClusterSpec, options: BaselineOptions): SharedFields {
  const base: SharedFields = {
    globalBatch: options.globalBatch,
    cp: 1,
    vpp: 1,
    schedule: '1f1b',
    precision: options.precision ?? (cluster.gpu.bf16 ? 'bf16' : 'fp16'),
  };
  checkPrecisionOnGpu(cluster, base.precision);
  if (options.attention !== undefined) base.attention = options.attention;
  if (options.fp32MainGrads !== undefined) base.fp32MainGrads = options.fp32MainGrads;
  if (options.tpOverlap !== undefined) base.tpOverlap = options.tpOverlap;
  if (options.memoryGiB !== undefined) base.memoryGiB = options.memoryGiB;
  if (options.profile !== undefined) base.profile = options.profile;
  return base;
}

/**
 * Every configuration of one family's grid, in a fixed order: tp, then pp, then micro-batch, then
 * recompute (least first), then DP type. Only degree/batch combinations that divide evenly are listed.
 */
export function baselineGrid(family: BaselineFamily, model: ModelSpec, cluster: ClusterSpec, options: BaselineOptions): UniformConfig[] {
  const gpus = totalGpus(cluster);
  const base = baseConfig(cluster, options);
  const grid: UniformConfig[] = [];
  const push = (tp: number, pp: number, recomputes: readonly RecomputeKind[], dpTypes: readonly DpType[], sequenceParallel: boolean) => {
    const dp = gpus / (tp * pp);
    for (const microBatch of microBatchSizes(options.globalBatch, dp, options)) {
      for (const recompute of recomputes) {
        for (const dpType of dpTypes) {
          grid.push({ ...base, microBatch, tp, pp, dpType, recompute, sequenceParallel });
        }
      }
    }
  };
  switch (family) {
    case 'pure-dp':
      push(1, 1, ['none', 'full'], ['ddp'], false);
      break;
    case 'zero2':
      push(1, 1, ['none', 'full'], ['zero2'], false);
      break;
    case 'zero3':
      push(1, 1, ['none', 'full'], ['zero3'], false);
      break;
    case 'megatron':
    case 'deepspeed-3d':
      for (const tp of tensorParallelDegrees(model, cluster)) {
        if (gpus % tp !== 0) continue;
        for (const pp of divisorsOf(gpus / tp)) {
          if (pp > model.layers) continue;
          if (family === 'megatron') push(tp, pp, ['none', 'selective', 'full'], ['ddp', 'zero1'], tp > 1);
          else push(tp, pp, ['none', 'full'], ['zero1'], false);
        }
      }
      break;
  }
  return grid;
}

function emptyGridNote(family: BaselineFamily, cluster: ClusterSpec, options: BaselineOptions): string {
  const gpus = totalGpus(cluster);
  if (family === 'pure-dp' || family === 'zero2' || family === 'zero3') {
    return `global batch ${options.globalBatch} does not split over ${gpus} data-parallel ranks with any of the micro-batch sizes tried`;
  }
  return `no (t, p, d, micro-batch) combination divides global batch ${options.globalBatch} on ${gpus} GPUs`;
}

const gib = (bytes: number) => (bytes / GIB).toFixed(1);

/**
 * Galvatron's own search (the papers' first version): per-layer strategies by DP, but the layers split
 * evenly over the pipeline stages, with no time/memory balancing of the partition.
 */
function galvatronEvenPartition(model: ModelSpec, cluster: ClusterSpec, options: BaselineOptions, constants: CostConstants): BaselineResult {
  const family = 'galvatron-even';
  // The even-partition space lies inside the exact one and holds its uniform plans, and the even search
  // starts from the same best uniform plan: when the exact search proved nothing beats that plan, and
  // the plan is not interleaved (the even space has no chunks), the even search would return it too.
  const known = options.exactSearch;
  if (known?.exact && known.uniform && known.best && known.best.input.pipeline.virtualStages === 1) {
    const best = known.best;
    return { family, label: BASELINE_LABELS[family], config: undefined, input: best.input, cost: best.cost, fits: best.cost.fits, tried: known.tasks };
  }
  const result = searchPlan(model, cluster, {
    globalBatch: options.globalBatch,
    rules: options.rules ?? defaultRules(),
    partition: 'even',
    frontierLimit: options.frontierLimit ?? DEFAULT_EVEN_SEARCH_FRONTIER,
    constants,
    ...softwareSetup(options),
  });
  const best = result.best;
  if (!best) return { family, label: BASELINE_LABELS[family], config: undefined, fits: false, tried: result.tasks, note: 'no plan with an even partition fits' };
  return { family, label: BASELINE_LABELS[family], config: undefined, input: best.input, cost: best.cost, fits: best.cost.fits, tried: result.tasks };
}

const DEFAULT_EVEN_SEARCH_FRONTIER = 64;

/** Rounding allowed between the bound's sums and pricePlan's (the bound is exact when tight). */
const BOUND_ROUNDING = 1e-9;

/**
 * A lower bound on pricePlan's iteration time T = m·max C + (Σ C − max C)/v + tail: the layers' forward and
 * backward alone sum to S ≤ Σ C, and max C ≥ S/p, so T ≥ m·S/p + (S − S/p)/v (T grows with both).
 * One layer-time per run of equal layers, no embedding, memory or pipeline: far cheaper than pricePlan.
 */
function iterationLowerBoundS(input: PlanInput): number {
  const { setup, pipeline, cluster } = input;
  const ctx: LayerCostContext = { kernel: { gpu: cluster.gpu, precision: setup.precision, constants: input.constants }, cluster, setup, profile: input.profile };
  const samples = setup.globalBatch / setup.microBatches;
  let busyS = 0;
  let last: { shape: LayerShape; strategy: LayerStrategy; busyS: number } | undefined;
  input.layers.forEach((shape, l) => {
    const strategy = input.strategies[l]!;
    if (!last || last.shape.typeId !== shape.typeId || last.strategy !== strategy) {
      const time = layerTime(shape, strategy, samples, ctx, { rope: input.rope });
      last = { shape, strategy, busyS: time.forwardS + time.backwardS };
    }
    busyS += last.busyS;
  });
  const p = pipeline.degree;
  const v = pipeline.schedule === 'interleaved-1f1b' ? pipeline.virtualStages : 1;
  return (setup.microBatches * busyS) / p + (busyS - busyS / p) / v;
}

/** The best plan of one family: the fastest fitting config (first in grid order on ties), else the leanest. */
export function priceBaseline(
  family: BaselineFamily,
  model: ModelSpec,
  cluster: ClusterSpec,
  options: BaselineOptions,
  constants: CostConstants = loadCostConstants(),
): BaselineResult {
  if (family === 'galvatron-even') return galvatronEvenPartition(model, cluster, options, constants);
  const label = BASELINE_LABELS[family];
  const grid = baselineGrid(family, model, cluster, options);
  let tried = 0;
  let firstRejection: string | undefined;
  const valid: { config: UniformConfig; input: PlanInput; index: number; boundS: number }[] = [];
  grid.forEach((config, index) => {
    let input: PlanInput;
    try {
      input = uniformPlanInput(model, cluster, config, constants);
    } catch (error) {
      if (!(error instanceof UserInputError)) throw error;
      firstRejection ??= error.message;
      return;
    }
    tried++;
    valid.push({ config, input, index, boundS: iterationLowerBoundS(input) });
  });
  // Most promising first; once a config fits, those whose bound is above its time cannot win and are not
  // priced. The answer is the grid's: the fastest fitting config, the first in grid order among equals.
  valid.sort((a, b) => a.boundS - b.boundS || a.index - b.index);
  type Priced = { config: UniformConfig; input: PlanInput; cost: PlanCost; index: number };
  let best: Priced | undefined;
  let leanest: Priced | undefined;
  for (const { config, input, index, boundS } of valid) {
    if (best && boundS * (1 - BOUND_ROUNDING) > best.cost.iterationTimeS) break;
    const cost = pricePlan(input);
    if (cost.fits) {
      const t = cost.iterationTimeS;
      if (!best || t < best.cost.iterationTimeS || (t === best.cost.iterationTimeS && index < best.index)) best = { config, input, cost, index };
    } else if (!best) {
      const m = cost.memoryPerGpuBytes;
      if (!leanest || m < leanest.cost.memoryPerGpuBytes || (m === leanest.cost.memoryPerGpuBytes && index < leanest.index)) leanest = { config, input, cost, index };
    }
  }
  if (best) return { family, label, config: best.config, input: best.input, cost: best.cost, fits: true, tried };
  if (leanest) {
    const { cost } = leanest;
    return {
      family,
      label,
      config: leanest.config,
      input: leanest.input,
      cost,
      fits: false,
      tried,
      note: `nothing fits: the leanest configuration needs ${gib(cost.memoryPerGpuBytes)} GiB per GPU, over the ${gib(cost.memoryBudgetBytes)} GiB budget`,
    };
  }
  const note = grid.length === 0 ? emptyGridNote(family, cluster, options) : `no valid configuration: ${firstRejection ?? 'none'}`;
  return { family, label, config: undefined, fits: false, tried, note };
}

/** The best plan of each baseline family (all of them by default), in the order given. */
export function priceBaselines(
  model: ModelSpec,
  cluster: ClusterSpec,
  options: BaselineOptions,
  constants: CostConstants = loadCostConstants(),
  families: readonly BaselineFamily[] = BASELINE_FAMILIES,
): BaselineResult[] {
  checkGlobalBatch(options.globalBatch);
  return families.map((family) => priceBaseline(family, model, cluster, options, constants));
}

/**
 * The even-partition search runs in the same space as the exact one, so its plan can only be faster when the
 * exact search was thinned by its frontier limit. Then that plan is the better answer: returned here.
 */
export function fasterEvenPartitionPlan(best: { cost: PlanCost } | undefined, exact: boolean, baselines: BaselineResult[]): BaselineResult | undefined {
  if (exact || !best) return undefined;
  const even = baselines.find((b) => b.family === 'galvatron-even');
  return even?.fits && even.input && even.cost && even.cost.iterationTimeS < best.cost.iterationTimeS ? even : undefined;
}

/** The fastest baseline whose configuration fits (first in family order on ties). */
export function bestFittingBaseline(baselines: BaselineResult[]): BaselineResult | undefined {
  let best: BaselineResult | undefined;
  for (const b of baselines) {
    if (b.fits && b.cost && (!best || b.cost.iterationTimeS < best.cost!.iterationTimeS)) best = b;
  }
  return best;
}

/** The searched plan's speed-up over the fastest fitting baseline (its time ÷ the plan's). */
export function speedupOverBestBaseline(cost: PlanCost, baselines: BaselineResult[]): { baseline: BaselineResult; speedup: number } | undefined {
  const best = bestFittingBaseline(baselines);
  return best?.cost ? { baseline: best, speedup: best.cost.iterationTimeS / cost.iterationTimeS } : undefined;
}
