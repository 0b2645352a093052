// A memory-aware lower bound for one-stage plans (pp = 1, no interleaving), where the iteration time is
// m·Σ busy + Σ tail + constant and every layer's option must fit one memory budget together.
//
// Lagrangian relaxation of that multiple-choice knapsack: for any λ ≥ 0,
//   min over fitting choices of Σ_l (m·busy + tail)  ≥  Σ_l min_c (m·busy + tail + λ·memory) − λ·budget,
// since a fitting choice has Σ memory ≤ budget. Re-distributions and transients only add time or memory, so
// leaving them out keeps it a bound. The best λ of a fixed grid is taken; every λ is valid, so the grid only
// decides how tight the bound is, never whether it is exact.
import type { StageVector } from './stage-vector.js';

/** λ grid: multiples of the scale (time per byte at which the whole budget costs the whole lower bound). */
const GRID_STEPS = 25;
const GRID_LOW_EXPONENT = -8;

export class SuffixBound {
  private readonly lambdas: number[];
  /** suffix[j][k]: Σ over layers ≥ j (and the ends) of min over options of m·busy + tail + λ_k·memory. */
  private readonly suffix: Float64Array[];

  /**
   * @param layerOptions per layer, the vectors of its candidate options (in-flight memory included)
   * @param endOptions the embedding + head vectors of each embedding option
   */
  constructor(
    layerOptions: StageVector[][],
    endOptions: StageVector[],
    private readonly microBatches: number,
    private readonly budgetBytes: number,
  ) {
    const weigh = (v: StageVector, lambda: number) => microBatches * v.busyS + v.tailS + lambda * v.memoryBytes;
    const leastTime = layerOptions.reduce((sum, options) => sum + Math.min(...options.map((v) => weigh(v, 0))), 0);
    const scale = leastTime / Math.max(1, budgetBytes);
    this.lambdas = [0, ...Array.from({ length: GRID_STEPS }, (_, k) => scale * 2 ** ((GRID_LOW_EXPONENT * 2 + k) / 2))];
    const K = this.lambdas.length;
    const L = layerOptions.length;
    this.suffix = Array.from({ length: L + 1 }, () => new Float64Array(K));
    for (let k = 0; k < K; k++) {
      const lambda = this.lambdas[k]!;
      this.suffix[L]![k] = endOptions.length > 0 ? Math.min(...endOptions.map((v) => weigh(v, lambda))) : 0;
    }
    // Identical neighbouring option lists (the common case) reuse the per-λ minimum.
    let previous: StageVector[] | undefined;
    const least = new Float64Array(K);
    for (let l = L - 1; l >= 0; l--) {
      const options = layerOptions[l]!;
      if (options !== previous) {
        for (let k = 0; k < K; k++) least[k] = Math.min(...options.map((v) => weigh(v, this.lambdas[k]!)));
        previous = options;
      }
      for (let k = 0; k < K; k++) this.suffix[l]![k] = this.suffix[l + 1]![k]! + least[k]!;
    }
  }

  /**
   * Least m·Σ busy + Σ tail of any completion of a prefix that covers layers [0, next) with the sums
   * `prefix` (the optimizer's fixed launch cost not included).
   */
  boundS(next: number, prefix: StageVector): number {
    const row = this.suffix[next]!;
    const room = this.budgetBytes - prefix.memoryBytes - prefix.transientBytes;
    let best = -Infinity;
    for (let k = 0; k < row.length; k++) {
      const value = row[k]! - this.lambdas[k]! * room;
      if (value > best) best = value;
    }
    return this.microBatches * prefix.busyS + prefix.tailS + best;
  }
}
