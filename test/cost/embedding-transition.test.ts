// The first layer takes its activations from the embedding and the head takes the last layer's output,
// both in the embedding strategy's layout: a different layout costs a re-distribution each way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { transitionTimeS } from '../../src/cost/transition.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';

test('an embedding laid out unlike the layers pays one re-distribution into layer 0 and one into the head', () => {
  const model = loadModel('gpt3-1.3b');
  const cluster = loadCluster('dgx-a100-80g', 8);
  const input = uniformPlanInput(model, cluster, {
    globalBatch: 16, microBatch: 2, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'zero2', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b',
  });
  const same = pricePlan(input);
  assert.equal(same.stages[0]!.terms['forward.redistribute'] ?? 0, 0, 'same layout: nothing to move');

  const embeddingStrategy = { ...input.strategies[0]!, tp: 2, dp: 4, sequenceParallel: true };
  const mixed = pricePlan({ ...input, embeddingStrategy });
  const shape = input.layers[0]!;
  const microBatchSamples = 16 / input.setup.microBatches;
  const intoLayer = transitionTimeS(embeddingStrategy, input.strategies[0]!, microBatchSamples, shape.seqLen, shape.hidden, 'bf16', cluster);
  const intoHead = transitionTimeS(input.strategies[0]!, embeddingStrategy, microBatchSamples, shape.seqLen, shape.hidden, 'bf16', cluster);
  assert.ok(intoLayer > 0 && intoHead > 0);
  assert.equal(mixed.stages[0]!.terms['forward.redistribute'], intoLayer + intoHead);
  assert.equal(mixed.stages[0]!.terms['backward.redistribute'], intoLayer + intoHead);
});
