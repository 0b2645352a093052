// The search on a worker_threads pool: tasks go out in the sequential search's order with the best time so
// far as their incumbent, and the result is the one the sequential search returns (ties included).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ClusterSpec } from '../hardware/spec.js';
import type { ModelSpec } from '../model/spec.js';
import type { TaskResult } from './pipeline-task.js';
import { finishSearch, initialIncumbent, prepareSearch, type SearchOptions, type SearchResult } from './search.js';
import type { WorkerRequest } from './search-worker.js';

/** Incumbents sent to workers are widened by this much so equal-time plans of earlier tasks still come back. */
const TIE_SLACK = 1e-9;

export async function searchPlanParallel(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions, workers = availableParallelism()): Promise<SearchResult> {
  const prepared = prepareSearch(model, cluster, options);
  const { ctx, tasks, bounds, order } = prepared;
  const mode = options.partition ?? 'exact';
  // The sequential search keeps the first plan (in `order`) among equal times: compare by (time, position).
  const seed = initialIncumbent(options, prepared);
  let best: { result: TaskResult; position: number } | undefined = seed ? { result: seed, position: -1 } : undefined;
  let improvements = 0;
  let done = 0;
  const thinnedBounds: number[] = [];
  const pool = Array.from({ length: Math.max(1, Math.min(workers, tasks.length)) }, () => new Worker(new URL('./search-worker.js', import.meta.url)));
  try {
    let next = 0;
    await Promise.all(
      pool.map(async (worker) => {
        for (;;) {
          const position = next++;
          if (position >= order.length) return;
          const taskIndex = order[position]!;
          const incumbentS = best ? best.result.timeS * (1 + TIE_SLACK) : Infinity;
          if (bounds[taskIndex]! < incumbentS) {
            const request: WorkerRequest = { id: taskIndex, ctx, task: tasks[taskIndex]!, mode, incumbentS };
            const reply = await new Promise<{ result: TaskResult | undefined; thinned: boolean }>((resolve, reject) => {
              worker.once('message', resolve);
              worker.once('error', reject);
              worker.postMessage(request);
            });
            worker.removeAllListeners('error');
            if (reply.thinned) thinnedBounds.push(bounds[taskIndex]!);
            const result = reply.result;
            if (result && result.cost.fits) {
              improvements++;
              if (!best || result.timeS < best.result.timeS || (result.timeS === best.result.timeS && position < best.position)) best = { result, position };
            }
          }
          options.onProgress?.(++done, tasks.length);
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return finishSearch(prepared, seed, best?.result, improvements, thinnedBounds);
}
