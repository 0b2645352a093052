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

/** A frontier point with what it takes to rebuild its choices. */
export interface FrontierPoint<T> {
  vector: StageVector;
  /** Strategy switches along the choices: fewer wins ties (DESIGN.md §5). */
  switches: number;
  payload: T;
}

/**
 * A (memory ↑, tail ↓) staircase of kept points at one transient level: each point has less tail than
 * every point of smaller memory, so "is some point with memory ≤ m and tail ≤ t kept?" is one binary search.
 */
class Staircase {
  private readonly memory: number[] = [];
  private readonly tail: number[] = [];

  /** Index of the last point with memory ≤ m, or −1. */
  private floor(m: number): number {
    let lo = 0;
    let hi = this.memory.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.memory[mid]! <= m) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  covers(m: number, t: number): boolean {
    const i = this.floor(m);
    return i >= 0 && this.tail[i]! <= t;
  }

  insert(m: number, t: number): void {
    // Points at ≥ m memory with ≥ t tail are now redundant for queries: drop them, then insert.
    let at = this.floor(m) + 1;
    let end = at;
    while (end < this.memory.length && this.tail[end]! >= t) end++;
    this.memory.splice(at, end - at, m);
    this.tail.splice(at, end - at, t);
  }
}

/** Flat columns of n stage vectors (and their switch counts), as the Pareto filter reads them. */
export interface VectorColumns {
  busy: Float64Array;
  memory: Float64Array;
  tail: Float64Array;
  transient: Float64Array;
  switches: Float64Array;
}

export function vectorColumns(n: number): VectorColumns {
  return { busy: new Float64Array(n), memory: new Float64Array(n), tail: new Float64Array(n), transient: new Float64Array(n), switches: new Float64Array(n) };
}

/**
 * Indices (of the first n rows) that no other row dominates, in lexicographic order (busy first). Among
 * equal vectors the one with fewer switches, then the lower index, survives, so results are deterministic.
 */
export function paretoIndices(columns: VectorColumns, n: number): number[] {
  const { busy, memory, tail, transient, switches } = columns;
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // In lexicographic order a row can only be dominated by one before it; those are indexed by transient
  // level in staircases over (memory, tail). The sort reads flat arrays; ties fall back to the index.
  order.sort((x, y) => busy[x]! - busy[y]! || memory[x]! - memory[y]! || tail[x]! - tail[y]! || transient[x]! - transient[y]! || switches[x]! - switches[y]! || x - y);
  const levels: { transient: number; stairs: Staircase }[] = [];
  const kept: number[] = [];
  for (const i of order) {
    const t = transient[i]!;
    const m = memory[i]!;
    const tl = tail[i]!;
    let covered = false;
    for (const l of levels) {
      if (l.transient <= t && l.stairs.covers(m, tl)) {
        covered = true;
        break;
      }
    }
    if (covered) continue;
    kept.push(i);
    let level = levels.find((l) => l.transient === t);
    if (!level) {
      level = { transient: t, stairs: new Staircase() };
      levels.push(level);
    }
    level.stairs.insert(m, tl);
  }
  return kept;
}

/**
 * Keeps the points no other point dominates. Among equal vectors the one with fewer switches (then the
 * earlier one) survives, so results are deterministic.
 */
export function paretoFilter<T>(points: FrontierPoint<T>[]): FrontierPoint<T>[] {
  const n = points.length;
  if (n <= 1) return points.slice();
  const columns = vectorColumns(n);
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    columns.busy[i] = p.vector.busyS;
    columns.memory[i] = p.vector.memoryBytes;
    columns.tail[i] = p.vector.tailS;
    columns.transient[i] = p.vector.transientBytes;
    columns.switches[i] = p.switches;
  }
  return paretoIndices(columns, n).map((i) => points[i]!);
}
