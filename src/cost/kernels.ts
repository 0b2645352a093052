// Time of the kernels a layer is made of: GEMMs (roofline + fixed overhead), memory-bound passes, attention.
import type { GpuSpec } from '../hardware/spec.js';
import type { CostConstants, Precision } from './types.js';

/** What a kernel's time depends on: the GPU, the precision and the fitted constants. */
export interface KernelContext {
  gpu: GpuSpec;
  precision: Precision;
  constants: CostConstants;
}

export function bytesPerElement(precision: Precision): number {
  return precision === 'fp32' ? 4 : 2;
}

/** Dense peak for the precision: fp32 runs on TF32 tensor cores where they exist (A100 on). */
export function peakFlopsPerS(gpu: GpuSpec, precision: Precision): number {
  const tflops = precision === 'fp32' ? (gpu.fp32PeakTflops ?? gpu.peakTflops / 8) : gpu.peakTflops;
  return tflops * 1e12;
}

/** FLOP/s a large, well-shaped GEMM reaches in training. */
export function sustainedGemmFlopsPerS(ctx: KernelContext): number {
  return peakFlopsPerS(ctx.gpu, ctx.precision) * Math.min(1, ctx.gpu.gemmEfficiency * ctx.constants.gemmEfficiencyScale);
}

/** What memory-bound kernels reach: the measured figure where a profile gave one, else HBM × efficiency. */
function hbmBytesPerS(ctx: KernelContext): number {
  return ctx.gpu.memoryBoundGBps !== undefined ? ctx.gpu.memoryBoundGBps * 1e9 : ctx.gpu.hbmGBps * 1e9 * ctx.constants.hbmEfficiency;
}

/**
 * Fraction of the GPU's sustained GEMM rate a GEMM of inner dimension k reaches: each output tile pays a
 * fixed prologue and epilogue (filling the shared-memory pipeline, writing the tile) worth
 * `gemmTileOverheadK` elements of its k-loop, so shallow GEMMs (attention's k = head dim) run slower than
 * deep ones. Tile and wave quantization over the SMs (NVIDIA, "Matrix Multiplication Background User's
 * Guide") was tried as well, as a smooth w/(w + ½) waves term: the published runs reject it (mean error
 * 5.1 % with it, 4.2 % without), since cuBLAS picks tile shapes and split-k to avoid the loss.
 */
export function gemmShapeEfficiency(ctx: KernelContext, k: number): number {
  return k / (k + ctx.constants.gemmTileOverheadK);
}

/**
 * A (batched) GEMM [m×k]·[k×n], `batch` times, as one kernel: the slower of compute (at the sustained
 * rate × the k-loop's efficiency) and memory traffic, plus a fixed launch cost.
 */
export function gemmTimeS(ctx: KernelContext, m: number, n: number, k: number, batch = 1): number {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 0;
  const flops = 2 * m * n * k * batch;
  const bytes = bytesPerElement(ctx.precision) * (m * k + k * n + m * n) * batch;
  const computeS = flops / (sustainedGemmFlopsPerS(ctx) * gemmShapeEfficiency(ctx, k));
  const memoryS = bytes / hbmBytesPerS(ctx);
  return Math.max(computeS, memoryS) + ctx.constants.kernelOverheadUs * 1e-6;
}

/** `kernels` memory-bound passes (norm, activation, dropout, softmax) moving `bytes` through HBM in all. */
export function memoryBoundTimeS(ctx: KernelContext, bytes: number, kernels = 1): number {
  return bytes <= 0 ? 0 : bytes / hbmBytesPerS(ctx) + kernels * ctx.constants.kernelOverheadUs * 1e-6;
}

/** Flash attention forward over `flops` of score+value work actually executed. */
export function flashAttentionTimeS(ctx: KernelContext, flops: number): number {
  if (flops <= 0) return 0;
  return flops / (sustainedGemmFlopsPerS(ctx) * ctx.constants.flashAttentionEfficiency) + ctx.constants.kernelOverheadUs * 1e-6;
}
