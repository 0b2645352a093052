// A search thinned by a frontier limit is not proven optimal, but never returns less than the best
// baseline plan of its own space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { priceBaselines } from '../../src/search/baselines.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

test('thinned search ≥ every fitting baseline (GPT-3 1.3B, 8 RTX 4090, 12 GB, frontier limit 4)', () => {
  const model = loadModel('gpt3-1.3b');
  const cluster = loadCluster('8x-rtx4090-pcie', 8);
  const memoryGiB = 12e9 / 1024 ** 3;
  const result = searchPlan(model, cluster, { globalBatch: 32, rules: defaultRules(), memoryGiB, frontierLimit: 4 });
  assert.equal(result.exact, false);
  assert.ok(result.best);
  for (const b of priceBaselines(model, cluster, { globalBatch: 32, memoryGiB })) {
    if (b.fits && b.cost) assert.ok(b.cost.iterationTimeS >= result.best!.timeS * (1 - 1e-12), `${b.family} ${b.cost.iterationTimeS} < ${result.best!.timeS}`);
  }
});
