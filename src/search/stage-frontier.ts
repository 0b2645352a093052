// Exact stage DP: the Pareto frontier of per-layer strategy choices over a range of layers.
//
// State: the prefix of layers and the activation layout of its last layer (re-distribution cost depends
// only on the two layouts). Each state keeps every non-dominated (time, sync, optimizer, memory) vector,
// so one frontier answers every memory budget and every pipeline context exactly.
import type { LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import type { LayerOptionTable } from './layer-options.js';
import { addVectors, paretoFilter, paretoIndices, peakMemoryBytes, vectorColumns, ZERO_VECTOR, type FrontierPoint, type StageVector } from './stage-vector.js';

/** Per-layer choices as a linked list (shared tails keep frontiers cheap). */
export interface ChoiceChain {
  /** Index into the candidate list, for the last layer of the chain. */
  strategy: number;
  previous: ChoiceChain | undefined;
}

export function chainToArray(chain: ChoiceChain | undefined): number[] {
  const out: number[] = [];
  for (let c = chain; c; c = c.previous) out.push(c.strategy);
  return out.reverse();
}

export interface Candidate {
  strategy: LayerStrategy;
  key: string;
  /** Candidates with the same layout need no re-distribution between them. */
  layoutKey: string;
}

export function candidateOf(strategy: LayerStrategy): Candidate {
  const layoutKey = `t${strategy.tp}${strategy.tp > 1 && strategy.sequenceParallel ? 's' : ''}c${strategy.cp}d${strategy.dp}${strategy.tpConsecutive ? '' : 'x'}`;
  return { strategy, key: `${layoutKey}:${strategy.dpType}:${strategy.recompute}`, layoutKey };
}

export interface RangeContext {
  table: LayerOptionTable;
  candidates: Candidate[];
  inFlight: number;
  fragmentation: number;
  /** Points whose memory exceeds this can never fit: dropped early. */
  memoryCapBytes: number;
  /** Point-to-point cost of the stage, charged to the first layer's strategy (undefined: none). */
  firstLayerExtra?: (strategy: LayerStrategy) => { forwardS: number; backwardS: number };
  /** Cost charged to the strategy of the last layer of `layers` (the re-distribution into the head). */
  lastLayerExtra?: (strategy: LayerStrategy) => { forwardS: number; backwardS: number };
  /** Largest frontier kept per state; beyond it points are thinned and the result is no longer exact. */
  frontierLimit?: number;
  /** Set to true when a frontier had to be thinned. */
  thinned?: { value: boolean };
  /**
   * True when a prefix ending at layer j (0-based in the range) with these sums cannot lead to a plan
   * that beats the incumbent; such points are dropped (exact: extensions only add time and memory).
   */
  hopeless?: (layer: number, v: StageVector) => boolean;
}

/**
 * Thins a frontier to `limit` points spread evenly over memory, keeping the least-memory and the fastest
 * point. Only used when a limit is set; the search then reports its result as not proven optimal.
 */
export function thinFrontier<T>(points: FrontierPoint<T>[], limit: number): FrontierPoint<T>[] {
  if (points.length <= limit) return points;
  const byMemory = [...points].sort((a, b) => peakMemoryBytes(a.vector) - peakMemoryBytes(b.vector) || a.vector.busyS - b.vector.busyS);
  const fastest = points.reduce((a, b) => (b.vector.busyS + b.vector.tailS < a.vector.busyS + a.vector.tailS ? b : a));
  const keep = new Set<FrontierPoint<T>>([fastest]);
  for (let j = 0; keep.size < limit && j < limit; j++) keep.add(byMemory[Math.round((j * (byMemory.length - 1)) / Math.max(1, limit - 1))]!);
  return points.filter((p) => keep.has(p));
}

export type StagePoint = FrontierPoint<ChoiceChain>;

function withExtraTime(v: StageVector, forwardS: number, backwardS: number): StageVector {
  return forwardS === 0 && backwardS === 0 ? v : { ...v, busyS: v.busyS + forwardS + backwardS };
}

/**
 * The Pareto frontier of every predecessor extended by every candidate of one layout (its layer vector
 * added), without the points `fits` rejects: what paretoFilter over all those points returns, in the same
 * order, but built on flat columns so that only the survivors become objects.
 */
function extendFrontier(
  predecessors: StagePoint[],
  group: { i: number }[],
  layerVectors: StageVector[],
  fits: (v: StageVector) => boolean,
): StagePoint[] {
  const capacity = group.length * predecessors.length;
  const columns = vectorColumns(capacity);
  const rowPredecessor = new Int32Array(capacity);
  const rowCandidate = new Int32Array(capacity);
  const probe: StageVector = { busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 };
  let n = 0;
  for (let g = 0; g < group.length; g++) {
    const i = group[g]!.i;
    const add = layerVectors[g]!;
    for (let q = 0; q < predecessors.length; q++) {
      const prev = predecessors[q]!;
      probe.busyS = prev.vector.busyS + add.busyS;
      probe.tailS = prev.vector.tailS + add.tailS;
      probe.memoryBytes = prev.vector.memoryBytes + add.memoryBytes;
      probe.transientBytes = Math.max(prev.vector.transientBytes, add.transientBytes);
      if (!fits(probe)) continue;
      columns.busy[n] = probe.busyS;
      columns.tail[n] = probe.tailS;
      columns.memory[n] = probe.memoryBytes;
      columns.transient[n] = probe.transientBytes;
      columns.switches[n] = prev.switches + (prev.payload.strategy === i ? 0 : 1);
      rowPredecessor[n] = q;
      rowCandidate[n] = g;
      n++;
    }
  }
  return paretoIndices(columns, n).map((r) => {
    const prev = predecessors[rowPredecessor[r]!]!;
    return {
      vector: { busyS: columns.busy[r]!, tailS: columns.tail[r]!, memoryBytes: columns.memory[r]!, transientBytes: columns.transient[r]! },
      switches: columns.switches[r]!,
      payload: { strategy: group[rowCandidate[r]!]!.i, previous: prev.payload },
    };
  });
}

/** Frontiers of every prefix of `layers` (entry j covers layers[0..j]) from one DP pass. */
export function prefixFrontiers(layers: LayerShape[], ctx: RangeContext): StagePoint[][] {
  return prefixPass(layers, ctx).prefixes;
}

/** The prefix frontiers of a pass, and its per-layout states after its last layer (to continue it). */
export interface PrefixPass {
  prefixes: StagePoint[][];
  states: Map<string, StagePoint[]>;
}

/**
 * One DP pass over `layers`. With `from`, the pass continues an earlier one whose states those are (its
 * first layer is then not a range start: no first-layer extra), and `offset` is the number of layers
 * that earlier pass covered (so `hopeless` sees indices relative to the range start).
 */
export function prefixPass(layers: LayerShape[], ctx: RangeContext, from?: Map<string, StagePoint[]>, offset = 0): PrefixPass {
  const prefixes: StagePoint[][] = [];
  // Thins a Pareto frontier to the limit, if one is set.
  const thin = (kept: StagePoint[]) => {
    if (ctx.frontierLimit === undefined || kept.length <= ctx.frontierLimit) return kept;
    if (ctx.thinned) ctx.thinned.value = true;
    return thinFrontier(kept, ctx.frontierLimit);
  };
  const limit = (points: StagePoint[]) => thin(paretoFilter(points));
  const { table, candidates } = ctx;
  const layouts = [...new Set(candidates.map((c) => c.layoutKey))];
  const byLayout = new Map(layouts.map((k) => [k, candidates.map((c, i) => ({ c, i })).filter((x) => x.c.layoutKey === k)]));
  const layoutStrategy = new Map(layouts.map((k) => [k, byLayout.get(k)![0]!.c.strategy]));
  let layer = offset;
  const hopeless = ctx.hopeless;
  const fitsVector = (v: StageVector) => peakMemoryBytes(v) <= ctx.memoryCapBytes && !(hopeless && hopeless(layer, v));
  const fits = (p: StagePoint) => fitsVector(p.vector);

  let states = new Map<string, StagePoint[]>();
  const first = layers[0];
  if (!first) return { prefixes, states: from ?? states };
  if (from) states = from;
  else for (const layout of layouts) {
    const points: StagePoint[] = [];
    for (const { c, i } of byLayout.get(layout)!) {
      let vector = ctx.table.vector(first, c.strategy, c.key, ctx.inFlight, ctx.fragmentation);
      for (const extraOf of layers.length === 1 ? [ctx.firstLayerExtra, ctx.lastLayerExtra] : [ctx.firstLayerExtra]) {
        if (!extraOf) continue;
        const extra = extraOf(c.strategy);
        vector = withExtraTime(vector, extra.forwardS, extra.backwardS);
      }
      const point = { vector, switches: 0, payload: { strategy: i, previous: undefined } };
      if (fits(point)) points.push(point);
    }
    if (points.length > 0) states.set(layout, limit(points));
  }
  if (!from) prefixes.push(paretoFilter([...states.values()].flat()));

  for (let l = from ? 0 : 1; l < layers.length; l++) {
    const shape = layers[l]!;
    layer = offset + l;
    const next = new Map<string, StagePoint[]>();
    for (const layout of layouts) {
      const toStrategy = layoutStrategy.get(layout)!;
      // Predecessors reaching this layout, with their re-distribution cost: filtered once here, since
      // adding the same layer vector to every point keeps which points dominate which.
      const arriving: StagePoint[] = [];
      for (const [fromLayout, fromPoints] of states) {
        const moveS = fromLayout === layout ? 0 : table.transitionS(layoutStrategy.get(fromLayout)!, toStrategy, shape);
        for (const prev of fromPoints) arriving.push(moveS === 0 ? prev : { ...prev, vector: withExtraTime(prev.vector, moveS, moveS) });
      }
      const predecessors = states.size > 1 ? paretoFilter(arriving) : arriving;
      const lastExtra = l === layers.length - 1 ? ctx.lastLayerExtra : undefined;
      const group = byLayout.get(layout)!;
      const layerVectors = group.map(({ c }) => {
        const vector = table.vector(shape, c.strategy, c.key, ctx.inFlight, ctx.fragmentation);
        if (!lastExtra) return vector;
        const extra = lastExtra(c.strategy);
        return withExtraTime(vector, extra.forwardS, extra.backwardS);
      });
      const points = extendFrontier(predecessors, group, layerVectors, fitsVector);
      if (points.length > 0) next.set(layout, thin(points));
    }
    states = next;
    prefixes.push(paretoFilter([...states.values()].flat()));
  }
  return { prefixes, states };
}

/** Options of combineChunkFrontiers. */
export interface CombineOptions {
  /** Largest combined frontier kept after each chunk; beyond it points are thinned (not exact). */
  frontierLimit?: number;
  /** Set to true when a combined frontier had to be thinned. */
  thinned?: { value: boolean };
  /** True when a combination of the first `combined` chunks cannot lead to a plan that beats the incumbent. */
  hopeless?: (combined: number, v: StageVector) => boolean;
}

/**
 * Frontier of a stage made of several chunks (interleaved): every combination of chunk points, kept
 * Pareto-optimal (and, with a limit, thinned) after each chunk, without those that cannot win.
 */
export function combineChunkFrontiers(chunks: StagePoint[][], memoryCapBytes: number, options: CombineOptions = {}): FrontierPoint<ChoiceChain[]>[] {
  let combined: FrontierPoint<ChoiceChain[]>[] = [{ vector: ZERO_VECTOR, switches: 0, payload: [] }];
  chunks.forEach((chunk, c) => {
    const next: FrontierPoint<ChoiceChain[]>[] = [];
    for (const a of combined) {
      for (const b of chunk) {
        const vector = addVectors(a.vector, b.vector);
        if (peakMemoryBytes(vector) > memoryCapBytes || options.hopeless?.(c + 1, vector)) continue;
        next.push({ vector, switches: a.switches + b.switches, payload: [...a.payload, b.payload] });
      }
    }
    combined = paretoFilter(next);
    if (options.frontierLimit !== undefined && combined.length > options.frontierLimit) {
      if (options.thinned) options.thinned.value = true;
      combined = thinFrontier(combined, options.frontierLimit);
    }
  });
  return combined;
}
