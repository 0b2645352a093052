// `--global-batch auto` (DESIGN.md §5, outer loops): the global batch with the most samples/s.
//
// Batches b = gpus·2^j (j = 0, 1, …) are searched in turn, up to 64 samples per GPU and 4096 samples
// in all (the first batch is always tried). A larger batch amortises the pipeline bubble and the
// gradient sync, so throughput rises and then levels off; the walk stops once two batches in a row
// fail to improve on the best so far by at least 2 % (or do not fit). The answer is the batch with the
// most samples/s among those whose plan fits, so a late gain under 2 % is still taken.
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import type { ModelSpec } from '../model/spec.js';
import { searchPlan, type SearchOptions, type SearchResult } from './search.js';

export interface AutoBatchLimits {
  /** Largest batch per GPU tried (default 64). */
  maxSamplesPerGpu?: number;
  /** Largest global batch tried (default 4096). */
  maxGlobalBatch?: number;
  /** Relative gain in samples/s that counts as an improvement (default 0.02). */
  minGain?: number;
  /** Batches in a row without such a gain before the walk stops (default 2). */
  patience?: number;
}

export interface AutoBatchTrial {
  globalBatch: number;
  /** The search at this batch (its best plan, if any fits). */
  search: SearchResult;
  /** Samples/s of the plan found, undefined when nothing fits. */
  samplesPerS: number | undefined;
  /** Relative gain over the best of the batches before it (undefined for the first fit or no fit). */
  gain: number | undefined;
}

export type AutoBatchStop = 'stalled' | 'limit';

export interface AutoBatchResult {
  /** The batch with the most samples/s among those that fit; undefined when none fits. */
  globalBatch: number | undefined;
  /** That batch's trial. */
  chosen: AutoBatchTrial | undefined;
  /** Every batch searched, in order. */
  trials: AutoBatchTrial[];
  /** Why the walk ended: throughput stopped improving, or the batch limit was reached. */
  stop: AutoBatchStop;
  /** The largest batch the limits allow. */
  limit: number;
  /** One sentence for people: which batch and why. */
  reason: string;
}

export type AutoBatchSearch = (model: ModelSpec, cluster: ClusterSpec, options: SearchOptions) => SearchResult;

export interface AutoBatchOptions extends Omit<SearchOptions, 'globalBatch' | 'onProgress'> {
  /** Progress of the search at one batch. */
  onProgress?: (globalBatch: number, done: number, total: number) => void;
  /** Called after each batch is searched. */
  onTrial?: (trial: AutoBatchTrial) => void;
}

const percentText = (fraction: number) => `${(fraction * 100).toFixed(1)} %`;

/** The batches the walk may try, in order: gpus·2^j within the limits (at least the first). */
export function autoBatchCandidates(gpus: number, limits: AutoBatchLimits = {}): number[] {
  const limit = Math.max(gpus, Math.min(gpus * (limits.maxSamplesPerGpu ?? 64), limits.maxGlobalBatch ?? 4096));
  const out: number[] = [];
  for (let b = gpus; b <= limit; b *= 2) out.push(b);
  return out;
}

/**
 * Searches batches gpus·2^j in turn and returns the one with the most samples/s (see the top of this
 * file). `search` is searchPlan unless a test substitutes it.
 */
export function autoGlobalBatch(
  model: ModelSpec,
  cluster: ClusterSpec,
  options: AutoBatchOptions,
  limits: AutoBatchLimits = {},
  search: AutoBatchSearch = searchPlan,
): AutoBatchResult {
  const minGain = limits.minGain ?? 0.02;
  const patience = limits.patience ?? 2;
  const batches = autoBatchCandidates(totalGpus(cluster), limits);
  const limit = batches[batches.length - 1]!;
  const { onProgress, onTrial, ...searchOptions } = options;
  const trials: AutoBatchTrial[] = [];
  let chosen: AutoBatchTrial | undefined;
  let stalls = 0;
  let stop: AutoBatchStop = 'limit';
  for (const globalBatch of batches) {
    const result = search(model, cluster, {
      ...searchOptions,
      globalBatch,
      ...(onProgress ? { onProgress: (done: number, total: number) => onProgress(globalBatch, done, total) } : {}),
    });
    const samplesPerS = result.best?.cost.fits ? result.best.cost.samplesPerS : undefined;
    const previous = chosen?.samplesPerS;
    const gain = samplesPerS !== undefined && previous !== undefined ? samplesPerS / previous - 1 : undefined;
    const trial: AutoBatchTrial = { globalBatch, search: result, samplesPerS, gain };
    trials.push(trial);
    onTrial?.(trial);
    const improved = samplesPerS !== undefined && (previous === undefined || samplesPerS >= previous * (1 + minGain));
    // Strictly better counts for the answer even when the gain is too small to go on for.
    if (samplesPerS !== undefined && (previous === undefined || samplesPerS > previous)) chosen = trial;
    stalls = improved ? 0 : stalls + 1;
    if (stalls >= patience && globalBatch < limit) {
      stop = 'stalled';
      break;
    }
  }
  return { globalBatch: chosen?.globalBatch, chosen, trials, stop, limit, reason: reasonText(chosen, trials, stop, limit, minGain, patience, limits) };
}

function reasonText(
  chosen: AutoBatchTrial | undefined,
  trials: AutoBatchTrial[],
  stop: AutoBatchStop,
  limit: number,
  minGain: number,
  patience: number,
  limits: AutoBatchLimits,
): string {
  const tried = trials.map((t) => t.globalBatch).join(', ');
  if (!chosen) return `no plan fits at any global batch tried (${tried})`;
  const head = `global batch ${chosen.globalBatch} has the most samples/s of the batches tried (${tried})`;
  if (stop === 'limit') return `${head}; stopped at the limit of ${limit} (${limits.maxSamplesPerGpu ?? 64} samples per GPU, ${limits.maxGlobalBatch ?? 4096} in all)`;
  const last = trials.slice(-patience);
  const gains = last.map((t) => (t.samplesPerS === undefined ? `${t.globalBatch} does not fit` : `${t.globalBatch} ${t.gain !== undefined && t.gain >= 0 ? '+' : ''}${percentText(t.gain ?? 0)}`));
  return `${head}; stopped because ${patience} larger batches in a row gained less than ${percentText(minGain)} (${gains.join(', ')})`;
}
