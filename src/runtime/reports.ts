// What the ranks report (one JSON object per line on stdout) and how a step's reports become one record.
import { z } from 'zod';

export const StepEventSchema = z.object({
  event: z.literal('step'),
  rank: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  /** The mean loss over the whole global batch (rank 0; others may send null). */
  loss: z.number().nullable(),
  stepTimeS: z.number().nonnegative(),
  peakMemoryBytes: z.number().nonnegative(),
  /** With loss scaling (fp16): the scale the step's backward used, and whether the step was skipped. */
  lossScale: z.number().positive().optional(),
  skipped: z.boolean().optional(),
});

/** What a rank's executor counted on its first step (python/galvatron_runtime/memory.py). */
export const MemoryEventSchema = z
  .object({
    event: z.literal('memory'),
    rank: z.number().int().nonnegative(),
    stage: z.number().int().nonnegative(),
    modelStateBytes: z.number().nonnegative(),
    activationBytes: z.number().nonnegative(),
    transientBytes: z.number().nonnegative(),
    peakActivationBytes: z.number().nonnegative(),
    accountedPeakBytes: z.number().nonnegative(),
    peakBytes: z.number().nonnegative(),
    peakSource: z.enum(['cuda-allocator', 'accounted']),
    cudaMaxAllocatedBytes: z.number().nonnegative().optional(),
    cudaMaxReservedBytes: z.number().nonnegative().optional(),
  })
  .passthrough();

export const RankEventSchema = z.union([
  StepEventSchema,
  MemoryEventSchema,
  z.object({ event: z.enum(['start', 'end', 'checkpoint', 'resume']), rank: z.number().int().nonnegative() }).passthrough(),
]);

export type StepEvent = z.infer<typeof StepEventSchema>;
export type MemoryEvent = z.infer<typeof MemoryEventSchema>;
export type RankEvent = z.infer<typeof RankEventSchema>;

/** One training step over all ranks. */
export interface StepRecord {
  step: number;
  loss: number;
  /** The slowest rank's step time (the step ends when every rank is done). */
  stepTimeS: number;
  /** Peak memory per rank, in rank order. */
  peakMemoryBytes: number[];
  /** With loss scaling: the step's loss scale and whether it was skipped (an inf/NaN gradient somewhere). */
  lossScale?: number;
  skipped?: boolean;
}

/** A rank's line as an event, or undefined for anything else (torchrun's own prints). */
export function parseRankLine(line: string): RankEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const parsed = RankEventSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Gathers the per-rank step events and hands out each step once every rank has reported it. */
export class StepCollector {
  private readonly pending = new Map<number, StepEvent[]>();
  constructor(private readonly ranks: number) {}

  add(event: StepEvent): StepRecord | undefined {
    const events = this.pending.get(event.step) ?? [];
    events.push(event);
    this.pending.set(event.step, events);
    if (events.length < this.ranks) return undefined;
    this.pending.delete(event.step);
    events.sort((a, b) => a.rank - b.rank);
    const loss = events.find((e) => e.rank === 0)?.loss ?? events.find((e) => e.loss !== null)?.loss;
    return {
      step: event.step,
      loss: loss ?? NaN,
      stepTimeS: Math.max(...events.map((e) => e.stepTimeS)),
      peakMemoryBytes: events.map((e) => e.peakMemoryBytes),
      // Every rank takes the same decision (the found-inf flag is reduced over the world); rank 0's is shown.
      ...(events[0]!.lossScale === undefined ? {} : { lossScale: events[0]!.lossScale }),
      ...(events[0]!.skipped === undefined ? {} : { skipped: events[0]!.skipped }),
    };
  }
}
