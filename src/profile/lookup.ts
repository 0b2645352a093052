// Reading a time out of a measured unit profile: the variant for a strategy (or the nearest one that can
// stand in for it, said in a note), and its time at a micro-batch size, linear between measured sizes and
// continued with the fitted per-sample slope outside them (also said in a note).
import type { RecomputeKind } from '../strategy/layer-strategy.js';
import { variantKey, type ProfileVariant, type TimeFit, type TimePoint, type UnitProfile } from './schema.js';

export type CurveHow = 'measured' | 'interpolated' | 'extrapolated' | 'law';

export interface CurveValue {
  seconds: number;
  how: CurveHow;
}

/**
 * Time of a micro-batch of `b` samples from measured points (ascending) and the fit: exact at a point,
 * linear between neighbours, beyond the ends the nearest end point ± the fitted per-sample slope (so the
 * curve is continuous and a size below the smallest keeps that size's fixed cost). No points: the fit.
 */
export function curveAt(points: readonly TimePoint[], fit: TimeFit, which: 'forwardS' | 'backwardS', b: number): CurveValue {
  if (points.length === 0) return { seconds: fit.fixedS + fit.perSampleS * b, how: 'law' };
  const first = points[0]!;
  const last = points[points.length - 1]!;
  if (b > last.microBatch) return { seconds: last[which] + fit.perSampleS * (b - last.microBatch), how: 'extrapolated' };
  if (b < first.microBatch) return { seconds: Math.max(0, first[which] - fit.perSampleS * (first.microBatch - b)), how: 'extrapolated' };
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.microBatch === b) return { seconds: p[which], how: 'measured' };
    const next = points[i + 1];
    if (next && p.microBatch < b && b < next.microBatch) {
      const t = (b - p.microBatch) / (next.microBatch - p.microBatch);
      return { seconds: p[which] + t * (next[which] - p[which]), how: 'interpolated' };
    }
  }
  return { seconds: last[which], how: 'measured' };
}

export interface UnitTime {
  forwardS: number;
  /** Backward without the measured recomputation (that is recomputeS). */
  backwardS: number;
  /** Recomputation measured with the variant (0: it is inside backwardS); undefined: not measured. */
  recomputeS?: number;
  /** The times include the unit's TP collectives (measured at the strategy's TP degree). */
  includesTpComm: boolean;
  /** Extrapolations and stand-ins, for people. */
  notes: string[];
}

interface Resolved {
  main: ProfileVariant;
  /** The no-recompute variant of the same layout, to split recomputation out of the backward. */
  base?: ProfileVariant;
  recomputeMeasured: boolean;
  notes: string[];
}

function find(unit: UnitProfile, tp: number, sp: boolean, recompute: RecomputeKind): ProfileVariant | undefined {
  return unit.variants.find((v) => v.tp === tp && v.sequenceParallel === sp && v.recompute === recompute);
}

function resolveAt(unit: UnitProfile, label: string, tp: number, sp: boolean, recompute: RecomputeKind): Resolved | undefined {
  const sps = tp > 1 ? [sp, !sp] : [false];
  const wanted = variantKey({ tp, sequenceParallel: sp && tp > 1, recompute });
  for (const s of sps) {
    const main = find(unit, tp, s, recompute);
    if (!main) continue;
    const notes = s === sp || tp === 1 ? [] : [`${label} ${wanted}: not profiled; the ${variantKey(main)} measurement stands in`];
    const base = recompute === 'none' ? undefined : find(unit, tp, s, 'none');
    return { main, ...(base ? { base } : {}), recomputeMeasured: recompute !== 'none', notes };
  }
  if (recompute === 'none') return undefined;
  for (const s of sps) {
    const main = find(unit, tp, s, 'none');
    if (main) return { main, recomputeMeasured: false, notes: [`${label} ${wanted}: not profiled; ${variantKey(main)} measured, its recomputation priced on top`] };
  }
  return undefined;
}

function curveNote(label: string, variant: ProfileVariant, b: number, how: CurveHow): string[] {
  if (how !== 'extrapolated') return [];
  const sizes = variant.points.map((p) => p.microBatch);
  const range = sizes.length > 1 ? `${sizes[0]}–${sizes[sizes.length - 1]}` : `${sizes[0]}`;
  return [`${label} ${variantKey(variant)}: a micro-batch of ${b} sample(s) per rank is outside the measured ${range}; extrapolated with the fitted per-sample time`];
}

/**
 * The unit's measured time for `samples` samples per rank under (tp, sp, recompute): the exact variant,
 * else the other SP setting at the same TP, else the no-recompute variant (recomputation left to the
 * caller), else the TP 1 variant divided by tp (its TP communication left to the caller). Undefined when
 * none of these was measured.
 */
export function unitTime(unit: UnitProfile, label: string, tp: number, sp: boolean, recompute: RecomputeKind, samples: number): UnitTime | undefined {
  let resolved = resolveAt(unit, label, tp, sp, recompute);
  let scale = 1;
  let includesTpComm = tp > 1;
  const notes: string[] = [];
  if (!resolved && tp > 1) {
    resolved = resolveAt(unit, label, 1, false, recompute);
    if (resolved) {
      scale = 1 / tp;
      includesTpComm = false;
      notes.push(`${label} tp${tp}: not profiled; the tp1 time ÷ ${tp}, TP communication from the link model`);
    }
  }
  if (!resolved) return undefined;
  const { main, base } = resolved;
  notes.push(...resolved.notes);
  const forward = curveAt(main.points, main.fit.forward, 'forwardS', samples);
  const backward = curveAt(main.points, main.fit.backward, 'backwardS', samples);
  notes.push(...curveNote(label, main, samples, forward.how));
  let backwardS = backward.seconds;
  let recomputeS: number | undefined;
  if (resolved.recomputeMeasured) {
    recomputeS = 0;
    if (base) {
      const without = curveAt(base.points, base.fit.backward, 'backwardS', samples).seconds;
      recomputeS = Math.max(0, backwardS - without);
      backwardS -= recomputeS;
    }
  }
  return {
    forwardS: forward.seconds * scale,
    backwardS: backwardS * scale,
    ...(recomputeS === undefined ? {} : { recomputeS: recomputeS * scale }),
    includesTpComm,
    notes,
  };
}
