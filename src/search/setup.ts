// A search as a front end sets it up (the CLI's flags, the web page's form): the model, the cluster, the
// rules, the memory budget and the options, then the baselines around the result and the plan finally
// reported. No file access: the CLI loads files first (src/cli/search-flags.ts), the web page's worker
// passes objects (web/src/worker.ts).
import type { MemoryBudget } from '../cost/memory-budget.js';
import type { AttentionKernel, Precision } from '../cost/types.js';
import type { ClusterSpec } from '../hardware/spec.js';
import type { ModelSpec } from '../model/spec.js';
import { planOf } from '../plan/parse.js';
import type { Plan } from '../plan/schema.js';
import type { Profile } from '../profile/schema.js';
import type { CandidateRules } from '../strategy/candidates.js';
import type { PartitionMode } from './balanced-partitions.js';
import { fasterEvenPartitionPlan, priceBaselines, softwareSetup, type BaselineOptions, type BaselineResult } from './baselines.js';
import type { TaskResult } from './pipeline-task.js';
import type { SearchOptions, SearchResult } from './search.js';

export { DEFAULT_CLUSTER, DEFAULT_FRONTIER_LIMIT, DEFAULT_GLOBAL_BATCH, DEFAULT_MAX_VPP, DEFAULT_MODEL } from './defaults.js';

export interface SearchSetup {
  model: ModelSpec;
  cluster: ClusterSpec;
  /** The cluster at its own node size (before a GPU count), for scaling by whole nodes. */
  nodeCluster: ClusterSpec;
  rules: CandidateRules;
  options: Omit<SearchOptions, 'globalBatch' | 'onProgress'>;
  workers: number;
  /** The GPU's memory, the budget searched against and the reserve (src/cost/memory-budget.ts). */
  memory: MemoryBudget;
}

export interface SearchSettings {
  rules: CandidateRules;
  maxVirtualStages: number;
  partition: PartitionMode;
  /** Largest frontier kept; undefined: no limit (exact). */
  frontierLimit: number | undefined;
  precision?: Precision | undefined;
  attention?: AttentionKernel | undefined;
  fp32MainGrads?: boolean | undefined;
  tpOverlap?: boolean | undefined;
  memory: MemoryBudget;
  /** What the plan's source.command records. */
  command: string;
  profile?: Profile | undefined;
}

/** The search options for these settings (optional ones left absent, as the search expects). */
export function searchOptionsFor(s: SearchSettings): Omit<SearchOptions, 'globalBatch' | 'onProgress'> {
  return {
    rules: s.rules,
    maxVirtualStages: s.maxVirtualStages,
    partition: s.partition,
    ...(s.frontierLimit === undefined ? {} : { frontierLimit: s.frontierLimit }),
    ...(s.precision === undefined ? {} : { precision: s.precision }),
    ...(s.attention === undefined ? {} : { attention: s.attention }),
    ...(s.fp32MainGrads ? { fp32MainGrads: true } : {}),
    ...(s.tpOverlap ? { tpOverlap: true } : {}),
    memoryGiB: s.memory.budgetGiB,
    command: s.command,
    constants: s.memory.constants,
    ...(s.profile === undefined ? {} : { profile: s.profile }),
  };
}

/** The baselines at the same batch, precision, memory and software setup. */
export function baselinesFor(setup: SearchSetup, globalBatch: number, searched?: SearchResult): BaselineResult[] {
  const { options } = setup;
  const baselineOptions: BaselineOptions = {
    globalBatch,
    rules: setup.rules,
    // The search's own result stands in for the even-partition search where it settles it.
    ...(searched && (options.partition ?? 'exact') === 'exact' ? { exactSearch: searched } : {}),
    ...(options.frontierLimit === undefined ? {} : { frontierLimit: options.frontierLimit }),
    ...softwareSetup(options),
  };
  return priceBaselines(setup.model, setup.cluster, baselineOptions, options.constants);
}

/**
 * The plan to report: the search's, or the even-partition baseline's where a thinned search missed it
 * (fasterEvenPartitionPlan), rebuilt as a plan on the same GPU with the same source command.
 */
export function reportedPlan(setup: SearchSetup, best: TaskResult, plan: Plan, exact: boolean, baselines: BaselineResult[]): { best: TaskResult; plan: Plan; evenPartition: boolean } {
  const even = fasterEvenPartitionPlan(best, exact, baselines);
  if (!even?.input || !even.cost) return { best, plan, evenPartition: false };
  return {
    best: { ...best, input: even.input, cost: even.cost, timeS: even.cost.iterationTimeS },
    plan: planOf(setup.model, even.input, even.cost, plan.source.command, setup.memory.deviceGiB),
    evenPartition: true,
  };
}
