// What an export changes: the closest plan the target engine can run, priced by the same cost model.
import { pricePlan } from '../../cost/plan-cost.js';
import type { Plan } from '../schema.js';
import { planInputFromPlan } from '../to-cost.js';

/** A target's rendering of a plan, what it could not express, and what the plan it expresses costs. */
export interface ExportResult {
  target: ExportTarget;
  /** The file (or command line) to hand to the engine. */
  content: string;
  /** Suggested file name for `-o` when none is given. */
  fileName: string;
  /** Each way the exported configuration differs from the plan; empty when it is exact. */
  differences: string[];
  /** Predicted iteration time of the plan as written, and of what the target runs (equal when exact). */
  planIterationS: number;
  exportedIterationS: number;
  /** The plan the export expresses (the input when exact). */
  exported: Plan;
}

export const EXPORT_TARGETS = ['megatron', 'deepspeed', 'torchtitan', 'galvatron'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/** The most common value by key (first seen wins ties), with its count. */
export function modal<T>(items: T[], key: (item: T) => string): { value: T; count: number } {
  const counts = new Map<string, { value: T; count: number }>();
  for (const item of items) {
    const k = key(item);
    const entry = counts.get(k);
    if (entry) entry.count++;
    else counts.set(k, { value: item, count: 1 });
  }
  let best: { value: T; count: number } | undefined;
  for (const entry of counts.values()) if (!best || entry.count > best.count) best = entry;
  return best!;
}

export function iterationS(plan: Plan): number {
  return pricePlan(planInputFromPlan(plan)).iterationTimeS;
}

/** The result record: prices the plan and its adapted form (the same object when nothing changed). */
export function exportResult(target: ExportTarget, plan: Plan, exported: Plan, content: string, fileName: string, differences: string[]): ExportResult {
  const planIterationS = iterationS(plan);
  return {
    target,
    content,
    fileName,
    differences,
    planIterationS,
    exportedIterationS: exported === plan ? planIterationS : iterationS(exported),
    exported,
  };
}

/** `text` with `{count} layer(s)` wording. */
export const layersText = (n: number) => `${n} layer${n === 1 ? '' : 's'}`;
