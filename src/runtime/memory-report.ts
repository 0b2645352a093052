// A rank's measured memory next to the cost model's prediction for the same plan, dtype and stage.
import { loadCostConstants } from '../cost/constants.js';
import type { Plan } from '../plan/schema.js';
import { priceForExecutor, type ExecutorDtype } from '../plan/to-cost.js';
import type { MemoryEvent } from './reports.js';

const GIB = 1024 ** 3;

export interface MeasuredPredicted {
  measured: number;
  /** Null where the cost model has no figure (float64 runs). */
  predicted: number | null;
}

/** The `memory` object `galvatron train --json` prints per rank. */
export interface MemoryComparison {
  event: 'memory';
  rank: number;
  stage: number;
  modelStateBytes: MeasuredPredicted;
  /** One micro-batch's activations, summed over the rank's layers (and its embedding and head). */
  activationBytes: MeasuredPredicted;
  transientBytes: MeasuredPredicted;
  /** CUDA: the allocator's peak; CPU: states + live activations at their peak + the largest transient. */
  peakBytes: MeasuredPredicted;
  peakSource: MemoryEvent['peakSource'];
  cudaMaxReservedBytes?: number;
}

export function compareMemory(plan: Plan, dtype: ExecutorDtype, events: MemoryEvent[]): MemoryComparison[] {
  const cost = priceForExecutor(plan, dtype);
  return [...events]
    .sort((a, b) => a.rank - b.rank)
    .map((event) => {
      const stage = cost?.stages[event.stage]?.memory;
      // The allocator sees fragmentation of activations; the CPU accounting counts exact bytes.
      const fragmentation = event.peakSource === 'cuda-allocator' ? loadCostConstants().activationFragmentation : 1;
      const peak = stage ? stage.modelStateBytes + stage.activationBytesPerMicroBatch * stage.inFlightMicroBatches * fragmentation + stage.transientBytes : null;
      const pair = (measured: number, predicted: number | undefined): MeasuredPredicted => ({ measured, predicted: predicted ?? null });
      return {
        event: 'memory',
        rank: event.rank,
        stage: event.stage,
        modelStateBytes: pair(event.modelStateBytes, stage?.modelStateBytes),
        activationBytes: pair(event.activationBytes, stage?.activationBytesPerMicroBatch),
        transientBytes: pair(event.transientBytes, stage?.transientBytes),
        peakBytes: pair(event.peakBytes, peak ?? undefined),
        peakSource: event.peakSource,
        ...(event.cudaMaxReservedBytes === undefined ? {} : { cudaMaxReservedBytes: event.cudaMaxReservedBytes }),
      };
    });
}

/**
 * What the allocator may hold under the plan's budget: the budget less the runtime reserve it does not
 * see. Undefined for plans written before budgets were recorded.
 */
export function allocatorBudgetBytes(plan: Plan): number | undefined {
  const reserve = plan.predicted.memoryReserveGiB;
  return reserve === undefined ? undefined : (plan.predicted.memoryBudgetGiB - reserve) * GIB;
}

/** The measured peak that is held against the budget: on CUDA what the allocator reserved. */
export function heldPeakBytes(c: MemoryComparison): number {
  return c.cudaMaxReservedBytes ?? c.peakBytes.measured;
}
