// The per-stage quantities the iteration time depends on, and Pareto dominance over them.
//
// pricePlan's iteration time m·max C + (Σ C − max C)/v + max_i tail_i is non-decreasing in every stage's
// busy time C and tail, and a stage fits iff its memory does: a stage choice no worse in all four can
// never lead to a slower plan. That is what makes the frontiers exact.

/** Sums over a stage (or a prefix of it). */
export interface StageVector {
  /** Forward + backward per micro-batch, re-distributions and p2p included (s). */
  busyS: number;
  /** Exposed once-per-iteration communication + optimizer step, without the optimizer's fixed launch (s). */
  tailS: number;
  /** Model states + activations × in-flight micro-batches (fragmentation included), bytes. */
  memoryBytes: number;
  /** Largest transient of any layer (recompute working set, ZeRO-3 gathers, logits), bytes. */
  transientBytes: number;
}

export const ZERO_VECTOR: StageVector = { busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 };

export function addVectors(a: StageVector, b: StageVector): StageVector {
  return {
    busyS: a.busyS + b.busyS,
    tailS: a.tailS + b.tailS,
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
  return a.busyS <= b.busyS && a.tailS <= b.tailS && a.memoryBytes <= b.memoryBytes && a.transientBytes <= b.transientBytes;
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
 * earlier one) survives, so results are deterministic. Points are returned in insertion order.
 */
export function paretoFilter<T>(points: FrontierPoint<T>[]): FrontierPoint<T>[] {
  // Sorted lexicographically, a point can only be dominated by one before it.
  const order = points
    .map((p, i) => ({ p, i }))
    .sort(
      (x, y) =>
        x.p.vector.busyS - y.p.vector.busyS ||
        x.p.vector.memoryBytes - y.p.vector.memoryBytes ||
        x.p.vector.tailS - y.p.vector.tailS ||
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
