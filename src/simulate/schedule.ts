// The order in which one pipeline stage runs its forward and backward passes, per schedule: GPipe (all
// forwards, then all backwards), 1F1B (warm-up, steady one-forward-one-backward, cool-down) and Megatron's
// interleaved 1F1B over v chunks. The same orders as the executor (python/galvatron_runtime/pipeline.py).
import type { Schedule } from '../cost/types.js';

export interface PipelineOp {
  kind: 'F' | 'B';
  /** Chunk on this stage (0 … v−1): virtual stage chunk·pp + stage. */
  chunk: number;
  microBatch: number;
}

export function stageSchedule(schedule: Schedule, pp: number, virtualStages: number, microBatches: number, stage: number): PipelineOp[] {
  const m = microBatches;
  const v = schedule === 'interleaved-1f1b' ? virtualStages : 1;
  const op = (kind: 'F' | 'B', chunk: number, microBatch: number): PipelineOp => ({ kind, chunk, microBatch });
  if (v === 1) {
    if (schedule === 'gpipe') return [...Array.from({ length: m }, (_, k) => op('F', 0, k)), ...Array.from({ length: m }, (_, k) => op('B', 0, k))];
    const warm = Math.min(pp - stage - 1, m);
    const ops = Array.from({ length: warm }, (_, k) => op('F', 0, k));
    for (let i = 0; i < m - warm; i++) ops.push(op('F', 0, warm + i), op('B', 0, i));
    for (let k = m - warm; k < m; k++) ops.push(op('B', 0, k));
    return ops;
  }
  // Megatron-LM's interleaved 1F1B: micro-batches in groups of pp, each group through every chunk in turn.
  const total = m * v;
  const unit = (i: number, forward: boolean): [number, number] => {
    const inGroup = i % (pp * v);
    const chunk = Math.floor(inGroup / pp);
    return [forward ? chunk : v - chunk - 1, Math.floor(i / (pp * v)) * pp + (inGroup % pp)];
  };
  const warm = m === pp ? total : Math.min((pp - stage - 1) * 2 + (v - 1) * pp, total);
  const ops: PipelineOp[] = [];
  for (let i = 0; i < warm; i++) ops.push(op('F', ...unit(i, true)));
  for (let i = 0; i < total - warm; i++) ops.push(op('F', ...unit(warm + i, true)), op('B', ...unit(i, false)));
  for (let i = total - warm; i < total; i++) ops.push(op('B', ...unit(i, false)));
  return ops;
}
