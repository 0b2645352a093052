// One layer's parallel strategy (DESIGN.md §3 Plan: tp, sequenceParallel, cp, dp, dpType, recompute).
import { z } from 'zod';

export const DP_TYPES = ['ddp', 'zero1', 'zero2', 'zero3'] as const;
export const RECOMPUTE_KINDS = ['none', 'selective', 'full'] as const;

export const LayerStrategySchema = z
  .object({
    tp: z.number().int().positive(),
    sequenceParallel: z.boolean().default(false),
    cp: z.number().int().positive().default(1),
    dp: z.number().int().positive(),
    dpType: z.enum(DP_TYPES).default('ddp'),
    recompute: z.enum(RECOMPUTE_KINDS).default('none'),
    /** TP on adjacent ranks (the fast links); false puts DP on them instead. */
    tpConsecutive: z.boolean().default(true),
  })
  .strict();

export type DpType = (typeof DP_TYPES)[number];
export type RecomputeKind = (typeof RECOMPUTE_KINDS)[number];
export type LayerStrategy = z.output<typeof LayerStrategySchema>;

/** GPUs one copy of the layer spans inside a pipeline stage. */
export function strategyGpus(strategy: LayerStrategy): number {
  return strategy.tp * strategy.cp * strategy.dp;
}

/** Ranks that hold replicas of the same parameter shard (gradients are synchronised over them). */
export function gradientSyncGroupSize(strategy: LayerStrategy): number {
  return strategy.dp * strategy.cp;
}
