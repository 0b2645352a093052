// The plan format as a JSON Schema, generated from the zod schema (docs/plan.schema.json): what other tools
// can validate a plan against without our code. Generated, never edited by hand.
import { z } from 'zod';
import { PLAN_FORMAT, PlanSchema } from './schema.js';

export function planJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(PlanSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $id: 'https://galvatron-ts.dev/schemas/galvatron.plan.v1.json',
    title: PLAN_FORMAT,
    description: 'A per-layer parallelization plan written by galvatron-ts (docs/plan-format.md). Structure only: the rules that tie fields together (degrees that divide the model, chunks that cover every layer once) are checked by `galvatron train` and the runtime.',
    ...schema,
  };
}

export function planJsonSchemaText(): string {
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}
