// The per-stage quantities the iteration time depends on, and Pareto dominance over them.
//
// The iteration time of pricePlan is non-decreasing in each stage's forward and backward time, gradient
// sync, parameter gather and optimizer work, and a stage fits iff its memory does: so a stage choice that
// is no worse in all of them can never lead to a slower plan. That is what makes the frontiers exact.

/** Sums over a stage (or a prefix of it). Times in seconds; memory in bytes; optimizer in parameters. */
export interface StageVector {
  forwardS: number;
  backwardS: number;
  gradientSyncS: number;
  parameterGatherS: number;
  /** Parameters the stage's optimizer updates (its time is proportional). */
  optimizerParams: number;
  /** Model states + activations × in-flight micro-batches (fragmentation included). */
  memoryBytes: number;
  /** Largest transient of any layer (recompute working set, ZeRO-3 gathers, logits). */
  transientBytes: number;
}

export const ZERO_VECTOR: StageVector = {
  forwardS: 0,
  backwardS: 0,
  gradientSyncS: 0,
  parameterGatherS: 0,
  optimizerParams: 0,
  memoryBytes: 0,
  transientBytes: 0,
};

export function addVectors(a: StageVector, b: StageVector): StageVector {
  return {
    forwardS: a.forwardS + b.forwardS,
    backwardS: a.backwardS + b.backwardS,
    gradientSyncS: a.gradientSyncS + b.gradientSyncS,
    parameterGatherS: a.parameterGatherS + b.parameterGatherS,
    optimizerParams: a.optimizerParams + b.optimizerParams,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    transientBytes: Math.max(a.transientBytes, b.transientBytes),
  };
}

/** Memory the stage needs before fixed overheads: additive part + the largest transient. */
export function peakMemoryBytes(v: StageVector): number {
  return v.memoryBytes + v.transientBytes;
}

/** a is no worse than b in every quantity. */
export function dominates(a: StageVector, b: StageVector): boolean {
  return (
    a.forwardS <= b.forwardS &&
    a.backwardS <= b.backwardS &&
    a.gradientSyncS <= b.gradientSyncS &&
    a.parameterGatherS <= b.parameterGatherS &&
    a.optimizerParams <= b.optimizerParams &&
    a.memoryBytes <= b.memoryBytes &&
    a.transientBytes <= b.transientBytes
  );
}

/** A frontier point with what it takes to rebuild its choices. */
export interface FrontierPoint<T> {
  vector: StageVector;
  /** Strategy switches along the choices: fewer wins ties (DESIGN.md §5). */
  switches: number;
  payload: T;
}

/**
 * Keeps the points no other point dominates. Among equal vectors the one with fewer switches (then the
 * earlier one) survives, so results are deterministic. Points are kept in insertion order.
 */
export function paretoFilter<T>(points: FrontierPoint<T>[]): FrontierPoint<T>[] {
  // Sorting by forward time first lets each point be checked only against those before it that could
  // dominate it; ties broken by the other quantities, then switches, then original order.
  const order = points
    .map((p, i) => ({ p, i }))
    .sort(
      (x, y) =>
        x.p.vector.forwardS - y.p.vector.forwardS ||
        x.p.vector.backwardS - y.p.vector.backwardS ||
        x.p.vector.memoryBytes - y.p.vector.memoryBytes ||
        x.p.vector.gradientSyncS - y.p.vector.gradientSyncS ||
        x.p.vector.parameterGatherS - y.p.vector.parameterGatherS ||
        x.p.vector.optimizerParams - y.p.vector.optimizerParams ||
        x.p.vector.transientBytes - y.p.vector.transientBytes ||
        x.p.switches - y.p.switches ||
        x.i - y.i,
    );
  const kept: { p: FrontierPoint<T>; i: number }[] = [];
  for (const candidate of order) {
    if (!kept.some((k) => dominates(k.p.vector, candidate.p.vector))) kept.push(candidate);
  }
  return kept.sort((x, y) => x.i - y.i).map((k) => k.p);
}
