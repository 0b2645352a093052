// `galvatron calibrate`: fits the cost model's time constants to measured step times and its activation
// fragmentation to measured allocator peaks, and says how well each predicts: error per run before and
// after the fit, and leave-one-out (fit on every run but one, predict that one).
import { pricePlan, type PlanCost } from '../cost/plan-cost.js';
import type { CostConstants } from '../cost/types.js';
import { executorPlanInput } from '../plan/to-cost.js';
import { fitConstantsMultiStart, fitted, type FitTarget, type FittedConstant } from './fit.js';
import type { MeasuredRun } from './runs.js';

const GIB = 1024 ** 3;

/** Constants fitted to step time: everything that prices compute. */
export const TIME_FITTED: FittedConstant[] = [
  fitted('gemmEfficiencyScale', 0.05),
  fitted('kernelOverheadUs', 4),
  fitted('layerHostUs', 400),
  fitted('hbmEfficiency', 0.05),
  fitted('flashAttentionEfficiency', 0.1),
];

/**
 * Constants fitted to the CUDA allocator's peak. fixedMemoryGiB (CUDA context, NCCL buffers) is outside
 * the allocator, so max_memory_allocated does not see it: it stays as it is.
 */
export const MEMORY_FITTED: FittedConstant[] = [fitted('activationFragmentation', 0.05)];

/** What the CUDA allocator holds at the fullest stage: everything but the reserve outside it. */
export function allocatorPeakBytes(cost: PlanCost): number {
  return Math.max(...cost.stages.map((s) => s.memory.totalBytes - s.memory.fixedBytes));
}

/** A run's step time and allocator peak as fit targets, priced as the executor ran its plan. */
export function runTargets(run: MeasuredRun, base: CostConstants): { time?: FitTarget; memory?: FitTarget } {
  const input = executorPlanInput(run.plan, run.dtype, base, run.dropout)!;
  const price = (constants: CostConstants) => pricePlan({ ...input, constants });
  const targets: { time?: FitTarget; memory?: FitTarget } = {};
  if (run.stepTimeS !== undefined) targets.time = { id: run.id, measured: run.stepTimeS, predict: (c) => price(c).iterationTimeS };
  const memory = (c: CostConstants) => allocatorPeakBytes(price(c));
  if (run.outOfMemory && run.device === 'cuda') {
    // Out of memory: it needed more than it reached, or at least the GPU less the reserve.
    const bound = run.peakBytes ?? (run.plan.cluster.gpu.memoryGiB - base.fixedMemoryGiB) * GIB;
    targets.memory = { id: run.id, measured: bound, predict: memory, lowerBound: true };
  } else if (run.peakBytes !== undefined && run.peakBytes > 0) {
    targets.memory = { id: run.id, measured: run.peakBytes, predict: memory };
  }
  return targets;
}

export interface RunError {
  id: string;
  /** Seconds or bytes; for an out-of-memory run the lower bound of its peak. */
  measured: number;
  lowerBound: boolean;
  before: { predicted: number; error: number };
  after: { predicted: number; error: number };
  /** Predicted by a fit to every other run; null with a single run. */
  leaveOneOut: { predicted: number; error: number } | null;
}

export interface QuantityReport {
  /** The fitted constants' values (the others stay at the base). */
  constants: Partial<CostConstants>;
  /** Constants the fit left at a bound of their range. */
  atBound: (keyof CostConstants)[];
  rows: RunError[];
  /** Mean |predicted / measured − 1| over the runs with a measured value (lower bounds left out). */
  meanAbsoluteError: { before: number; after: number; leaveOneOut: number | null };
}

export interface CalibrationReport {
  base: CostConstants;
  /** base with every fitted constant replaced. */
  constants: CostConstants;
  time: QuantityReport | null;
  memory: QuantityReport | null;
}

/** predicted / measured − 1; for a lower bound only the shortfall counts. */
function relativeError(target: FitTarget, predicted: number): number {
  const error = predicted / target.measured - 1;
  return target.lowerBound ? Math.min(0, error) : error;
}

/** Within 0.01 % of the range from either end. */
const atBound = (p: FittedConstant, value: number) => Math.min(value - p.min, p.max - value) <= 1e-4 * (p.max - p.min);

const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);

function fitQuantity(targets: FitTarget[], base: CostConstants, params: FittedConstant[]): { report: QuantityReport; constants: CostConstants } | null {
  if (targets.length === 0) return null;
  const { constants } = fitConstantsMultiStart(targets, base, params);
  const rows = targets.map((target, i): RunError => {
    const at = (c: CostConstants) => {
      const predicted = target.predict(c);
      return { predicted, error: relativeError(target, predicted) };
    };
    const others = targets.filter((_, j) => j !== i);
    const leaveOneOut = others.length > 0 ? at(fitConstantsMultiStart(others, base, params).constants) : null;
    return { id: target.id, measured: target.measured, lowerBound: target.lowerBound ?? false, before: at(base), after: at(constants), leaveOneOut };
  });
  const valued = rows.filter((r) => !r.lowerBound);
  const absolute = (pick: (r: RunError) => number) => mean(valued.map((r) => Math.abs(pick(r))));
  const report: QuantityReport = {
    constants: Object.fromEntries(params.map((p) => [p.key, constants[p.key]])),
    atBound: params.filter((p) => atBound(p, constants[p.key])).map((p) => p.key),
    rows,
    meanAbsoluteError: {
      before: absolute((r) => r.before.error),
      after: absolute((r) => r.after.error),
      leaveOneOut: rows.some((r) => r.leaveOneOut === null) ? null : absolute((r) => r.leaveOneOut!.error),
    },
  };
  return { report, constants };
}

/** Fits time and memory constants to the runs, starting from (and reporting against) `base`. */
export function calibrateRuns(runs: MeasuredRun[], base: CostConstants): CalibrationReport {
  const targets = runs.map((run) => runTargets(run, base));
  const time = fitQuantity(targets.flatMap((t) => (t.time ? [t.time] : [])), base, TIME_FITTED);
  const memory = fitQuantity(targets.flatMap((t) => (t.memory ? [t.memory] : [])), base, MEMORY_FITTED);
  const constants = { ...base, ...time?.report.constants, ...memory?.report.constants };
  return { base, constants, time: time?.report ?? null, memory: memory?.report ?? null };
}
