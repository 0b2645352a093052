// Fits cost-model constants to measurements: least squares on the log of predicted / measured, each
// constant kept inside its physical range, minimised by Nelder–Mead. Used for the published runs
// (scripts/calibrate.ts) and for the executor's own runs (`galvatron calibrate`, ./runs-fit.ts).
import { pricePlan } from '../cost/plan-cost.js';
import { CONSTANT_RANGES } from '../cost/constants.js';
import type { CostConstants } from '../cost/types.js';
import { nelderMead, type MinimizeResult } from './nelder-mead.js';
import { pointPlanInput, type PricedPoint } from './measurements.js';

/** A constant the fit moves: its physical range and the simplex's first step. */
export interface FittedConstant {
  key: keyof CostConstants;
  min: number;
  max: number;
  step: number;
}

export const fitted = (key: keyof CostConstants, step: number): FittedConstant => ({ key, ...CONSTANT_RANGES[key], step });

/** The constants the fit to published runs moves. */
export const FITTED: FittedConstant[] = [
  fitted('gemmEfficiencyScale', 0.05),
  fitted('gemmTileOverheadK', 32),
  fitted('kernelOverheadUs', 4),
  fitted('hbmEfficiency', 0.05),
  fitted('flashAttentionEfficiency', 0.1),
];

/** One measured figure and the model's prediction of it under given constants. */
export interface FitTarget {
  id: string;
  measured: number;
  predict: (constants: CostConstants) => number;
  /** The measurement is a lower bound (a run out of memory needed more): only a prediction below it is an error. */
  lowerBound?: boolean;
}

/** log(predicted / measured); for a lower bound, 0 once the prediction reaches it. */
export function logError(target: FitTarget, constants: CostConstants): number {
  const error = Math.log(target.predict(constants) / target.measured);
  return target.lowerBound ? Math.min(0, error) : error;
}

export function predictedIterationS(point: PricedPoint, constants: CostConstants): number {
  return pricePlan(pointPlanInput(point, constants)).iterationTimeS;
}

/** The published runs' iteration times as fit targets. */
export function publishedTargets(points: PricedPoint[]): FitTarget[] {
  return points.map((point) => ({ id: point.point.id, measured: point.measuredIterationS, predict: (c) => predictedIterationS(point, c) }));
}

/** `base` with the fitted constants set from x, each clamped into its range. */
export function withValues(base: CostConstants, params: FittedConstant[], x: number[]): CostConstants {
  const constants = { ...base };
  params.forEach((p, i) => {
    constants[p.key] = Math.min(p.max, Math.max(p.min, x[i]!));
  });
  return constants;
}

/** Mean squared log error over the targets, plus a penalty for leaving the physical ranges. */
export function fitObjective(targets: FitTarget[], base: CostConstants, x: number[], params: FittedConstant[] = FITTED): number {
  const constants = withValues(base, params, x);
  let total = 0;
  for (const target of targets) total += logError(target, constants) ** 2;
  const outside = params.reduce((s, p, i) => s + Math.max(0, p.min - x[i]!, x[i]! - p.max) ** 2, 0);
  return total / targets.length + 10 * outside;
}

export interface FitResult {
  constants: CostConstants;
  objective: number;
  iterations: number;
}

/** Minimises fitObjective by one Nelder–Mead run from `start`, stepping each constant by its `step` (the published-run fit). */
export function fitConstants(targets: FitTarget[], start: CostConstants, params: FittedConstant[] = FITTED): FitResult {
  const result = nelderMead((x) => fitObjective(targets, start, x, params), params.map((p) => start[p.key]), params.map((p) => p.step));
  return { constants: withValues(start, params, result.x), objective: result.value, iterations: result.iterations };
}

/** Simplex restarts from the best point found: a collapsed simplex can stall short of the minimum. */
const RESTARTS = 2;
/** Stop when the simplex's objective values agree this closely (runs predicted to ~1e-6 agree to ~1e-12). */
const TOLERANCE = 1e-13;
const MAX_ITERATIONS = 600;

/**
 * A fit that does not hang on its starting point: Nelder–Mead in coordinates scaled to each range
 * (0 = min, 1 = max, first step a quarter of it), from `start` and from the middle of every range, each
 * restarted while it improves; the lower objective wins. With few runs several constants trade off, and
 * a single simplex from the defaults settles in a local minimum (the H200 runs have two).
 */
export function fitConstantsMultiStart(targets: FitTarget[], start: CostConstants, params: FittedConstant[]): FitResult {
  const toX = (u: number[]) => u.map((v, i) => params[i]!.min + v * (params[i]!.max - params[i]!.min));
  const objective = (u: number[]) => fitObjective(targets, start, toX(u), params);
  const steps = params.map(() => 0.25);
  const origins = [params.map((p) => (start[p.key] - p.min) / (p.max - p.min)), params.map(() => 0.5)];
  const minimise = (origin: number[]) => nelderMead(objective, origin, steps, MAX_ITERATIONS, TOLERANCE);
  let best: MinimizeResult | undefined;
  let iterations = 0;
  for (const origin of origins) {
    let result = minimise(origin);
    iterations += result.iterations;
    for (let r = 0; r < RESTARTS; r++) {
      const again = minimise(result.x);
      iterations += again.iterations;
      if (again.value >= result.value) break;
      result = again;
    }
    if (best === undefined || result.value < best.value) best = result;
  }
  return { constants: withValues(start, params, toX(best!.x)), objective: best!.value, iterations };
}
