// docs/plan.schema.json is the zod plan schema's JSON Schema, regenerated (`npm run plan:schema`) whenever
// the schema changes; and it says what the schema says about the shared table's plans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { planJsonSchemaText } from '../../src/plan/json-schema.js';

const root = new URL('../../../', import.meta.url);

test('docs/plan.schema.json is generated from the zod schema and up to date', () => {
  const committed = readFileSync(new URL('docs/plan.schema.json', root), 'utf8');
  assert.equal(committed, planJsonSchemaText(), 'docs/plan.schema.json is stale: run `npm run plan:schema`');
  const schema = JSON.parse(committed) as { required: string[]; properties: Record<string, { properties?: Record<string, { enum?: string[] }> }> };
  assert.deepEqual([...schema.required].sort(), ['cluster', 'embedding', 'format', 'layers', 'model', 'pipeline', 'predicted', 'source', 'training']);
  assert.deepEqual(schema.properties.pipeline!.properties!.schedule!.enum, ['gpipe', '1f1b', 'interleaved-1f1b']);
  assert.deepEqual(schema.properties.training!.properties!.precision!.enum, ['bf16', 'fp16', 'fp32']);
});
