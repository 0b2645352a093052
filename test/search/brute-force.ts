// Exhaustive search for tests: every PP degree, micro-batch count, schedule, virtual stages, embedding
// strategy, partition and per-layer strategy, each priced by pricePlan. Only for tiny instances.
import { pricePlan, type LayerRange, type PlanInput } from '../../src/cost/plan-cost.js';
import type { Schedule } from '../../src/cost/types.js';
import type { ClusterSpec } from '../../src/hardware/spec.js';
import type { ModelSpec } from '../../src/model/spec.js';
import type { LayerStrategy } from '../../src/strategy/layer-strategy.js';
import { evenLayerRanges } from '../../src/cost/uniform-plan.js';
import { searchContext, searchTasks, type SearchOptions } from '../../src/search/search.js';

/** All ways to cut `layers` into `parts` non-empty contiguous ranges. */
export function compositions(layers: number, parts: number): LayerRange[][] {
  if (parts === 1) return [[{ start: 0, end: layers }]];
  const out: LayerRange[][] = [];
  for (let first = 1; first <= layers - parts + 1; first++) {
    for (const rest of compositions(layers - first, parts - 1)) {
      out.push([{ start: 0, end: first }, ...rest.map((r) => ({ start: r.start + first, end: r.end + first }))]);
    }
  }
  return out;
}

export interface BruteForceResult {
  timeS: number;
  plans: number;
  best: PlanInput | undefined;
}

/** The number of plans bruteForce would price (to keep property-test instances small). */
export function bruteForceSize(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions): number {
  const ctx = searchContext(model, cluster, options);
  const L = ctx.layers.length;
  let size = 0;
  for (const task of searchTasks(model, ctx, options)) {
    const partitions = task.virtualStages > 1 || options.partition === 'even' ? 1 : compositions(L, task.degree).length;
    const embeddings = new Set(task.candidates.map((c) => `${c.layoutKey}:${c.strategy.dpType}`)).size;
    size += partitions * embeddings * task.candidates.length ** L;
  }
  return size;
}

export function bruteForce(model: ModelSpec, cluster: ClusterSpec, options: SearchOptions): BruteForceResult {
  const ctx = searchContext(model, cluster, options);
  const L = ctx.layers.length;
  let bestTime = Infinity;
  let best: PlanInput | undefined;
  let plans = 0;
  for (const task of searchTasks(model, ctx, options)) {
    const v = task.virtualStages;
    // Interleaved chunks, and the even-partition search (Galvatron's baseline), cut the layers evenly.
    const partitions = v > 1 ? [evenLayerRanges(L, task.degree * v)] : options.partition === 'even' ? [evenLayerRanges(L, task.degree)] : compositions(L, task.degree);
    const embeddingSeen = new Set<string>();
    const embeddings: LayerStrategy[] = [];
    for (const c of task.candidates) {
      const key = `${c.layoutKey}:${c.strategy.dpType}`;
      if (embeddingSeen.has(key)) continue;
      embeddingSeen.add(key);
      embeddings.push({ ...c.strategy, recompute: 'none' });
    }
    const K = task.candidates.length;
    const assignment = new Array<number>(L).fill(0);
    const total = K ** L;
    for (let code = 0; code < total; code++) {
      let rest = code;
      for (let l = 0; l < L; l++) {
        assignment[l] = rest % K;
        rest = Math.floor(rest / K);
      }
      const strategies = assignment.map((i) => task.candidates[i]!.strategy);
      for (const chunks of partitions) {
        for (const embeddingStrategy of embeddings) {
          const input: PlanInput = {
            layers: ctx.layers,
            strategies,
            embedding: ctx.embedding,
            embeddingStrategy,
            tiedEmbeddings: ctx.tiedEmbeddings,
            rope: ctx.rope,
            setup: { ...ctx.setupBase, globalBatch: ctx.globalBatch, microBatches: task.microBatches },
            pipeline: { degree: task.degree, schedule: task.schedule as Schedule, virtualStages: v, chunks },
            cluster: ctx.cluster,
            constants: ctx.constants,
          };
          const cost = pricePlan(input);
          plans++;
          if (cost.fits && cost.iterationTimeS < bestTime) {
            bestTime = cost.iterationTimeS;
            best = input;
          }
        }
      }
    }
  }
  return { timeS: bestTime, plans, best };
}
