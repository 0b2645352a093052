import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadCostConstants } from '../../src/cost/constants.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { BASELINE_FAMILIES, baselineGrid, priceBaseline, priceBaselines } from '../../src/search/baselines.js';
import { evenLayerRanges } from '../../src/cost/uniform-plan.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const GIB = 1024 ** 3;
const constants = loadCostConstants();
const a100x8 = loadCluster('dgx-a100-80g', 8);

describe('baselines', () => {
  const gpt13 = loadModel('gpt3-1.3b');
  const options = { globalBatch: 32 };
  const results = priceBaselines(gpt13, a100x8, options, constants);

  it('picks, per family, the fastest fitting config of its own grid (brute force)', () => {
    assert.deepEqual(results.map((r) => r.family), [...BASELINE_FAMILIES]);
    for (const result of results.filter((r) => r.family !== 'galvatron-even')) {
      assert.equal(result.fits, true, `${result.family}: ${result.note}`);
      assert.ok(result.config && result.cost, result.family);
      const grid = baselineGrid(result.family, gpt13, a100x8, options);
      assert.equal(result.tried, grid.length, result.family);
      let fastest = Infinity;
      for (const config of grid) {
        const cost = pricePlan(uniformPlanInput(gpt13, a100x8, config, constants));
        if (cost.fits) fastest = Math.min(fastest, cost.iterationTimeS);
      }
      assert.equal(result.cost.iterationTimeS, fastest, result.family);
      assert.equal(pricePlan(uniformPlanInput(gpt13, a100x8, result.config, constants)).iterationTimeS, fastest);
    }
  });

  it("Galvatron's even-partition search: even stages, never faster than the exact search, never slower than a uniform baseline of its space", () => {
    const even = results.find((r) => r.family === 'galvatron-even')!;
    assert.ok(even.fits && even.input && even.cost);
    const { degree, chunks } = even.input.pipeline;
    assert.deepEqual(chunks, evenLayerRanges(gpt13.layers, degree));
    const exact = searchPlan(gpt13, a100x8, { globalBatch: 32, rules: defaultRules() });
    assert.ok(exact.exact && exact.best);
    assert.ok(even.cost.iterationTimeS >= exact.best.timeS * (1 - 1e-12), `${even.cost.iterationTimeS} < exact ${exact.best.timeS}`);
    // pure DP, ZeRO-2 and ZeRO-3 are one-stage uniform plans, which the even search contains.
    for (const family of ['pure-dp', 'zero2', 'zero3'] as const) {
      const b = results.find((r) => r.family === family)!;
      assert.ok(even.cost.iterationTimeS <= b.cost!.iterationTimeS * (1 + 1e-12), family);
    }
  });

  it('keeps each family to its own knobs', () => {
    const byFamily = Object.fromEntries(results.map((r) => [r.family, r.config!]));
    assert.equal(byFamily['pure-dp']!.dpType, 'ddp');
    assert.equal(byFamily['zero2']!.dpType, 'zero2');
    assert.equal(byFamily['zero3']!.dpType, 'zero3');
    for (const family of ['pure-dp', 'zero2', 'zero3'] as const) {
      const c = byFamily[family]!;
      assert.deepEqual([c.tp, c.pp, c.cp], [1, 1, 1], family);
    }
    assert.equal(byFamily['deepspeed-3d']!.dpType, 'zero1');
    assert.equal(byFamily['deepspeed-3d']!.sequenceParallel, false);
    for (const c of baselineGrid('deepspeed-3d', gpt13, a100x8, options)) assert.ok(c.recompute !== 'selective');
  });

  it('lists the hand-derived (t, p) pairs for the Megatron grid of llama2-7b on 8 GPUs', () => {
    const llama = loadModel('llama2-7b');
    const grid = baselineGrid('megatron', llama, a100x8, { globalBatch: 16 });
    const pairs = new Set(grid.map((c) => `${c.tp}x${c.pp}`));
    const expected = ['1x1', '1x2', '1x4', '1x8', '2x1', '2x2', '2x4', '4x1', '4x2', '8x1'];
    assert.deepEqual([...pairs].sort(), expected.sort());
    for (const c of grid) {
      const dp = 8 / (c.tp * c.pp);
      assert.ok(Number.isInteger(dp));
      assert.equal(16 % (c.microBatch * dp), 0);
      assert.equal(c.sequenceParallel, c.tp > 1);
      assert.equal(c.schedule, '1f1b');
      assert.equal(c.vpp, 1);
      assert.ok(c.dpType === 'ddp' || c.dpType === 'zero1');
      const input = uniformPlanInput(llama, a100x8, c, constants);
      assert.equal(input.strategies[0]!.dp, dp);
    }
    // t = 1, p = 1, d = 8: micro-batches 1 and 2 (b·8 | 16), 3 recomputes, 2 DP types.
    assert.equal(grid.filter((c) => c.tp === 1 && c.pp === 1).length, 2 * 3 * 2);
  });

  it('reports pure DP of gpt3-175b on 8 × 80 GB as not fitting, naming the memory it needs', () => {
    const pureDp = priceBaseline('pure-dp', loadModel('gpt3-175b'), a100x8, { globalBatch: 8 }, constants);
    assert.equal(pureDp.family, 'pure-dp');
    assert.equal(pureDp.fits, false);
    assert.ok(pureDp.config && pureDp.cost);
    assert.ok(pureDp.cost.memoryPerGpuBytes > 80 * GIB);
    const needed = pureDp.note?.match(/needs ([\d.]+) GiB/);
    assert.ok(needed, pureDp.note);
    assert.ok(Number(needed[1]) > 80, pureDp.note);
    // The least-memory config of the grid: full recompute.
    assert.equal(pureDp.config.recompute, 'full');
  });

  it('orders model-state memory zero3 ≤ zero2 ≤ pure DP for the same micro-batch and recompute', () => {
    for (const config of baselineGrid('pure-dp', gpt13, a100x8, options)) {
      const modelStates = (dpType: 'ddp' | 'zero2' | 'zero3') =>
        pricePlan(uniformPlanInput(gpt13, a100x8, { ...config, dpType }, constants)).stages[0]!.memory.modelStateBytes;
      const ddp = modelStates('ddp');
      const zero2 = modelStates('zero2');
      const zero3 = modelStates('zero3');
      assert.ok(zero3 <= zero2 && zero2 <= ddp, `${config.microBatch}/${config.recompute}: ${zero3} ${zero2} ${ddp}`);
      assert.ok(zero3 < ddp);
    }
  });

  it('a grid priced in bound order returns what pricing every config returns (fastest fitting, first among equals; else the leanest)', () => {
    const cases = [
      { model: 'llama2-7b', cluster: 'dgx-a100-40g', gpus: 16, globalBatch: 64, memoryGiB: undefined },
      { model: 'gpt3-2.7b', cluster: '8x-rtx4090-pcie', gpus: 8, globalBatch: 32, memoryGiB: 12 },
      { model: 'bert-large', cluster: 'dgx-a100-80g', gpus: 8, globalBatch: 32, memoryGiB: undefined },
      // Nothing fits: the leanest config is reported.
      { model: 'gpt3-175b', cluster: 'dgx-a100-80g', gpus: 8, globalBatch: 8, memoryGiB: undefined },
    ];
    for (const c of cases) {
      const model = loadModel(c.model);
      const cluster = loadCluster(c.cluster, c.gpus);
      const opts = { globalBatch: c.globalBatch, ...(c.memoryGiB === undefined ? {} : { memoryGiB: c.memoryGiB }) };
      for (const family of ['pure-dp', 'zero3', 'megatron', 'deepspeed-3d'] as const) {
        let fastest: { time: number; index: number } | undefined;
        let leanest: { bytes: number; index: number } | undefined;
        baselineGrid(family, model, cluster, opts).forEach((config, index) => {
          let cost;
          try {
            cost = pricePlan(uniformPlanInput(model, cluster, config, constants));
          } catch {
            return;
          }
          if (cost.fits && (!fastest || cost.iterationTimeS < fastest.time)) fastest = { time: cost.iterationTimeS, index };
          if (!cost.fits && (!leanest || cost.memoryPerGpuBytes < leanest.bytes)) leanest = { bytes: cost.memoryPerGpuBytes, index };
        });
        const result = priceBaseline(family, model, cluster, opts, constants);
        const grid = baselineGrid(family, model, cluster, opts);
        const what = `${c.model} ${family}`;
        if (fastest) {
          assert.equal(result.fits, true, what);
          assert.equal(result.cost!.iterationTimeS, fastest.time, what);
          assert.deepEqual(result.config, grid[fastest.index], what);
        } else if (leanest) {
          assert.equal(result.fits, false, what);
          assert.deepEqual(result.config, grid[leanest.index], what);
        }
      }
    }
  });

  it('says why a family has no valid configuration', () => {
    const pureDp = priceBaseline('pure-dp', gpt13, a100x8, { globalBatch: 12 }, constants);
    assert.equal(pureDp.config, undefined);
    assert.equal(pureDp.fits, false);
    assert.equal(pureDp.tried, 0);
    assert.match(pureDp.note ?? '', /global batch 12/);
  });
});
