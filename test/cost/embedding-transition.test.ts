// The first layer takes its activations from the embedding and the head takes the last layer's output,
// both in the embedding strategy's layout: a different layout costs a re-distribution each way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { transitionTimeS } from '../../src/cost/transition.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { embeddingShape, headForwardFlops, layerParametersPerTpRank, parameterCounts } from '../../src/model/derived.js';
import { headCost } from '../../src/cost/embedding.js';
import type { LayerCostContext } from '../../src/cost/layer-time.js';

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

test('image models: TP splits the classifier (with its bias), not the replicated patch embedding (the embedding came out negative at TP 8)', () => {
  for (const [id, tp] of [['vit-huge', 8], ['swin-large', 2]] as const) {
    const model = loadModel(id);
    const cluster = loadCluster('dgx-a100-80g', 8);
    const config = { globalBatch: 16, microBatch: 2, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b' } as const;
    const input = (tp: number) => uniformPlanInput(model, cluster, { ...config, tp });
    const states = (tp: number) => pricePlan(input(tp)).stages[0]!.memory.modelStateBytes;
    const emb = input(tp).embedding;
    assert.equal(emb.inputSplitParameters, 0);
    assert.equal(emb.headSplitParameters, emb.headParameters);
    // DDP at TP 1 holds every parameter: that gives the bytes per parameter. From TP 1 to TP t a GPU
    // sheds (t-1)/t of each layer's split parameters and of the classifier, nothing of the embedding.
    const bytesPerParam = states(1) / parameterCounts(model).total;
    const layersShed = input(tp).layers.reduce((sum, shape) => sum + layerParametersPerTpRank(shape, 1) - layerParametersPerTpRank(shape, tp), 0);
    const shed = (states(1) - states(tp)) / bytesPerParam;
    const classifierShed = (emb.headSplitParameters * (tp - 1)) / tp;
    assert.ok(Math.abs(shed - layersShed - classifierShed) < 1e-9 * shed, `${id}: shed ${shed}, expected ${layersShed + classifierShed}`);
  }
});

test("Swin's head is priced at its last stage (7×7 tokens at 1536 for Swin-L), as python/galvatron_runtime/swin.py runs it", () => {
  const model = loadModel('swin-large');
  const emb = embeddingShape(model);
  assert.equal(emb.headSeqLen, 49);
  assert.equal(emb.headHidden, 1536);
  assert.equal(emb.finalNormParameters, 2 * 1536);
  assert.equal(headForwardFlops(emb), 2 * 1000 * 1536);
  const cluster = loadCluster('dgx-a100-80g', 8);
  const input = uniformPlanInput(model, cluster, { globalBatch: 8, microBatch: 1, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b' });
  const ctx: LayerCostContext = { kernel: { gpu: cluster.gpu, precision: 'bf16', constants: input.constants }, cluster, setup: input.setup };
  const head = headCost(emb, input.embeddingStrategy, 8, ctx, false);
  // Per micro-batch (8 samples over dp 8: one): the final norm keeps its input and output (2 bytes each)
  // and two fp32 statistics per token, over 49 tokens of 1536; then 1000 fp32 logits, one label row.
  assert.equal(head.activationBytesPerMicroBatch, 49 * (2 * 1536 * 2 + 8) + 1000 * 4 + (8 + 1));
  // The head no longer costs as if it ran over the embedding's 3136 tokens at 192.
  const vitLike = headCost({ ...emb, headSeqLen: undefined, headHidden: undefined }, input.embeddingStrategy, 8, ctx, false);
  assert.ok(vitLike.activationBytesPerMicroBatch > 7 * head.activationBytesPerMicroBatch);
});
