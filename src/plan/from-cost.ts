// Builds a Plan object from a priced plan input.
import type { ModelSpec } from '../model/spec.js';
import type { PlanCost, PlanInput } from '../cost/plan-cost.js';
import { PLAN_FORMAT, type Plan } from './schema.js';

const GIB = 1024 ** 3;

export function planFromCost(model: ModelSpec, input: PlanInput, cost: PlanCost, command: string): Plan {
  const { cluster, setup, pipeline } = input;
  return {
    format: PLAN_FORMAT,
    model,
    cluster: {
      name: cluster.name,
      gpu: cluster.gpu,
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
