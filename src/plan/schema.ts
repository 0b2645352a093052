// The Plan contract (galvatron.plan/v1, DESIGN.md §3): the only thing the executor reads.
import { z } from 'zod';
import { ModelSpecSchema } from '../model/spec.js';
import { MAX_GLOBAL_BATCH, atMost } from '../limits.js';
import { GpuSpecSchema, GpusPerNodeSchema, InterNodeSpecSchema, IntraNodeSpecSchema, NodesSchema } from '../hardware/spec.js';
import { LayerStrategySchema } from '../strategy/layer-strategy.js';

export const PLAN_FORMAT = 'galvatron.plan/v1';

const LayerRangeSchema = z.object({ start: z.number().int().nonnegative(), end: z.number().int().positive() }).strict();

export const PlanSchema = z
  .object({
    format: z.literal(PLAN_FORMAT),
    model: ModelSpecSchema,
    cluster: z
      .object({
        name: z.string(),
        gpu: GpuSpecSchema,
        gpusPerNode: GpusPerNodeSchema,
        nodes: NodesSchema,
        intraNode: IntraNodeSpecSchema,
        interNode: InterNodeSpecSchema,
        overlapSlowdown: z.number().min(1),
      })
      .strict(),
    training: z
      .object({
        globalBatch: z.number().int().positive().max(MAX_GLOBAL_BATCH, atMost('globalBatch', MAX_GLOBAL_BATCH)),
        microBatches: z.number().int().positive(),
        seqLen: z.number().int().positive(),
        precision: z.enum(['bf16', 'fp16', 'fp32']),
        optimizer: z.literal('adam'),
        attention: z.enum(['flash', 'unfused']),
        fp32MainGrads: z.boolean(),
        tpOverlap: z.boolean(),
        dropout: z.boolean(),
        /** The engine's memory-bound kernels: fused (default) or PyTorch eager ops. */
        elementwiseKernels: z.enum(['fused', 'eager']).optional(),
        /** What `selective` recompute re-runs: Megatron's attention core (default) or torchtitan's op-level policy. */
        selectiveRecompute: z.enum(['attention-core', 'op-level']).optional(),
      })
      .strict(),
    pipeline: z
      .object({
        degree: z.number().int().positive(),
        schedule: z.enum(['gpipe', '1f1b', 'interleaved-1f1b']),
        virtualStages: z.number().int().positive(),
        /** degree · virtualStages contiguous layer ranges in model order; chunk j runs on stage j mod degree. */
        chunks: z.array(LayerRangeSchema).min(1),
      })
      .strict(),
    /** Strategy of the input embedding and output head (vocab-parallel over its TP group). */
    embedding: LayerStrategySchema,
    /** One strategy per transformer layer, in model order. */
    layers: z.array(LayerStrategySchema).min(1),
    predicted: z
      .object({
        iterationTimeS: z.number().positive(),
        samplesPerS: z.number().positive(),
        tokensPerSPerGpu: z.number().positive(),
        tflopsPerGpu: z.number().nonnegative(),
        mfu: z.number().nonnegative(),
        memoryPerGpuGiB: z.number().nonnegative(),
        /** What the plan was searched against per GPU: (--memory-gib or the GPU) × (1 − margin). */
        memoryBudgetGiB: z.number().positive(),
        /** Runtime memory outside PyTorch's allocator (CUDA context, NCCL), included in memoryPerGpuGiB. */
        memoryReserveGiB: z.number().nonnegative().optional(),
        /** The allocator's predicted peak: memoryPerGpuGiB − memoryReserveGiB. */
        allocatorPeakGiB: z.number().nonnegative().optional(),
        fits: z.boolean(),
        stages: z.array(
          z
            .object({
              index: z.number().int().nonnegative(),
              layers: z.array(z.number().int().nonnegative()),
              forwardS: z.number().nonnegative(),
              backwardS: z.number().nonnegative(),
              memoryGiB: z.number().nonnegative(),
            })
            .strict(),
        ),
        breakdown: z.record(z.string(), z.number()),
      })
      .strict(),
    source: z.object({ tool: z.literal('galvatron-ts'), command: z.string() }).strict(),
  })
  .strict();

export type Plan = z.infer<typeof PlanSchema>;
