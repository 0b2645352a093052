// Published measured runs (data/reference/measurements.json) as priced configurations with stated assumptions.
import { z } from 'zod';
import { loadCluster } from '../hardware/load.js';
import { GPU_PRESETS } from '../hardware/presets.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { loadModel, resolveModelSpec } from '../model/load.js';
import type { ModelSpec } from '../model/spec.js';
import { uniformPlanInput, type UniformConfig } from '../cost/uniform-plan.js';
import type { PlanInput } from '../cost/plan-cost.js';
import type { CostConstants } from '../cost/types.js';

const PointSchema = z.object({
  id: z.string(),
  source: z.string(),
  cluster: z.string(),
  gpus: z.number().int().positive(),
  model: z.object({
    family: z.enum(['gpt', 'llama']),
    preset: z.string().optional(),
    layers: z.number().optional(),
    hidden: z.number().optional(),
    heads: z.number().optional(),
    vocab: z.number().optional(),
    seqLen: z.number(),
    ffnHidden: z.number().optional(),
  }),
  config: z.object({
    tp: z.number(),
    pp: z.number(),
    dp: z.number(),
    globalBatch: z.number(),
    precision: z.enum(['bf16', 'fp16', 'fp32']),
    recompute: z.enum(['none', 'selective', 'full']).optional(),
    dpType: z.enum(['ddp', 'zero1', 'zero2', 'zero3']).optional(),
    microBatch: z.number().optional(),
    microBatches: z.number().optional(),
  }),
  unknown: z.array(z.string()).optional(),
  measured: z.object({
    iterationTimeS: z.number().optional(),
    impliedIterationTimeS: z.number().optional(),
    tokensPerSPerGpu: z.number().optional(),
    tflopsPerGpu: z.number().optional(),
    peakMemoryGiB: z.number().optional(),
    peakMemoryGB: z.number().optional(),
  }),
});

export const MeasurementsSchema = z.object({ points: z.array(PointSchema) });
export type MeasuredPoint = z.infer<typeof PointSchema>;

export interface PricedPoint {
  point: MeasuredPoint;
  model: ModelSpec;
  cluster: ClusterSpec;
  config: UniformConfig;
  /** One line per unknown or implicit field: what this report assumes. */
  assumptions: string[];
  measuredIterationS: number;
}

/** Measured iteration time: reported directly, implied from TFLOP/s, or from tokens/s/GPU. */
export function measuredIterationS(point: MeasuredPoint): number {
  const m = point.measured;
  if (m.iterationTimeS !== undefined) return m.iterationTimeS;
  if (m.impliedIterationTimeS !== undefined) return m.impliedIterationTimeS;
  if (m.tokensPerSPerGpu !== undefined) return (point.config.globalBatch * point.model.seqLen) / (m.tokensPerSPerGpu * point.gpus);
  throw new Error(`${point.id}: no measured time`);
}

function modelOf(point: MeasuredPoint): ModelSpec {
  const m = point.model;
  if (m.preset) return loadModel(m.preset, { seqLen: m.seqLen });
  return resolveModelSpec({
    name: point.id,
    family: m.family,
    layers: m.layers!,
    hidden: m.hidden!,
    heads: m.heads!,
    vocab: m.vocab!,
    seqLen: m.seqLen,
    ffnHidden: m.ffnHidden,
    ffnType: 'gelu',
    positional: 'learned',
    tiedEmbeddings: true,
  });
}

/**
 * The configuration each run used, with every unknown filled by a stated rule:
 * - micro-batch 1 where unpublished (Megatron's large-model default; most micro-batches, least bubble);
 * - Megatron runs: fp32 main gradients with bf16, fp16 ones with fp16; SC'21 (2021, fp16) predates flash attention → unfused;
 *   Megatron-Core (2024, bf16, TransformerEngine) → flash attention, selective recompute and SP;
 * - no interleaving where unpublished.
 */
export function pricedPoint(point: MeasuredPoint): PricedPoint {
  const model = modelOf(point);
  const cluster = loadCluster(point.cluster, point.gpus);
  const c = point.config;
  const assumptions: string[] = [];
  const isMegatron = point.id.startsWith('megatron');
  const isSc21 = point.id.startsWith('megatron-sc21');
  let microBatch = c.microBatch;
  if (microBatch === undefined && c.microBatches !== undefined) microBatch = c.globalBatch / (c.microBatches * c.dp);
  if (microBatch === undefined) {
    microBatch = 1;
    assumptions.push('micro-batch 1 (unpublished)');
  }
  let recompute = c.recompute;
  if (recompute === undefined) {
    recompute = 'selective';
    assumptions.push('selective recompute (unpublished; Megatron-Core default)');
  }
  // Megatron-Core and torchtitan shard norms/dropout over TP (sequence parallelism); SC'21 and Alpa predate it.
  const sequenceParallel = (point.id.startsWith('megatron-core') || point.id.startsWith('torchtitan')) && c.tp > 1;
  if (sequenceParallel) assumptions.push('sequence parallelism on (TP > 1)');
  const attention = isSc21 || point.cluster === '8x-v100-sxm2' ? 'unfused' : 'flash';
  assumptions.push(attention === 'flash' ? 'flash attention' : 'unfused attention (no flash attention in this software/GPU)');
  // Megatron forces fp32 gradient accumulation and reduction for bf16 (arguments.py); fp16 runs keep the
  // gradient buffer in fp16 unless --accumulate-allreduce-grads-in-fp32 is given. FSDP reduces in fp32.
  const fp32MainGrads = (isMegatron && c.precision === 'bf16') || c.dpType === 'zero3';
  if (fp32MainGrads) assumptions.push('fp32 gradient reduction (Megatron main grads for bf16 / FSDP reduce dtype)');
  else if (isMegatron) assumptions.push('fp16 gradient reduction (Megatron fp16 default)');
  if (isMegatron && c.pp > 1) assumptions.push('no interleaving (unpublished)');
  let pricedCluster = cluster;
  if ((point.unknown ?? []).some((u) => /96 GB \/ 500 W/.test(u))) {
    pricedCluster = { ...cluster, gpu: GPU_PRESETS['h100-96g-500w']! };
    assumptions.push('GPU: H100 96 GB capped at 500 W (preset h100-96g-500w: clocks × (500/700)^(1/3))');
  }
  // torchtitan's published baselines run eager PyTorch (torch.compile is a separate row of its table)
  // and its default selective recompute is the op-level policy.
  const isTorchtitan = point.id.startsWith('torchtitan');
  if (isTorchtitan) assumptions.push('eager PyTorch kernels (no torch.compile)');
  if (isTorchtitan && recompute === 'selective') assumptions.push("op-level selective recompute (torchtitan's default policy)");
  const tpOverlap = point.id.startsWith('megatron-core');
  if (tpOverlap) assumptions.push('TP communication overlapped with GEMMs (the table states tp overlap on)');
  const config: UniformConfig = {
    globalBatch: c.globalBatch,
    microBatch,
    tp: c.tp,
    pp: c.pp,
    cp: 1,
    vpp: 1,
    dpType: c.dpType ?? 'ddp',
    recompute,
    sequenceParallel,
    precision: c.precision,
    schedule: '1f1b',
    attention,
    fp32MainGrads,
    tpOverlap,
    ...(isTorchtitan ? { elementwiseKernels: 'eager' as const } : {}),
    ...(isTorchtitan && recompute === 'selective' ? { selectiveRecompute: 'op-level' as const } : {}),
  };
  return { point, model, cluster: pricedCluster, config, assumptions, measuredIterationS: measuredIterationS(point) };
}

export function pointPlanInput(priced: PricedPoint, constants: CostConstants): PlanInput {
  return uniformPlanInput(priced.model, priced.cluster, priced.config, constants);
}
