// Every baseline is a point of the searched space, so no fitting baseline may beat the exact search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCostConstants } from '../../src/cost/constants.js';
import { loadCluster } from '../../src/hardware/load.js';
import { resolveModelSpec } from '../../src/model/load.js';
import { priceBaselines } from '../../src/search/baselines.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

test('no baseline beats the plan (random small instances, exact search)', () => {
  let compared = 0;
  fc.assert(
    fc.property(
      fc.record({
        layers: fc.integer({ min: 2, max: 4 }),
        gpus: fc.constantFrom(2, 4, 8),
        globalBatch: fc.constantFrom(4, 8, 16),
        memoryGiB: fc.double({ min: 3, max: 40, noNaN: true }),
        cluster: fc.constantFrom('dgx-a100-80g', '8x-rtx4090-pcie', 'dgx-h100'),
      }),
      (r) => {
        const model = resolveModelSpec({ name: 'small-gpt', family: 'gpt', layers: r.layers, hidden: 2048, heads: 16, vocab: 32000, seqLen: 2048 });
        const cluster = loadCluster(r.cluster, r.gpus);
        const searched = searchPlan(model, cluster, { globalBatch: r.globalBatch, rules: defaultRules(), memoryGiB: r.memoryGiB });
        const baselines = priceBaselines(model, cluster, { globalBatch: r.globalBatch, memoryGiB: r.memoryGiB }, loadCostConstants());
        for (const b of baselines) {
          if (!b.fits || !b.cost) continue;
          assert.ok(searched.best, `${b.family} fits but the search found nothing`);
          assert.ok(b.cost.iterationTimeS >= searched.best!.timeS * (1 - 1e-9), `${b.family} ${b.cost.iterationTimeS} < plan ${searched.best!.timeS}`);
          compared++;
        }
        assert.equal(searched.exact, true);
      },
    ),
    { numRuns: 12, seed: 11 },
  );
  assert.ok(compared >= 30, `compared ${compared} fitting baselines`);
});
