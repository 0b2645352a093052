// Ties go to the leaner plan: among data-parallel types that give the same predicted time, the plan
// takes the one with the least memory per GPU; it never gets slower or fuller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCostConstants } from '../../src/cost/constants.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput, type UniformConfig } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { leanOut } from '../../src/search/lean-out.js';
import { searchPlan } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';
import type { DpType } from '../../src/strategy/layer-strategy.js';

const constants = loadCostConstants();
const model = loadModel('gpt3-1.3b');
// With free links (no latency, 1e300 GB/s: 8 GPUs on one node) the data-parallel types differ in memory
// only: ZeRO-1, -2 and -3 take exactly the same time, and each holds less than the one before. Such a
// cluster is a library-level idealisation (a cluster file or plan may state at most 1,000,000 GB/s), so the
// search below runs on the largest statable links instead.
const base = loadCluster('dgx-a100-80g', 8);
const cluster = { ...base, intraNode: { ...base.intraNode, busBandwidthGBps: 1e300, latencyUs: 0 } };
const fastest = { ...base, intraNode: { ...base.intraNode, busBandwidthGBps: 1e6, latencyUs: 0 } };
const config = (dpType: DpType): UniformConfig => ({ globalBatch: 32, microBatch: 1, tp: 1, pp: 1, cp: 1, vpp: 1, schedule: '1f1b', precision: 'bf16', dpType, recompute: 'none', sequenceParallel: false });

test('a ZeRO-1 plan whose ZeRO-2 twin is as fast becomes ZeRO-2, at less memory (ZeRO-3 when sdp is in the space)', () => {
  const zero1 = uniformPlanInput(model, cluster, config('zero1'), constants);
  const zero2 = uniformPlanInput(model, cluster, config('zero2'), constants);
  const c1 = pricePlan(zero1);
  const c2 = pricePlan(zero2);
  assert.equal(c2.iterationTimeS, c1.iterationTimeS, 'the premise: equal times');
  assert.ok(c2.memoryPerGpuBytes < c1.memoryPerGpuBytes, 'the premise: ZeRO-2 holds less');
  const lean = leanOut({ input: zero1, cost: c1 }, { ...defaultRules(), paradigms: ['tp', 'dp'] });
  assert.equal(lean.cost.iterationTimeS, c1.iterationTimeS);
  assert.equal(lean.cost.memoryPerGpuBytes, c2.memoryPerGpuBytes);
  assert.ok(lean.input.strategies.every((s) => s.dpType === 'zero2'));
  assert.equal(lean.input.embeddingStrategy.dpType, 'zero2');
  const zero3 = pricePlan(uniformPlanInput(model, cluster, config('zero3'), constants));
  assert.equal(zero3.iterationTimeS, c1.iterationTimeS);
  const leanest = leanOut({ input: zero1, cost: c1 }, defaultRules());
  assert.equal(leanest.cost.memoryPerGpuBytes, zero3.memoryPerGpuBytes);
  assert.ok(leanest.input.strategies.every((s) => s.dpType === 'zero3'));
});

test('a plan with no tie is left as it is', () => {
  // On the real cluster ZeRO-2's per-micro-batch reduce-scatter costs time: no tie.
  const input = uniformPlanInput(model, base, config('zero1'), constants);
  const cost = pricePlan(input);
  const lean = leanOut({ input, cost }, defaultRules());
  assert.ok(lean.cost.iterationTimeS <= cost.iterationTimeS);
  assert.ok(lean.cost.memoryPerGpuBytes <= cost.memoryPerGpuBytes);
});

test('the search returns the leanest of equal-time plans', () => {
  // The best uniform plan comes first in the space as ZeRO-1; ZeRO-2 ties with it and holds less.
  const result = searchPlan(model, fastest, { globalBatch: 32, rules: { ...defaultRules(), paradigms: ['tp', 'dp'], recompute: ['none'] }, constants });
  assert.ok(result.best);
  const best = result.best;
  // No single DP-type change of a layer class or the embedding gives the same time with less memory.
  const again = leanOut({ input: best.input, cost: best.cost }, { ...defaultRules(), paradigms: ['tp', 'dp'] });
  assert.equal(again.cost, best.cost);
  assert.ok(best.input.strategies.every((s) => s.dpType === 'zero2'), 'ZeRO-2 is the leanest of the tied types here');
  assert.equal(best.input.embeddingStrategy.dpType, 'zero2');
});
