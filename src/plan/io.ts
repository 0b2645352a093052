// Plan files: read and validate (the schema; messages name the field), and write whole or not at all.
import { readFileSync } from 'node:fs';
import { UserInputError, zodToUserError } from '../errors.js';
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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserInputError('--plan', code === 'ENOENT' ? `${path} does not exist; write one with \`galvatron plan -o ${path}\`` : `cannot read ${path} (${code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UserInputError('--plan', `${path} is not JSON (${(error as Error).message}); pass a file written by \`galvatron plan -o\``);
  }
  return parsePlan(raw);
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
