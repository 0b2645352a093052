// The inverse of planFromCost: a Plan back into the cost model's input, so a written plan can be priced
// again (for the executor's dtype, with another cluster, …).
import { loadCostConstants } from '../cost/constants.js';
import { pricePlan, type PlanCost, type PlanInput } from '../cost/plan-cost.js';
import type { CostConstants, Precision } from '../cost/types.js';
import { embeddingShape, layerList } from '../model/derived.js';
import type { Plan } from './schema.js';

/** `constants`: the cost model's free constants (default: src/cost/calibration.json's; a calibration file's). */
export function planInputFromPlan(plan: Plan, constants: CostConstants = loadCostConstants()): PlanInput {
  const t = plan.training;
  return {
    layers: layerList(plan.model),
    strategies: plan.layers,
    embedding: embeddingShape(plan.model),
    embeddingStrategy: plan.embedding,
    tiedEmbeddings: plan.model.tiedEmbeddings,
    rope: plan.model.positional === 'rope',
    setup: {
      globalBatch: t.globalBatch,
      microBatches: t.microBatches,
      seqLen: t.seqLen,
      precision: t.precision,
      attention: t.attention,
      fp32MainGrads: t.fp32MainGrads,
      tpOverlap: t.tpOverlap,
      dropout: t.dropout,
      ...(t.elementwiseKernels ? { elementwiseKernels: t.elementwiseKernels } : {}),
      ...(t.selectiveRecompute ? { selectiveRecompute: t.selectiveRecompute } : {}),
    },
    pipeline: {
      degree: plan.pipeline.degree,
      schedule: plan.pipeline.schedule,
      virtualStages: plan.pipeline.virtualStages,
      chunks: plan.pipeline.chunks.map((c) => ({ start: c.start, end: c.end })),
    },
    cluster: { ...plan.cluster },
    constants: { ...constants },
  };
}

/** The executor's compute types (python/galvatron_runtime/device.py). */
export type ExecutorDtype = 'float64' | 'float32' | 'bf16' | 'fp16';

/** The precision whose byte counts the executor's dtype has; float64 has none in the cost model. */
export function precisionOfDtype(dtype: ExecutorDtype): Precision | undefined {
  if (dtype === 'bf16') return 'bf16';
  if (dtype === 'fp16') return 'fp16';
  if (dtype === 'float32') return 'fp32';
  return undefined;
}

/**
 * The plan as the executor runs it: in the run's dtype, with the plan's dropout (the executor applies it
 * on the embedding output and before each residual add, as priced; not on attention probabilities, which
 * flash pricing has none of), flash-style attention (SDPA) and gradients in the working dtype. `dropout`
 * overrides the plan's for runs of an executor that had none (before issue 13: the H200 fixtures). Its
 * norms, SwiGLU and RoPE run as eager ops, yet it is priced with fused kernels: its H200 fixtures (the old
 * autocast executor) fit that better (leave-one-out 8.6 % against 15.6 % as eager, docs/cost-model.md).
 * Undefined for float64.
 */
export function executorPlanInput(plan: Plan, dtype: ExecutorDtype, constants?: CostConstants, dropout = plan.training.dropout): PlanInput | undefined {
  const precision = precisionOfDtype(dtype);
  if (precision === undefined) return undefined;
  const input = planInputFromPlan(plan, constants);
  input.setup = { ...input.setup, precision, dropout, attention: 'flash', fp32MainGrads: false };
  return input;
}

/** The plan priced as the executor runs it (executorPlanInput); undefined for float64. */
export function priceForExecutor(plan: Plan, dtype: ExecutorDtype, constants?: CostConstants, dropout = plan.training.dropout): PlanCost | undefined {
  const input = executorPlanInput(plan, dtype, constants, dropout);
  return input === undefined ? undefined : pricePlan(input);
}
