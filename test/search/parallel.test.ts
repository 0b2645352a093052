// The worker_threads search returns exactly what the sequential search returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { searchPlanParallel } from '../../src/search/parallel-search.js';
import { searchPlan, type SearchOptions } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const cases: { model: string; cluster: string; gpus: number; options: SearchOptions }[] = [
  { model: 'gpt3-1.3b', cluster: 'dgx-a100-40g', gpus: 8, options: { globalBatch: 32, rules: defaultRules(), memoryGiB: 10, frontierLimit: 16 } },
  { model: 'gpt3-2.7b', cluster: '8x-rtx4090-pcie', gpus: 16, options: { globalBatch: 64, rules: defaultRules(), frontierLimit: 16 } },
  { model: 'bert-large', cluster: 'dgx-a100-80g', gpus: 4, options: { globalBatch: 16, rules: defaultRules(), partition: 'bmw', frontierLimit: 16 } },
];

for (const c of cases) {
  test(`parallel = sequential: ${c.model} on ${c.gpus} × ${c.cluster}${c.options.partition ? ` (${c.options.partition})` : ''}`, async () => {
    const model = loadModel(c.model);
    const cluster = loadCluster(c.cluster, c.gpus);
    const sequential = searchPlan(model, cluster, c.options);
    const parallel = await searchPlanParallel(model, cluster, c.options, 2);
    assert.ok(sequential.best && parallel.best);
    assert.equal(parallel.best!.timeS, sequential.best!.timeS);
    assert.deepEqual(parallel.best!.input.strategies, sequential.best!.input.strategies);
    assert.deepEqual(parallel.best!.input.pipeline, sequential.best!.input.pipeline);
    assert.deepEqual(parallel.best!.input.embeddingStrategy, sequential.best!.input.embeddingStrategy);
    assert.equal(parallel.exact, sequential.exact);
    assert.equal(parallel.tasks, sequential.tasks);
  });
}
