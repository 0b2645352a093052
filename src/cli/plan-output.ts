// `-o plan.json` for plan and estimate: the library writes the plan whole; the CLI says so on stderr.
import { writePlan } from '../plan/io.js';
import { PLAN_FORMAT, type Plan } from '../plan/schema.js';

/** Writes the (validated) plan whole (temporary file + rename); says so on stderr. */
export function writePlanFile(path: string, plan: Plan): void {
  writePlan(path, plan);
  const note = plan.predicted.fits ? '' : ' (it does not fit in memory)';
  process.stderr.write(`galvatron: wrote plan ${path} (${PLAN_FORMAT})${note}\n`);
}
