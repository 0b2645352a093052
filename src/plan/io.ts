// Plan files: read and validate (the schema; messages name the field), and write whole or not at all.
// Parsing and building plan objects is parse.ts (no file access).
import { readJsonFile } from '../io/json-file.js';
import { writeOutputFile } from '../io/output-file.js';
import { parsePlan } from './parse.js';
import type { Plan } from './schema.js';

export { parsePlan, planOf } from './parse.js';

export function readPlanFile(path: string): Plan {
  return parsePlan(readJsonFile('plan', path, { writeWith: `galvatron plan -o ${path}`, writtenBy: 'galvatron plan -o' }));
}

/** Writes the plan whole (temporary file + rename); a path that cannot be written is the `output`'s fault. */
export function writePlan(path: string, plan: Plan): void {
  writeOutputFile('output', path, `${JSON.stringify(plan, null, 2)}\n`);
}
