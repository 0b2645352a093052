// Many small micro-batches cost more than few large ones (issue 10): GPT-3 1.3B on one H200 at global batch
// 8 took 823 ms as 8 × 1 and 418 ms as 1 × 8 (test/fixtures/h200-2026-11-30). The default model must
// price the same direction, and say which terms carry it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCostConstants } from '../../src/cost/constants.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';

const model = loadModel('gpt3-1.3b');
const cluster = loadCluster('hgx-h200', 1);
const stepS = (microBatch: number, constants = loadCostConstants()) =>
  pricePlan(
    uniformPlanInput(
      model,
      cluster,
      { globalBatch: 8, microBatch, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b' },
      constants,
    ),
  ).iterationTimeS;

test('8 micro-batches of 1 sample cost more than 1 of 8, and the host floor carries most of the gap', () => {
  const eightOfOne = stepS(1);
  const oneOfEight = stepS(8);
  // Measured 823 / 418 = 1.97 (with layer 0 recomputed in the 8 × 1 run): the model must see a real gap.
  assert.ok(eightOfOne > 1.5 * oneOfEight, `${eightOfOne} vs ${oneOfEight}`);
  // Without the host floor and the per-kernel cost, only the kernels' own size effects remain: under 15 %.
  const bare = { ...loadCostConstants(), layerHostUs: 0, kernelOverheadUs: 0 };
  const kernelsOnly = stepS(1, bare) / stepS(8, bare);
  assert.ok(kernelsOnly >= 1 && kernelsOnly < 1.15, `kernels alone: ${kernelsOnly}`);
});
