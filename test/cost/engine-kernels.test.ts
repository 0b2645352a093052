// What the engine runs around the GEMMs: eager PyTorch ops against fused kernels, and torchtitan's
// op-level selective recompute against Megatron's attention core, each checked against bytes and GEMMs
// counted by hand for one LLaMA layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemmTimeS, memoryBoundTimeS } from '../../src/cost/kernels.js';
import { layerTime } from '../../src/cost/layer-time.js';
import { loadCluster } from '../../src/hardware/load.js';
import { layerList } from '../../src/model/derived.js';
import { resolveModelSpec } from '../../src/model/load.js';
import { planFromCost } from '../../src/plan/from-cost.js';
import { planInputFromPlan } from '../../src/plan/to-cost.js';
import { PlanSchema } from '../../src/plan/schema.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { loadCostConstants } from '../../src/cost/constants.js';
import { assertClose, context, setup, strategy } from './helpers.js';

// LLaMA-3 8B's layer at seq 1024: h 4096, 32 heads, 8 KV heads, SwiGLU 14336, RMSNorm, RoPE.
const model = resolveModelSpec({ name: 'llama-layer', family: 'llama', layers: 1, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, ffnType: 'swiglu', positional: 'rope', vocab: 128256, seqLen: 1024 });
const shape = layerList(model)[0]!;
const cluster = loadCluster('dgx-h100', 8);
const bf16 = (overrides = {}) => setup({ precision: 'bf16', attention: 'flash', dropout: false, seqLen: 1024, ...overrides });
const termOf = (terms: { name: string; seconds: number }[], name: string) => terms.find((t) => t.name === name)?.seconds ?? 0;

test('eager kernels: RMSNorm 36 B, SwiGLU 10 B, RoPE 20 B per element and the attention output copy, in 19 kernels', () => {
  const tokens = 1024;
  const eager = context(cluster, bf16({ elementwiseKernels: 'eager' }));
  const fused = context(cluster, bf16());
  const eagerTime = layerTime(shape, strategy({}), 1, eager, { rope: true });
  const fusedTime = layerTime(shape, strategy({}), 1, fused, { rope: true });
  // Two norms and two residual adds (2+2+2 bytes) on the stream; SwiGLU on the inner width; the
  // attention output (32 heads × 128) copied back to token-major.
  const streamBytes = tokens * 4096 * 2 * (36 + 6);
  const ffnBytes = tokens * 14336 * 10;
  const transposeBytes = tokens * 4096 * 4;
  const ropeBytes = tokens * (32 + 8) * 128 * 20;
  const expectedEager =
    memoryBoundTimeS(eager.kernel, streamBytes + ffnBytes + transposeBytes, 2 * (6 + 1) + 2 + 1) + memoryBoundTimeS(eager.kernel, ropeBytes, 6);
  const expectedFused =
    memoryBoundTimeS(fused.kernel, tokens * 4096 * 2 * (4 + 6) + tokens * 14336 * 6, 2 * 2 + 1) + memoryBoundTimeS(fused.kernel, tokens * (32 + 8) * 128 * 4, 2);
  assertClose(termOf(eagerTime.forwardTerms, 'elementwise'), expectedEager, 1e-12, 'eager forward');
  assertClose(termOf(fusedTime.forwardTerms, 'elementwise'), expectedFused, 1e-12, 'fused forward');
  // Backward moves twice the forward's bytes either way; GEMMs and attention do not change.
  assertClose(termOf(eagerTime.backwardTerms, 'elementwise'), 2 * expectedEager, 1e-12, 'eager backward');
  assert.equal(termOf(eagerTime.forwardTerms, 'gemm'), termOf(fusedTime.forwardTerms, 'gemm'));
  assert.ok(expectedEager > 3 * expectedFused, `${expectedEager} vs ${expectedFused}`);
});

test("op-level selective recompute re-runs K, the output projection and W3 and every memory-bound op, not attention", () => {
  const ctx = context(cluster, bf16({ selectiveRecompute: 'op-level' }));
  const time = layerTime(shape, strategy({ recompute: 'selective' }), 1, ctx, { rope: true });
  const t = 1024;
  const k = gemmTimeS(ctx.kernel, t, 8 * 128, 4096);
  const out = gemmTimeS(ctx.kernel, t, 4096, 32 * 128);
  const w3 = gemmTimeS(ctx.kernel, t, 14336, 4096);
  const elementwise = termOf(time.forwardTerms, 'elementwise');
  assertClose(termOf(time.backwardTerms, 'recompute'), k + out + w3 + elementwise, 1e-12, 'op-level recompute');
  // Megatron's selective recompute re-runs the attention core instead.
  const megatron = layerTime(shape, strategy({ recompute: 'selective' }), 1, context(cluster, bf16()), { rope: true });
  assertClose(termOf(megatron.backwardTerms, 'recompute'), termOf(megatron.forwardTerms, 'attention'), 1e-12, 'attention-core recompute');
});

test('a plan keeps its engine fields: eager kernels and op-level recompute survive plan → cost → plan', () => {
  const input = uniformPlanInput(
    model,
    cluster,
    { globalBatch: 8, microBatch: 1, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'zero3', recompute: 'selective', sequenceParallel: false, precision: 'bf16', schedule: '1f1b', elementwiseKernels: 'eager', selectiveRecompute: 'op-level' },
    loadCostConstants(),
  );
  const cost = pricePlan(input);
  const plan = PlanSchema.parse(planFromCost(model, input, cost, 'test'));
  assert.equal(plan.training.elementwiseKernels, 'eager');
  assert.equal(plan.training.selectiveRecompute, 'op-level');
  const again = pricePlan(planInputFromPlan(plan));
  assert.equal(again.iterationTimeS, cost.iterationTimeS);
});
