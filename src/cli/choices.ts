// The values some flags take, shared by the commands that offer them.
import type { AttentionKernel, ElementwiseKernels, Precision, SelectiveRecompute } from '../cost/types.js';

export const PRECISIONS = ['bf16', 'fp16', 'fp32'] as const satisfies readonly Precision[];
export const ATTENTION_KERNELS = ['flash', 'unfused'] as const satisfies readonly AttentionKernel[];
export const ELEMENTWISE_KERNELS = ['fused', 'eager'] as const satisfies readonly ElementwiseKernels[];
export const SELECTIVE_RECOMPUTE = ['attention-core', 'op-level'] as const satisfies readonly SelectiveRecompute[];
