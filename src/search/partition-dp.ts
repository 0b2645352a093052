// Exact combination of stages into a pipeline: which layers each stage takes and which frontier point
// it runs, minimising pricePlan's iteration time m·max C + (Σ C − max C)/v + max_i tail_i.
//
// After stages 0..i−1 the future only depends on (max C, Σ C, max tail), and the time is non-decreasing
// in each: a prefix no worse in all three can never end slower, so keeping the non-dominated ones is exact.
import type { FrontierPoint } from './stage-vector.js';

export interface PrefixState {
  maxBusyS: number;
  sumBusyS: number;
  maxTailS: number;
  parent: PrefixState | undefined;
  /** The stage that led here: its layer range end and its frontier point. */
  stageEnd: number;
  stagePoint: FrontierPoint<unknown> | undefined;
}

export interface PipelineShape {
  layers: number;
  stages: number;
  microBatches: number;
  /** Virtual stages (1 unless interleaved). */
  virtualStages: number;
  /** Added to every stage's tail (the optimizer step's fixed launch cost). */
  tailConstantS: number;
}

export function startState(): PrefixState {
  return { maxBusyS: 0, sumBusyS: 0, maxTailS: 0, parent: undefined, stageEnd: 0, stagePoint: undefined };
}

export function extendState(state: PrefixState, point: FrontierPoint<unknown>, stageEnd: number): PrefixState {
  const v = point.vector;
  return {
    maxBusyS: Math.max(state.maxBusyS, v.busyS),
    sumBusyS: state.sumBusyS + v.busyS,
    maxTailS: Math.max(state.maxTailS, v.tailS),
    parent: state,
    stageEnd,
    stagePoint: point,
  };
}

/** pricePlan's iteration time for a complete pipeline. */
export function iterationTimeS(state: PrefixState, shape: PipelineShape): number {
  return shape.microBatches * state.maxBusyS + (state.sumBusyS - state.maxBusyS) / shape.virtualStages + state.maxTailS + shape.tailConstantS;
}

/**
 * A lower bound on the final iteration time from a prefix, when the remaining layers need at least
 * `remainingBusyS` of busy time spread over `remainingStages` stages.
 */
export function lowerBoundS(state: PrefixState, remainingBusyS: number, remainingStages: number, shape: PipelineShape): number {
  const maxBusy = Math.max(state.maxBusyS, remainingStages > 0 ? remainingBusyS / remainingStages : 0);
  const sumBusy = state.sumBusyS + remainingBusyS;
  return shape.microBatches * maxBusy + (sumBusy - maxBusy) / shape.virtualStages + state.maxTailS + shape.tailConstantS;
}

function stateDominates(a: PrefixState, b: PrefixState): boolean {
  return a.maxBusyS <= b.maxBusyS && a.sumBusyS <= b.sumBusyS && a.maxTailS <= b.maxTailS;
}

/** Non-dominated prefix states; among equal ones the fewest strategy switches, then the first, survives. */
export function filterStates(states: PrefixState[]): PrefixState[] {
  const switches = (s: PrefixState) => {
    let n = 0;
    for (let c: PrefixState | undefined = s; c; c = c.parent) n += c.stagePoint?.switches ?? 0;
    return n;
  };
  const order = states
    .map((s, i) => ({ s, i, w: switches(s) }))
    .sort((x, y) => x.s.maxBusyS - y.s.maxBusyS || x.s.sumBusyS - y.s.sumBusyS || x.s.maxTailS - y.s.maxTailS || x.w - y.w || x.i - y.i);
  const kept: typeof order = [];
  for (const candidate of order) if (!kept.some((k) => stateDominates(k.s, candidate.s))) kept.push(candidate);
  return kept.sort((x, y) => x.i - y.i).map((k) => k.s);
}

export interface PartitionProblem {
  shape: PipelineShape;
  /** Layer-range ends stage i may take when it starts at `start` (ascending). */
  stageEnds: (stage: number, start: number) => number[];
  /** Frontier of stage i over [start, end), already filtered to what fits its memory. */
  stageFrontier: (stage: number, start: number, end: number) => FrontierPoint<unknown>[];
  /** Least forward + backward the layers from `start` on can take (for the lower bound). */
  remainingBusyS: (start: number) => number;
  /** Best time known so far: prefixes that cannot beat it are dropped. */
  incumbentS: number;
}

export interface PartitionSolution {
  timeS: number;
  /** Per stage: [start, end) and the frontier point it runs. */
  stages: { start: number; end: number; point: FrontierPoint<unknown> }[];
}

export function solvePartition(problem: PartitionProblem): PartitionSolution | undefined {
  const { shape } = problem;
  let frontier = new Map<number, PrefixState[]>([[0, [startState()]]]);
  for (let stage = 0; stage < shape.stages; stage++) {
    const next = new Map<number, PrefixState[]>();
    const remainingStages = shape.stages - stage - 1;
    for (const [start, states] of [...frontier].sort((a, b) => a[0] - b[0])) {
      for (const end of problem.stageEnds(stage, start)) {
        const points = problem.stageFrontier(stage, start, end);
        const remaining = problem.remainingBusyS(end);
        const bucket = next.get(end) ?? [];
        for (const state of states) {
          for (const point of points) {
            const extended = extendState(state, point, end);
            if (lowerBoundS(extended, remaining, remainingStages, shape) >= problem.incumbentS) continue;
            bucket.push(extended);
          }
        }
        if (bucket.length > 0) next.set(end, bucket);
      }
    }
    frontier = new Map([...next].map(([end, states]) => [end, filterStates(states)]));
  }
  const finals = frontier.get(shape.layers) ?? [];
  let best: PrefixState | undefined;
  let bestTime = Infinity;
  for (const state of finals) {
    const t = iterationTimeS(state, shape);
    if (t < bestTime) {
      bestTime = t;
      best = state;
    }
  }
  if (!best) return undefined;
  const stages: PartitionSolution['stages'] = [];
  for (let s: PrefixState | undefined = best; s?.parent; s = s.parent) {
    stages.unshift({ start: s.parent.stageEnd, end: s.stageEnd, point: s.stagePoint! });
  }
  return { timeS: bestTime, stages };
}
