// Heuristic partitions of layers into pipeline stages: even, memory-balanced, time-balanced, and
// Galvatron-BMW's bi-objective balancing. The exact partition search needs none of them; they exist to
// reproduce the papers' methods and to compare against.
import { inFlightMicroBatches } from '../cost/pipeline.js';
import type { LayerRange } from '../cost/plan-cost.js';
import { fastestBusyS, optionTable, solveTask, type PipelineTask, type SearchContext, type TaskResult } from './pipeline-task.js';
import { evenLayerRanges } from '../cost/uniform-plan.js';

export type PartitionMode = 'exact' | 'even' | 'memory' | 'time' | 'bmw';

/**
 * Contiguous ranges minimising the largest stage weight, where stage i's weight of layers [a, b) is
 * weight(i, a, b): an exact min-max DP (O(p·L²)), ties to the earliest boundary.
 */
export function minMaxPartition(layers: number, stages: number, weight: (stage: number, start: number, end: number) => number): LayerRange[] {
  const best: number[][] = Array.from({ length: stages + 1 }, () => new Array<number>(layers + 1).fill(Infinity));
  const cut: number[][] = Array.from({ length: stages + 1 }, () => new Array<number>(layers + 1).fill(-1));
  best[0]![0] = 0;
  for (let i = 0; i < stages; i++) {
    for (let end = i + 1; end <= layers - (stages - 1 - i); end++) {
      for (let start = i; start < end; start++) {
        const value = Math.max(best[i]![start]!, weight(i, start, end));
        if (value < best[i + 1]![end]!) {
          best[i + 1]![end] = value;
          cut[i + 1]![end] = start;
        }
      }
    }
  }
  const ranges: LayerRange[] = [];
  let end = layers;
  for (let i = stages; i > 0; i--) {
    const start = cut[i]![end]!;
    ranges.unshift({ start, end });
    end = start;
  }
  return ranges;
}

/** Per-layer weights under the cheapest strategy for the quantity balanced. */
function layerWeights(ctx: SearchContext, task: PipelineTask) {
  const table = optionTable(ctx, task);
  const p = task.degree;
  const fragmentation = ctx.constants.activationFragmentation;
  const time = fastestBusyS(table, ctx.layers, task.candidates);
  // Memory depends on the stage through its in-flight micro-batches.
  const memory = (stage: number, layer: number) => {
    const k = inFlightMicroBatches(stage, p, task.microBatches, task.schedule, 1);
    return Math.min(...task.candidates.map((c) => {
      const o = table.option(ctx.layers[layer]!, c.strategy, c.key);
      return o.modelStateBytes + o.activationBytes * k * fragmentation + o.transientBytes;
    }));
  };
  const ends = (stage: number, kind: 'time' | 'memory') => {
    const values = task.candidates.map((c) => {
      const k = inFlightMicroBatches(stage, p, task.microBatches, task.schedule, 1);
      const v = table.endsVector(ctx.embedding, c.strategy, stage === 0, stage === p - 1, ctx.tiedEmbeddings && p > 1, k, fragmentation);
      return kind === 'time' ? v.busyS : v.memoryBytes + v.transientBytes;
    });
    return Math.min(...values);
  };
  return { time, memory, ends };
}

export function balancedPartition(mode: Exclude<PartitionMode, 'exact' | 'bmw'> | 'bmw', ctx: SearchContext, task: PipelineTask): LayerRange[] {
  const L = ctx.layers.length;
  const p = task.degree;
  if (mode === 'even') return evenLayerRanges(L, p);
  const w = layerWeights(ctx, task);
  if (mode === 'time') {
    const prefix = [0];
    for (const t of w.time) prefix.push(prefix[prefix.length - 1]! + t);
    return minMaxPartition(L, p, (i, a, b) => prefix[b]! - prefix[a]! + w.ends(i, 'time'));
  }
  // Memory-balanced (also BMW's starting point).
  return minMaxPartition(L, p, (i, a, b) => {
    let total = w.ends(i, 'memory');
    for (let l = a; l < b; l++) total += w.memory(i, l);
    return total;
  });
}

/**
 * Galvatron-BMW: start from the memory-balanced partition and move single boundary layers from the
 * busiest stage toward its neighbours while the predicted iteration time improves and every stage
 * still fits (the stage DP re-run for each try); keep the best.
 */
export function bmwSolve(ctx: SearchContext, task: PipelineTask, incumbentS: number): TaskResult | undefined {
  let ranges = balancedPartition('memory', ctx, task);
  let best = solveTask(ctx, { ...task, fixedPartition: ranges }, Infinity);
  if (!best) return undefined;
  for (let step = 0; step < ctx.layers.length * task.degree; step++) {
    const busy = best.cost.stages.map((s) => s.forwardS + s.backwardS);
    const slowest = busy.indexOf(Math.max(...busy));
    const tries: LayerRange[][] = [];
    for (const neighbour of [slowest - 1, slowest + 1]) {
      if (neighbour < 0 || neighbour >= ranges.length) continue;
      const moved = ranges.map((r) => ({ ...r }));
      const from = moved[slowest]!;
      if (from.end - from.start <= 1) continue;
      // Give the neighbour the layer on the shared boundary.
      if (neighbour < slowest) {
        from.start += 1;
        moved[neighbour]!.end += 1;
      } else {
        from.end -= 1;
        moved[neighbour]!.start -= 1;
      }
      tries.push(moved);
    }
    let improved = false;
    for (const candidate of tries) {
      const result = solveTask(ctx, { ...task, fixedPartition: candidate }, best.timeS);
      if (result && result.cost.fits && result.timeS < best.timeS) {
        best = result;
        ranges = candidate;
        improved = true;
      }
    }
    if (!improved) break;
  }
  return best.timeS < incumbentS ? best : undefined;
}
