// Plans as objects: parsing (the schema; messages name the field) and building one from a priced
// configuration. No file access, so the web page's worker runs it too; io.ts reads and writes files.
import { zodToUserError } from '../errors.js';
import type { ModelSpec } from '../model/spec.js';
import type { PlanCost, PlanInput } from '../cost/plan-cost.js';
import { planFromCost } from './from-cost.js';
import { PLAN_FORMAT, PlanSchema, type Plan } from './schema.js';

/** A parsed plan, or a UserInputError naming the first bad field (`plan.…`). */
export function parsePlan(raw: unknown): Plan {
  const parsed = PlanSchema.safeParse(raw);
  if (!parsed.success) throw zodToUserError('plan', parsed.error, raw);
  return parsed.data;
}

/** The plan of a priced configuration, checked against the schema (a mismatch is a library bug). */
export function planOf(model: ModelSpec, input: PlanInput, cost: PlanCost, command: string, deviceMemoryGiB?: number): Plan {
  const parsed = PlanSchema.safeParse(planFromCost(model, input, cost, command, deviceMemoryGiB));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the plan does not match ${PLAN_FORMAT} at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}; nothing written (please report this bug)`);
  }
  return parsed.data;
}
