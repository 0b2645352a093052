// What a plan may use of each GPU: the device memory (or the memory asked for), less a margin kept free for
// the allocator, and the runtime reserve (CUDA context, NCCL buffers) that the cost model adds to every
// stage as its fixed memory. The CLI's --memory-gib, --memory-reserve-gib and --memory-margin, and the
// web page's memory field, come here (docs/cost-model.md, "Memory budget").
import { loadCostConstants } from './constants.js';
import type { CostConstants } from './types.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { UserInputError } from '../errors.js';
import { CLUSTER_LIMITS } from '../limits.js';

/**
 * Default share of the GPU kept free: allocator caching and fragmentation beyond what the model counts
 * (docs/cost-model.md, "Memory budget").
 */
export const DEFAULT_MEMORY_MARGIN = 0.05;

export interface MemoryRequest {
  /** Memory per GPU to plan against, GiB (default: the GPU's own). */
  memoryGiB?: number;
  /** Runtime memory outside the allocator per GPU, GiB (default: the constants' fixedMemoryGiB). */
  reserveGiB?: number;
  /** Share of the memory kept free (default DEFAULT_MEMORY_MARGIN). */
  margin?: number;
}

export interface MemoryBudget {
  /** The GPU's own memory, GiB (what the plan's cluster records). */
  deviceGiB: number;
  /** The memory asked for, or the device's memory. */
  requestedGiB: number;
  /** What the plan is searched against: requestedGiB × (1 − margin), GiB. */
  budgetGiB: number;
  reserveGiB: number;
  margin: number;
  /** The cost model's constants with the reserve as its fixed memory per GPU. */
  constants: CostConstants;
}

/** The budget, or a UserInputError naming `memoryGiB` (not a positive number of GiB up to the largest GPU's) or, when nothing is left beyond the reserve, `memoryReserveGiB` or `memoryGiB`. */
export function memoryBudgetFor(request: MemoryRequest, cluster: ClusterSpec, base: CostConstants = loadCostConstants()): MemoryBudget {
  // The CLI's flag parser refuses these first (same words); other front ends pass numbers here.
  const asked = request.memoryGiB;
  if (asked !== undefined && !(Number.isFinite(asked) && asked > 0)) throw new UserInputError('memoryGiB', `must be a positive number, got "${asked}"`);
  if (asked !== undefined && asked > CLUSTER_LIMITS.memoryGiB) {
    throw new UserInputError('memoryGiB', `${asked} is more than ${CLUSTER_LIMITS.memoryGiB} GiB, beyond any GPU; give a value up to ${CLUSTER_LIMITS.memoryGiB}`);
  }
  const reserveGiB = request.reserveGiB ?? base.fixedMemoryGiB;
  const margin = request.margin ?? DEFAULT_MEMORY_MARGIN;
  const requestedGiB = request.memoryGiB ?? cluster.gpu.memoryGiB;
  const budgetGiB = requestedGiB * (1 - margin);
  if (budgetGiB <= reserveGiB) {
    throw new UserInputError(
      request.reserveGiB !== undefined ? 'memoryReserveGiB' : 'memoryGiB',
      `the budget of ${budgetGiB.toFixed(1)} GiB per GPU leaves nothing beyond the ${reserveGiB} GiB reserve; give more memory or a smaller reserve`,
    );
  }
  return { deviceGiB: cluster.gpu.memoryGiB, requestedGiB, budgetGiB, reserveGiB, margin, constants: { ...base, fixedMemoryGiB: reserveGiB } };
}
