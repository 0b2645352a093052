// Worker thread of the parallel search: solves one task at a time with the same code as the sequential search.
import { parentPort } from 'node:worker_threads';
import type { PartitionMode } from './balanced-partitions.js';
import type { PipelineTask, SearchContext } from './pipeline-task.js';
import { solveWithMode } from './search.js';

export interface WorkerRequest {
  id: number;
  ctx: SearchContext;
  task: PipelineTask;
  mode: PartitionMode;
  incumbentS: number;
}

parentPort?.on('message', (request: WorkerRequest) => {
  const ctx: SearchContext = { ...request.ctx, thinned: { value: false } };
  const result = solveWithMode(ctx, request.task, request.mode, request.incumbentS);
  parentPort!.postMessage({ id: request.id, result, thinned: ctx.thinned.value });
});
