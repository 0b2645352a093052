// `--memory-gib`, `--memory-reserve-gib`, `--memory-margin`: what a plan may use of each GPU.
//
// The search's budget is the device memory (or --memory-gib), less the user's margin (a fraction kept
// free), and a plan fits when its allocator peak (model states, activations, transients) plus the
// runtime reserve (CUDA context, NCCL buffers: what the allocator does not see) stays within it. The
// reserve is the cost model's fixed memory per GPU; the plan keeps the GPU's real memory in its cluster
// and records the budget and the reserve among its predictions.
import type { Command } from 'commander';
import { loadCostConstants } from '../cost/constants.js';
import type { CostConstants } from '../cost/types.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { UserInputError } from '../errors.js';
import { CLUSTER_LIMITS } from '../limits.js';
import { positiveNumber } from './parsers.js';
import { DEFAULT_MEMORY_MARGIN, memoryBudgetFor, type MemoryBudget } from '../cost/memory-budget.js';

/** The largest memory per GPU a plan may assume (today's largest GPUs hold 192–288 GB). */
export const MAX_GPU_MEMORY_GIB = CLUSTER_LIMITS.memoryGiB;

export { DEFAULT_MEMORY_MARGIN, type MemoryBudget } from '../cost/memory-budget.js';

export interface MemoryFlags {
  memoryGib?: number;
  memoryReserveGib?: number;
  memoryMargin?: number;
}

function marginFraction(value: string): number {
  const n = Number(value);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(value) || !Number.isFinite(n) || n < 0 || n >= 0.5) {
    throw new UserInputError('--memory-margin', `must be a fraction of the GPU's memory in [0, 0.5), e.g. 0.05 for 5 %, got "${value}"`);
  }
  return n;
}

function reserveGib(value: string): number {
  const n = Number(value);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(value) || !Number.isFinite(n) || n < 0 || n > MAX_GPU_MEMORY_GIB) {
    throw new UserInputError('--memory-reserve-gib', `must be a number of GiB ≥ 0, e.g. 1.5, got "${value}"`);
  }
  return n;
}

export function addMemoryOptions(command: Command): Command {
  const constants = loadCostConstants();
  return command
    .option('--memory-gib <G>', "GPU memory to plan against, GiB (default: the GPU's full memory; the plan still records the GPU's own)", positiveNumber('--memory-gib', MAX_GPU_MEMORY_GIB, ' GiB, beyond any GPU'))
    .option('--memory-reserve-gib <G>', `runtime memory outside PyTorch's allocator per GPU: CUDA context, NCCL buffers (default: ${constants.fixedMemoryGiB})`, reserveGib)
    .option('--memory-margin <fraction>', `share of the GPU's memory kept free for allocator fragmentation (default: ${DEFAULT_MEMORY_MARGIN})`, marginFraction);
}

export function memoryBudget(flags: MemoryFlags, cluster: ClusterSpec, base: CostConstants = loadCostConstants()): MemoryBudget {
  return memoryBudgetFor({
    ...(flags.memoryGib === undefined ? {} : { memoryGiB: flags.memoryGib }),
    ...(flags.memoryReserveGib === undefined ? {} : { reserveGiB: flags.memoryReserveGib }),
    ...(flags.memoryMargin === undefined ? {} : { margin: flags.memoryMargin }),
  }, cluster, base);
}
