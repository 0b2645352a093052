// The shared validator table (test/fixtures/plan-validation): the Node side must accept the good plans and
// refuse each bad one naming its field, as python/tests/test_plan_table.py requires of the Python side.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserInputError, zodToUserError } from '../../src/errors.js';
import { PlanSchema } from '../../src/plan/schema.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { runCli } from '../cli/helpers.js';

const dir = new URL('../../../test/fixtures/plan-validation/', import.meta.url);
const base = JSON.parse(readFileSync(new URL('base-plan.json', dir), 'utf8')) as Record<string, unknown>;
interface Case {
  name: string;
  patch?: Record<string, unknown>;
  world?: number;
  field?: string;
}
const table = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { good: Case[]; bad: Case[] };

/** "a.b[2].c" → ['a', 'b', 2, 'c']. */
function pathKeys(path: string): (string | number)[] {
  return path.split('.').flatMap((part) => {
    const [name, ...indices] = part.split('[');
    return [...(name ? [name] : []), ...indices.map((i) => Number(i.slice(0, -1)))];
  });
}

/** The base plan with every path of the patch set ("$drop-last" drops an array's last entry). */
export function patched(patch: Record<string, unknown> = {}): unknown {
  const plan = structuredClone(base);
  for (const [path, value] of Object.entries(patch)) {
    const keys = pathKeys(path);
    let parent = plan as Record<string | number, unknown>;
    for (const key of keys.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = keys[keys.length - 1]!;
    parent[last] = value === '$drop-last' ? (parent[last] as unknown[]).slice(0, -1) : structuredClone(value);
  }
  return plan;
}

/** What `galvatron train` runs on a plan before anything starts: the schema, then the executor's checks. */
function validate(raw: unknown, world: number): void {
  const parsed = PlanSchema.safeParse(raw);
  if (!parsed.success) throw zodToUserError('plan', parsed.error, raw);
  validatePlanForExecutor(parsed.data, world);
}

describe('shared plan validator table (Node side)', () => {
  for (const c of table.good) {
    it(`accepts: ${c.name}`, () => validate(patched(c.patch), c.world ?? 8));
  }
  for (const c of table.bad) {
    it(`refuses ${c.name}, naming ${c.field}`, () => {
      assert.throws(
        () => validate(patched(c.patch), c.world ?? 8),
        (error: unknown) => {
          assert.ok(error instanceof UserInputError, String(error));
          assert.equal(error.field, c.field, error.message);
          return true;
        },
      );
    });
  }
});

describe('galvatron train on bad plans: exit 2, one line naming the field, nothing started', () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-plan-table-'));
  const cases = ['wrong version', 'a TP degree that does not divide the FFN width', 'a layer missing from all stages', 'an unknown schedule'];
  for (const name of cases) {
    const c = table.bad.find((b) => b.name === name)!;
    it(`${name}: ${c.field}`, async () => {
      const path = join(dir, `${cases.indexOf(name)}.json`);
      writeFileSync(path, JSON.stringify(patched(c.patch)));
      const run = await runCli(['train', '--plan', path, '--device', 'cpu'], dir);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.ok(run.stderr.startsWith(`galvatron: ${c.field}: `), run.stderr);
    });
  }
});
