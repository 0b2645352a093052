// `-o plan.json` for plan and estimate: the library writes the plan whole; the CLI says so on stderr.
import type { PlanCost, PlanInput } from '../cost/plan-cost.js';
import type { ModelSpec } from '../model/spec.js';
import { planOf, writePlan } from '../plan/io.js';
import { PLAN_FORMAT } from '../plan/schema.js';

/** Validates the plan and writes it whole (temporary file + rename); says so on stderr. */
export function writePlanFile(path: string, model: ModelSpec, result: { input: PlanInput; cost: PlanCost }, command: string, deviceMemoryGiB?: number): void {
  writePlan(path, planOf(model, result.input, result.cost, command, deviceMemoryGiB));
  const note = result.cost.fits ? '' : ' (it does not fit in memory)';
  process.stderr.write(`galvatron: wrote plan ${path} (${PLAN_FORMAT})${note}\n`);
}
