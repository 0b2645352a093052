// Builds a Plan object from a priced plan input.
import type { ModelSpec } from '../model/spec.js';
import type { PlanCost, PlanInput } from '../cost/plan-cost.js';
import { PLAN_FORMAT, type Plan } from './schema.js';

const GIB = 1024 ** 3;

/**
 * `deviceMemoryGiB`: the GPU's own memory, when the plan was searched against a smaller budget
 * (--memory-gib, --memory-margin): the plan's cluster keeps the real GPU; the budget is plan data.
 */
export function planFromCost(model: ModelSpec, input: PlanInput, cost: PlanCost, command: string, deviceMemoryGiB?: number): Plan {
  const { cluster, setup, pipeline } = input;
  const reserveGiB = input.constants.fixedMemoryGiB;
  return {
    format: PLAN_FORMAT,
    model,
    cluster: {
      name: cluster.name,
      gpu: deviceMemoryGiB === undefined ? cluster.gpu : { ...cluster.gpu, memoryGiB: deviceMemoryGiB },
      gpusPerNode: cluster.gpusPerNode,
      nodes: cluster.nodes,
      intraNode: cluster.intraNode,
      interNode: cluster.interNode,
      overlapSlowdown: cluster.overlapSlowdown,
    },
    training: {
      globalBatch: setup.globalBatch,
      microBatches: setup.microBatches,
      seqLen: setup.seqLen,
      precision: setup.precision,
      optimizer: 'adam',
      attention: setup.attention,
      fp32MainGrads: setup.fp32MainGrads,
      tpOverlap: setup.tpOverlap,
      dropout: setup.dropout,
      ...(setup.elementwiseKernels ? { elementwiseKernels: setup.elementwiseKernels } : {}),
      ...(setup.selectiveRecompute ? { selectiveRecompute: setup.selectiveRecompute } : {}),
    },
    pipeline: {
      degree: pipeline.degree,
      schedule: pipeline.schedule,
      virtualStages: pipeline.virtualStages,
      chunks: pipeline.chunks.map((c) => ({ start: c.start, end: c.end })),
    },
    embedding: input.embeddingStrategy,
    layers: input.strategies,
    predicted: {
      iterationTimeS: cost.iterationTimeS,
      samplesPerS: cost.samplesPerS,
      tokensPerSPerGpu: cost.tokensPerSPerGpu,
      tflopsPerGpu: cost.tflopsPerGpu,
      mfu: cost.mfu,
      memoryPerGpuGiB: cost.memoryPerGpuBytes / GIB,
      memoryBudgetGiB: cost.memoryBudgetBytes / GIB,
      memoryReserveGiB: reserveGiB,
      // What PyTorch's allocator should peak at: the prediction less the reserve it does not see.
      allocatorPeakGiB: cost.memoryPerGpuBytes / GIB - reserveGiB,
      fits: cost.fits,
      stages: cost.stages.map((s) => ({
        index: s.index,
        layers: s.layers,
        forwardS: s.forwardS,
        backwardS: s.backwardS,
        memoryGiB: s.memory.totalBytes / GIB,
      })),
      breakdown: cost.breakdown,
    },
    source: { tool: 'galvatron-ts', command },
  };
}
