// Every plan the search emits validates, re-reads identically from its file, and re-prices to the same
// predicted time: uniform, per-layer heterogeneous (memory-tight), interleaved, LLaMA (GQA, RoPE, SwiGLU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { parsePlan, planOf, readPlanFile, writePlan } from '../../src/plan/io.js';
import { planInputFromPlan } from '../../src/plan/to-cost.js';
import { searchPlan, type SearchOptions } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-round-trip-'));

const cases: { name: string; model: string; cluster: string; gpus: number; options: Omit<SearchOptions, 'rules'> }[] = [
  { name: 'LLaMA-2 7B on 8 A100s (uniform)', model: 'llama2-7b', cluster: 'dgx-a100-80g', gpus: 8, options: { globalBatch: 16 } },
  { name: 'GPT-3 2.7B on 8 A100-40GB at 9 GiB (per-layer, memory-tight)', model: 'gpt3-2.7b', cluster: 'dgx-a100-40g', gpus: 8, options: { globalBatch: 16, memoryGiB: 9 } },
  { name: 'GPT-3 13B on 16 A100s at 20 GiB (interleaved, per-layer)', model: 'gpt3-13b', cluster: 'dgx-a100-80g', gpus: 16, options: { globalBatch: 64, maxVirtualStages: 3, memoryGiB: 20 } },
];
// What each case must exercise: distinct strategies and chunks per stage.
const shapes: Record<string, { distinct: number; virtualStages: number }> = {
  'llama2-7b': { distinct: 1, virtualStages: 1 },
  'gpt3-2.7b': { distinct: 2, virtualStages: 1 },
  'gpt3-13b': { distinct: 2, virtualStages: 2 },
};

for (const c of cases) {
  test(`round trip: ${c.name}`, () => {
    const model = loadModel(c.model);
    const cluster = loadCluster(c.cluster, c.gpus);
    const result = searchPlan(model, cluster, { ...c.options, rules: defaultRules(), frontierLimit: 32, command: 'test' });
    assert.ok(result.best, 'the search finds a plan');
    const shape = shapes[c.model]!;
    assert.ok(new Set(result.best.input.strategies.map((s) => JSON.stringify(s))).size >= shape.distinct, 'per-layer strategies');
    assert.ok(result.best.input.pipeline.virtualStages >= shape.virtualStages, 'interleaved');
    // The search returns the plan object itself: its priced input as a plan, on the GPU it was searched for.
    const plan = result.plan!;
    assert.deepEqual(plan, planOf(model, result.best.input, result.best.cost, 'test', cluster.gpu.memoryGiB));
    assert.equal(plan.cluster.gpu.memoryGiB, cluster.gpu.memoryGiB);
    const path = join(dir, `${c.model}.json`);
    writePlan(path, plan);
    const again = readPlanFile(path);
    assert.deepEqual(again, plan);
    assert.deepEqual(parsePlan(JSON.parse(readFileSync(path, 'utf8'))), plan);
    // Re-priced from the file alone: the same time as the search priced, and as the file says.
    const repriced = pricePlan(planInputFromPlan(again, result.best.input.constants));
    assert.equal(repriced.iterationTimeS, result.best.cost.iterationTimeS);
    assert.equal(again.predicted.iterationTimeS, result.best.cost.iterationTimeS);
  });
}
