// `galvatron explain`: on a plan from an exact search no nearest alternative that fits is faster (each is a
// plan of the same space), the shares of the iteration add up to it, and a stage said to be bound by memory
// has a faster form that does not fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { explainPlan } from '../../src/plan/explain.js';
import { planOf } from '../../src/plan/io.js';
import type { Plan } from '../../src/plan/schema.js';
import { planInputFromPlan } from '../../src/plan/to-cost.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';
import { runCli } from '../cli/helpers.js';

function searched(model: string, cluster: string, gpus: number, globalBatch: number, memoryGiB: number): Plan {
  const spec = loadModel(model);
  const result = searchPlan(spec, loadCluster(cluster, gpus), { globalBatch, memoryGiB, rules: defaultRules() });
  assert.ok(result.best && result.exact, 'an exact search result');
  return planOf(spec, result.best.input, result.best.cost, 'test', undefined);
}

test('explain: no fitting alternative beats an exactly searched plan; shares add up to the iteration', () => {
  const plan = searched('gpt3-1.3b', 'dgx-a100-40g', 8, 16, 12);
  const e = explainPlan(plan);
  assert.ok(e.alternatives.length >= 3, `${e.alternatives.length} alternatives`);
  for (const a of e.alternatives) assert.ok(!a.fits || a.iterationS >= e.plan.iterationS * (1 - 1e-9), `${a.name}: ${a.iterationS} < ${e.plan.iterationS}`);
  const total = e.shares.reduce((sum, s) => sum + s.seconds, 0);
  assert.ok(Math.abs(total / e.plan.iterationS - 1) < 1e-9, `${total} vs ${e.plan.iterationS}`);
  assert.ok(e.shares.some((s) => s.kind === 'compute' && s.share > 0.5));
});

test('explain: a stage bound by memory names a faster form of it that does not fit, priced as the plan changed that way', () => {
  const plan = searched('gpt3-2.7b', 'dgx-a100-40g', 8, 16, 9);
  const e = explainPlan(plan);
  const bound = e.stages.filter((s) => s.binding === 'memory');
  assert.ok(bound.length > 0, 'at 9 GiB some stage is bound by memory');
  for (const s of bound) {
    assert.ok(s.blockedBy && !s.blockedBy.fits && s.blockedBy.iterationS < e.plan.iterationS);
    assert.ok(s.memoryBytes <= s.budgetBytes);
  }
  // "recompute off everywhere", priced by hand.
  const off = e.alternatives.find((a) => a.name === 'recompute off everywhere');
  assert.ok(off, 'the plan recomputes, so turning it off is an alternative');
  const input = planInputFromPlan({ ...plan, layers: plan.layers.map((s) => ({ ...s, recompute: 'none' as const })) });
  assert.equal(off.iterationS, pricePlan(input).iterationTimeS);
});

test('galvatron explain prints the three parts, or one JSON object; a bad plan exits 2 naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-explain-'));
  const path = join(dir, 'plan.json');
  writeFileSync(path, JSON.stringify(searched('gpt3-1.3b', 'dgx-a100-40g', 8, 16, 12)));
  const text = await runCli(['explain', path], dir);
  assert.equal(text.code, 0, text.stderr);
  for (const part of ['What binds each stage', 'Nearest alternatives', 'Where the iteration goes']) assert.ok(text.stdout.includes(part), part);
  const json = await runCli(['explain', path, '--json'], dir);
  const e = JSON.parse(json.stdout) as { stages: unknown[]; alternatives: unknown[]; shares: unknown[] };
  assert.ok(e.stages.length >= 1 && e.shares.length >= 1);
  writeFileSync(path, JSON.stringify({ format: 'galvatron.plan/v1' }));
  const bad = await runCli(['explain', path], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^galvatron: plan\.model: missing; add this field\n$/);
});
