// Fits the cost model's free constants to the published runs (log-error least squares, bounded).
import { pricePlan } from '../cost/plan-cost.js';
import type { CostConstants } from '../cost/types.js';
import { nelderMead } from './nelder-mead.js';
import { pointPlanInput, type PricedPoint } from './measurements.js';

/** The constants the fit moves, with the physical range each must stay in. */
export const FITTED: { key: keyof CostConstants; min: number; max: number; step: number }[] = [
  { key: 'gemmEfficiencyScale', min: 0.6, max: 1.1, step: 0.05 },
  { key: 'kernelOverheadUs', min: 1, max: 40, step: 4 },
  { key: 'hbmEfficiency', min: 0.5, max: 0.95, step: 0.05 },
  { key: 'flashAttentionEfficiency', min: 0.5, max: 1.1, step: 0.1 },
];

export function predictedIterationS(point: PricedPoint, constants: CostConstants): number {
  return pricePlan(pointPlanInput(point, constants)).iterationTimeS;
}

function withValues(base: CostConstants, x: number[]): CostConstants {
  const constants = { ...base };
  FITTED.forEach((p, i) => {
    constants[p.key] = Math.min(p.max, Math.max(p.min, x[i]!));
  });
  return constants;
}

/** Mean squared log error over the points, plus a penalty for leaving the physical ranges. */
export function fitObjective(points: PricedPoint[], base: CostConstants, x: number[]): number {
  const constants = withValues(base, x);
  let total = 0;
  for (const point of points) total += Math.log(predictedIterationS(point, constants) / point.measuredIterationS) ** 2;
  const outside = FITTED.reduce((s, p, i) => s + Math.max(0, p.min - x[i]!, x[i]! - p.max) ** 2, 0);
  return total / points.length + 10 * outside;
}

export function fitConstants(points: PricedPoint[], start: CostConstants): { constants: CostConstants; objective: number; iterations: number } {
  const x0 = FITTED.map((p) => start[p.key]);
  const result = nelderMead((x) => fitObjective(points, start, x), x0, FITTED.map((p) => p.step));
  return { constants: withValues(start, result.x), objective: result.value, iterations: result.iterations };
}
