// The flags that shape a search, shared by `galvatron plan` and `galvatron baselines`: parsing them,
// preparing the search, running it with progress, and the baselines and "nothing fits" line around it.
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import type { AttentionKernel, Precision } from '../cost/types.js';
import { UserInputError } from '../errors.js';
import { loadCluster, scaleCluster } from '../hardware/load.js';
import { totalGpus } from '../hardware/spec.js';
import { loadModel } from '../model/load.js';
import { addMemoryOptions, memoryBudget } from './memory-flags.js';
import { autoGlobalBatch, type AutoBatchResult } from '../search/auto-batch.js';
import type { PartitionMode } from '../search/balanced-partitions.js';
import { smallestFittingGpus, smallestFittingMemoryGiB, MAX_GPU_FACTOR } from '../search/infeasible.js';
import { searchPlanParallel } from '../search/parallel-search.js';
import { searchPlan, type SearchResult } from '../search/search.js';
import { DEFAULT_CLUSTER, DEFAULT_FRONTIER_LIMIT, DEFAULT_GLOBAL_BATCH, DEFAULT_MAX_VPP, DEFAULT_MODEL, searchOptionsFor, type SearchSetup } from '../search/setup.js';
import { defaultRules, galvatronV1Rules, RULE_HELP, type CandidateRules, type ReplicatedDpType } from '../strategy/candidates.js';
import { RECOMPUTE_KINDS, type RecomputeKind } from '../strategy/layer-strategy.js';
import { ATTENTION_KERNELS, PRECISIONS } from './choices.js';
import { num } from './format.js';
import type { SearchSummary } from './plan-format.js';
import type { Progress } from './progress.js';
import { commandLine, fileList, nonEmpty, oneOf, positiveInt, type Parser } from './parsers.js';
import { PROFILE_HELP } from './profile-notes.js';
import { loadProfiles } from '../profile/load.js';
import { CALIBRATION_HELP, loadCalibrationFile } from '../calibrate/calibration-file.js';

export { DEFAULT_CLUSTER, DEFAULT_FRONTIER_LIMIT, DEFAULT_GLOBAL_BATCH, DEFAULT_MAX_VPP, DEFAULT_MODEL } from '../search/setup.js';
/** Exit code of `galvatron plan` when no plan fits (0 ok, 1 bug, 2 bad input). */
export const EXIT_NOTHING_FITS = 3;

const PARTITIONS = ['exact', 'even', 'memory', 'time', 'bmw'] as const satisfies readonly PartitionMode[];
const REPLICATED_DP_TYPES = ['ddp', 'zero1', 'zero2'] as const satisfies readonly ReplicatedDpType[];
const SP_MODES = ['off', 'on', 'both'] as const satisfies readonly CandidateRules['sequenceParallel'][];
const ADJACENCY = ['tp-first', 'both'] as const satisfies readonly CandidateRules['tpAdjacency'][];

/** The flags shared by `plan` and `baselines`. */
export interface SearchFlags {
  model: string;
  cluster: string;
  gpus?: number;
  memoryGib?: number;
  memoryReserveGib?: number;
  memoryMargin?: number;
  globalBatch: number | 'auto';
  seq?: number;
  precision?: Precision;
  attention?: AttentionKernel;
  fp32Grads?: boolean;
  tpOverlap?: boolean;
  /** --profile files, combined. */
  profile?: string[];
  /** --calibration file: constants over the defaults. */
  calibration?: string;
  maxTp?: number;
  maxPp?: number;
  maxCp?: number;
  dpTypes?: ReplicatedDpType[];
  /** False with --no-sdp. */
  sdp: boolean;
  recompute?: RecomputeKind[];
  sp?: CandidateRules['sequenceParallel'];
  tpAdjacency?: CandidateRules['tpAdjacency'];
  galvatronV1?: boolean;
  maxVpp: number;
  partition: PartitionMode;
  frontierLimit?: number;
  exact?: boolean;
  /** Worker threads for the search (1: in this thread). */
  workers: number;
  json?: boolean;
}


/** --workers: a positive whole number, or "auto" for one per core (at most 8). */
function workerCount(value: string): number {
  if (value.trim().toLowerCase() === 'auto') return Math.min(8, availableParallelism());
  return positiveInt('--workers')(value);
}

/** A positive whole number or the word "auto". */
function batchOrAuto(flag: string): Parser<number | 'auto'> {
  const whole = positiveInt(flag);
  return (value) => {
    if (value.trim().toLowerCase() === 'auto') return 'auto';
    try {
      return whole(value);
    } catch {
      throw new UserInputError(flag, `must be a positive whole number or "auto", got "${value}"`);
    }
  };
}

/** A comma-separated list of words from a fixed set (duplicates dropped, order kept). */
function listOf<const T extends string>(flag: string, choices: readonly T[], hint = ''): Parser<T[]> {
  return (value) => {
    const words = value.split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
    const bad = words.find((w) => !choices.includes(w as T));
    if (words.length === 0 || bad !== undefined) {
      const got = bad === undefined ? `"${value}"` : `"${bad}"`;
      throw new UserInputError(flag, `must be a comma-separated list of ${choices.join(', ')}, got ${got}${hint}`);
    }
    return [...new Set(words as T[])];
  };
}

const shownLimit = (n: number) => (Number.isFinite(n) ? String(n) : 'no limit');

/** Adds the model, cluster, batch, software and search-space flags (help lines from RULE_HELP). */
export function addSearchOptions(command: Command): Command {
  const d = defaultRules();
  const v1 = '--galvatron-v1';
  command
    .option('--model <preset|file>', 'model preset id (`galvatron models`) or a ModelSpec / HuggingFace config.json file', nonEmpty('--model'), DEFAULT_MODEL)
    .option('--cluster <preset|file>', 'cluster preset id (`galvatron clusters`) or a ClusterSpec JSON file', nonEmpty('--cluster'), DEFAULT_CLUSTER)
    .option('--gpus <n>', "total GPUs, in nodes of the cluster's size (default: the cluster's own, 8 for the presets)", positiveInt('--gpus'));
  return addMemoryOptions(command)
    .option(
      '--global-batch <n|auto>',
      'samples per iteration; "auto" searches gpus·2^j and keeps the batch with the most samples/s',
      batchOrAuto('--global-batch'),
      DEFAULT_GLOBAL_BATCH,
    )
    .option('--seq <tokens>', "sequence length (default: the model's own)", positiveInt('--seq'))
    .option('--precision <p>', `${PRECISIONS.join('|')} (default: bf16, or fp16 on GPUs without bf16 such as V100)`, oneOf('--precision', PRECISIONS))
    .option('--attention <kernel>', `${ATTENTION_KERNELS.join('|')} (default: flash for bf16 on Ampere and newer, else unfused)`, oneOf('--attention', ATTENTION_KERNELS))
    .option('--fp32-grads', 'keep fp32 main gradients (Megatron --accumulate-allreduce-grads-in-fp32)')
    .option('--tp-overlap', 'overlap forward TP collectives with GEMMs (Megatron-Core --tp-comm-overlap)')
    .option('--profile <file>', PROFILE_HELP, fileList('--profile'))
    .option('--calibration <file>', CALIBRATION_HELP, nonEmpty('--calibration'))
    .option('--max-tp <t>', `${RULE_HELP.maxTp} (default: ${shownLimit(d.maxTp)}; ${v1}: no limit)`, positiveInt('--max-tp'))
    .option('--max-pp <p>', `${RULE_HELP.maxPp} (default: ${shownLimit(d.maxPp)})`, positiveInt('--max-pp'))
    .option('--max-cp <c>', `${RULE_HELP.maxCp} (default: ${d.maxCp})`, positiveInt('--max-cp'))
    .option(
      '--dp-types <list>',
      `${RULE_HELP.dpTypes}, comma-separated (default: ${d.dpTypes.join(',')}; ${v1}: ddp)`,
      listOf('--dp-types', REPLICATED_DP_TYPES, ' (ZeRO-3 is the sdp paradigm: on unless --no-sdp)'),
    )
    .option('--no-sdp', `leave ZeRO-3 (sdp) out of the ${RULE_HELP.paradigms}`)
    .option('--recompute <list>', `${RULE_HELP.recompute}, comma-separated (default: ${d.recompute.join(',')}; ${v1}: none)`, listOf('--recompute', RECOMPUTE_KINDS))
    .option('--sp <mode>', `${RULE_HELP.sequenceParallel} (default: ${d.sequenceParallel}; ${v1}: off)`, oneOf('--sp', SP_MODES))
    .option('--tp-adjacency <mode>', `${RULE_HELP.tpAdjacency} (default: ${d.tpAdjacency})`, oneOf('--tp-adjacency', ADJACENCY))
    .option(v1, "Galvatron's original space: TP, DP, ZeRO-3, both adjacency orders; no CP, ZeRO-1/2, recompute or SP (other flags still apply on top)")
    .option('--max-vpp <v>', `largest number of interleaved 1F1B model chunks per GPU, where PP > 1 (default ${DEFAULT_MAX_VPP}; 1 = no interleaving)`, positiveInt('--max-vpp'), DEFAULT_MAX_VPP)
    .option('--partition <mode>', `layers into pipeline stages: ${PARTITIONS.join('|')} (exact = searched; the others are heuristics)`, oneOf('--partition', PARTITIONS), 'exact')
    .option('--frontier-limit <n>', 'largest stage frontier kept; beyond it the search thins and the plan is not proven optimal', positiveInt('--frontier-limit'), DEFAULT_FRONTIER_LIMIT)
    .addOption(new Option('--exact', 'no frontier limit: the plan is proven optimal on the cost model (slower)').conflicts('frontierLimit'))
    .option('--workers <n|auto>', 'worker threads solving search tasks in parallel; same plan as 1 (auto: one per core, at most 8)', workerCount, 1);
}

/** The candidate rules: the default (or Galvatron v1) space with every pruning flag given applied on top. */
export function rulesFrom(flags: SearchFlags): CandidateRules {
  const rules = flags.galvatronV1 ? galvatronV1Rules() : defaultRules();
  if (flags.maxTp !== undefined) rules.maxTp = flags.maxTp;
  if (flags.maxPp !== undefined) rules.maxPp = flags.maxPp;
  if (flags.maxCp !== undefined) {
    rules.maxCp = flags.maxCp;
    if (flags.maxCp > 1 && !rules.paradigms.includes('cp')) rules.paradigms = [...rules.paradigms, 'cp'];
  }
  if (flags.dpTypes !== undefined) {
    rules.dpTypes = flags.dpTypes;
    if (!rules.paradigms.includes('dp')) rules.paradigms = [...rules.paradigms, 'dp'];
  }
  if (!flags.sdp) rules.paradigms = rules.paradigms.filter((p) => p !== 'sdp');
  if (flags.recompute !== undefined) rules.recompute = flags.recompute;
  if (flags.sp !== undefined) rules.sequenceParallel = flags.sp;
  if (flags.tpAdjacency !== undefined) rules.tpAdjacency = flags.tpAdjacency;
  return rules;
}

/** The search as the flags set it up (src/search/setup.ts). */
export type PreparedSearch = SearchSetup;

export function prepareSearch(flags: SearchFlags): PreparedSearch {
  const model = loadModel(flags.model, flags.seq === undefined ? {} : { seqLen: flags.seq });
  const nodeCluster = loadCluster(flags.cluster);
  const cluster = flags.gpus === undefined ? nodeCluster : scaleCluster(nodeCluster, flags.gpus);
  const rules = rulesFrom(flags);
  const memory = memoryBudget(flags, cluster, flags.calibration === undefined ? undefined : loadCalibrationFile(flags.calibration));
  const options = searchOptionsFor({
    rules,
    maxVirtualStages: flags.maxVpp,
    partition: flags.partition,
    frontierLimit: flags.exact ? undefined : flags.frontierLimit ?? DEFAULT_FRONTIER_LIMIT,
    precision: flags.precision,
    attention: flags.attention,
    fp32MainGrads: flags.fp32Grads,
    tpOverlap: flags.tpOverlap,
    memory,
    command: commandLine(process.argv.slice(2)),
    profile: flags.profile === undefined ? undefined : loadProfiles(flags.profile, model, nodeCluster.gpusPerNode),
  });
  return { model, cluster, nodeCluster, rules, options, workers: flags.workers ?? 1, memory };
}

export interface SearchOutcome {
  globalBatch: number;
  result: SearchResult;
  autoBatch?: AutoBatchResult;
  summary: SearchSummary;
}

/** Runs the search (or the auto-batch walk), drawing progress on a terminal's stderr. */
export async function runSearch(prepared: PreparedSearch, globalBatch: number | 'auto', progress: Progress): Promise<SearchOutcome> {
  const { model, cluster, options, workers } = prepared;
  const started = performance.now();
  const summaryOf = (result: SearchResult, tasks: number): SearchSummary => ({
    exact: result.exact,
    tasks,
    elapsedMs: performance.now() - started,
    frontierLimit: options.frontierLimit,
    partition: options.partition ?? 'exact',
    uniform: result.uniform,
  });
  if (globalBatch === 'auto') {
    const autoBatch = autoGlobalBatch(model, cluster, {
      ...options,
      onProgress: (batch, done, total) => progress.update(done, total, `global batch ${batch}`),
    });
    progress.clear();
    const tasks = autoBatch.trials.reduce((sum, t) => sum + t.search.tasks, 0);
    const chosen = autoBatch.chosen ?? autoBatch.trials[0]!;
    return { globalBatch: chosen.globalBatch, result: chosen.search, autoBatch, summary: summaryOf(chosen.search, tasks) };
  }
  const searchOptions = { ...options, globalBatch, onProgress: (done: number, total: number) => progress.update(done, total, 'searching') };
  const result = workers > 1 ? await searchPlanParallel(model, cluster, searchOptions, workers) : searchPlan(model, cluster, searchOptions);
  progress.clear();
  return { globalBatch, result, summary: summaryOf(result, result.tasks) };
}

export { baselinesFor } from '../search/setup.js';

/**
 * The one line printed when no plan fits: the memory per GPU and the GPU count that would do, both from
 * coarse probes (src/search/infeasible.ts), so upper bounds.
 */
export function nothingFitsLine(prepared: PreparedSearch, globalBatch: number, progress: Progress): string {
  const { model, cluster, nodeCluster, options } = prepared;
  const gpus = totalGpus(cluster);
  // The memory the user planned against (--memory-gib or the GPU's), before the margin is taken off.
  const budget = prepared.memory.requestedGiB;
  let probes = 0;
  const status = () => progress.status(`no plan fits; looking for the memory or GPUs that would (${probes} probes)`);
  const probeOptions = { ...options, globalBatch, onProbe: () => (probes++, status()) };
  status();
  const memory = smallestFittingMemoryGiB(model, cluster, probeOptions);
  const more = smallestFittingGpus(model, cluster, probeOptions, nodeCluster);
  progress.clear();
  const budgetText = Number.isInteger(budget) ? num(budget) : num(budget, 1);
  const head = `no plan fits ${gpus} × ${budgetText} GiB (${num(prepared.memory.margin * 100)} % kept free, ${num(prepared.memory.reserveGiB, 1)} GiB runtime reserve)`;
  const gpusText = more ? `${num(more.gpus)} GPUs` : undefined;
  if (memory) {
    // The probe's memory is a budget; a GPU needs it before the margin is taken off.
    const deviceGiB = memory.memoryGiB / (1 - prepared.memory.margin);
    const needs = `the smallest that fits needs ${num(Math.ceil(deviceGiB * 10) / 10, 1)} GiB per GPU`;
    return `${head}; ${needs} (${gpusText ? `or ${gpusText}` : `no count up to ${num(gpus * MAX_GPU_FACTOR)} GPUs fits ${budgetText} GiB`})`;
  }
  if (gpusText) return `${head}; more memory per GPU does not help, but ${gpusText} would fit`;
  return `${head}, nor with more memory per GPU or up to ${num(gpus * MAX_GPU_FACTOR)} GPUs; check --global-batch and the pruning flags`;
}

