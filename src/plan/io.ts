// Plan files: read and validate (the schema; messages name the field), and write whole or not at all.
import { zodToUserError } from '../errors.js';
import { readJsonFile } from '../io/json-file.js';
import { writeOutputFile } from '../io/output-file.js';
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

export function readPlanFile(path: string): Plan {
  return parsePlan(readJsonFile('plan', path, { writeWith: `galvatron plan -o ${path}`, writtenBy: 'galvatron plan -o' }));
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

/** Writes the plan whole (temporary file + rename); a path that cannot be written is the `output`'s fault. */
export function writePlan(path: string, plan: Plan): void {
  writeOutputFile('output', path, `${JSON.stringify(plan, null, 2)}\n`);
}
