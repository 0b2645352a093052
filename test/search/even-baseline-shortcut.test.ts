// The Galvatron even-partition baseline is taken from the exact search's own result where that result
// settles it (exact, and no per-layer plan beat the best uniform one). These are the docs/plan-quality.md
// cases where that shortcut applies (`npm run bench:quality` checks every case and reports the count): in
// each, the baseline is identical to a full even-partition search. (Elsewhere the full search runs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { priceBaseline } from '../../src/search/baselines.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const cases = [
  { model: 'gpt3-1.3b', cluster: '8x-rtx4090-pcie', gpus: 8, gb: 20 },
  { model: 'gpt3-1.3b', cluster: 'dgx-a100-40g', gpus: 8, gb: 20 },
  { model: 'gpt3-1.3b', cluster: 'dgx-a100-40g', gpus: 16, gb: 20 },
];

for (const c of cases) {
  test(`even-partition baseline from the search's own work: ${c.model} on ${c.gpus} × ${c.cluster} at ${c.gb} GB`, () => {
    const model = loadModel(c.model);
    const cluster = loadCluster(c.cluster, c.gpus);
    const options = { globalBatch: 4 * c.gpus, memoryGiB: (c.gb * 1e9) / 1024 ** 3, frontierLimit: 32 };
    const searched = searchPlan(model, cluster, { ...options, rules: defaultRules(), maxVirtualStages: 1 });
    assert.ok(searched.exact && searched.uniform, 'the shortcut applies');
    const full = priceBaseline('galvatron-even', model, cluster, options);
    const fromSearch = priceBaseline('galvatron-even', model, cluster, { ...options, exactSearch: searched });
    assert.ok(full.fits && fromSearch.fits);
    assert.deepEqual(fromSearch.input?.strategies, full.input?.strategies);
    assert.deepEqual(fromSearch.input?.embeddingStrategy, full.input?.embeddingStrategy);
    assert.deepEqual(fromSearch.input?.pipeline, full.input?.pipeline);
    assert.equal(fromSearch.input?.setup.microBatches, full.input?.setup.microBatches);
    assert.equal(fromSearch.cost?.iterationTimeS, full.cost?.iterationTimeS);
    assert.equal(fromSearch.cost?.memoryPerGpuBytes, full.cost?.memoryPerGpuBytes);
  });
}
