// Forward/backward time of one layer for one micro-batch on one GPU, term by term (DESIGN.md §4).
import { collectiveBandwidthS, collectiveTimeS } from '../hardware/collectives.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { layerParametersPerTpRank } from '../model/derived.js';
import type { LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { layerGroupPlacements } from '../strategy/rank-layout.js';
import { bytesPerElement, flashAttentionTimeS, gemmTimeS, memoryBoundTimeS, type KernelContext } from './kernels.js';
import {
  attentionPasses,
  layerGemms,
  localLayerSizes,
  tpCollectivesPerForward,
  type LocalLayerSizes,
} from './layer-shapes.js';
import { overlappedTimeS } from './overlap.js';
import { profiledLayerTime } from '../profile/apply.js';
import type { Profile } from '../profile/schema.js';
import type { LayerTime, TimeTerm, TrainingSetup } from './types.js';

export interface LayerCostContext {
  kernel: KernelContext;
  cluster: ClusterSpec;
  setup: TrainingSetup;
  /** Measured times; where they cover a layer's type and strategy they replace its analytic compute terms. */
  profile?: Profile;
}

/*
 * Bytes moved per element by the memory-bound kernels (16-bit; fp32 doubles them), forward pass.
 * Backward moves about twice as much (reads the saved input and the incoming gradient, writes a gradient).
 * Norm: read + write. Residual add (bias-dropout-add fused): read 2 inputs, write 1, + 1-byte mask.
 */
const NORM_BYTES = 2 + 2;
const RESIDUAL_ADD_BYTES = 2 + 2 + 2;
const DROPOUT_MASK_BYTES = 1;
/** Softmax (read, write) and attention dropout (read, write, mask) per score element. */
const SOFTMAX_BYTES = 2 + 2;
const ATTENTION_DROPOUT_BYTES = 2 + 2 + 1;
/** Backward of softmax (read grad and output, write grad) and dropout (read grad and mask, write). */
const SOFTMAX_BACKWARD_BYTES = 2 + 2 + 2;
const ATTENTION_DROPOUT_BACKWARD_BYTES = 2 + 1 + 2;
const BACKWARD_MEMORY_FACTOR = 2;
/** Flash attention's backward re-computes the scores: 2.5× the forward FLOPs (Dao, 2023). */
const FLASH_BACKWARD_FLOPS_FACTOR = 2.5;

function precisionScale(ctx: LayerCostContext): number {
  return bytesPerElement(ctx.setup.precision) / 2;
}

/*
 * PyTorch eager runs each operator as its own kernel with its own HBM round trip (bytes per element,
 * 16-bit tensors, fp32 intermediates where the code upcasts):
 * - RMSNorm, x·rsqrt(mean(x²) + ε)·w in fp32 (torchtitan, our executor): upcast 2+4, square 4+4, mean 4,
 *   scale 4+4, downcast 4+2, weight 2+2 = 36 bytes in 6 kernels (LayerNorm is one fused ATen kernel);
 * - dropout before the residual add: its own kernel, 2+2 and the mask;
 * - SwiGLU silu(a)·b: silu 2+2, product 2+2+2 = 10 bytes per inner element in 2 kernels;
 * - RoPE on Q and K through complex numbers: upcast 2+4, complex product 4+4, downcast 4+2 = 20 bytes in
 *   3 kernels per tensor;
 * - the attention output's transpose back to tokens × hidden: one copy, 2+2.
 */
const EAGER_RMSNORM_BYTES = 36;
const EAGER_RMSNORM_KERNELS = 6;
const EAGER_DROPOUT_BYTES = 2 + 2;
const EAGER_SWIGLU_BYTES = 10;
const EAGER_ROPE_BYTES = 20;
const EAGER_ROPE_KERNELS_PER_TENSOR = 3;
const EAGER_TRANSPOSE_BYTES = 2 + 2;

function eagerKernels(ctx: LayerCostContext): boolean {
  return ctx.setup.elementwiseKernels === 'eager';
}

/** Memory-bound work on the hidden stream and inside the MLP, forward, one micro-batch. */
function elementwiseForwardS(shape: LayerShape, strategy: LayerStrategy, local: LocalLayerSizes, ctx: LayerCostContext): number {
  const scale = precisionScale(ctx);
  const eager = eagerKernels(ctx);
  const dropoutMask = ctx.setup.dropout ? DROPOUT_MASK_BYTES : 0;
  const eagerDropout = eager && ctx.setup.dropout ? EAGER_DROPOUT_BYTES * scale : 0;
  // Norms and residual adds run on the full hidden stream unless sequence parallelism shards it.
  const streamElements = (local.tokens * shape.hidden) / (strategy.sequenceParallel ? strategy.tp : 1);
  const norms = shape.crossAttentionSeqLen > 0 ? 3 : 2;
  const eagerRmsNorm = eager && shape.norm === 'rmsnorm';
  const normBytes = eagerRmsNorm ? EAGER_RMSNORM_BYTES : NORM_BYTES * scale;
  const streamBytes = streamElements * norms * (normBytes + RESIDUAL_ADD_BYTES * scale + dropoutMask + eagerDropout);
  // Activation function on the FFN inner width (bias fused): GeLU reads 1 and writes 1, SwiGLU reads 2.
  const swigluBytes = eager ? EAGER_SWIGLU_BYTES : 6;
  const ffnBytes = local.tokens * local.ffnLocal * (shape.ffnType === 'swiglu' ? swigluBytes : 4) * scale;
  // The attention output's copy back to the token-major layout the output projection reads.
  const transposeBytes = eager ? attentionPasses(shape).length * local.tokens * local.headsLocal * shape.headDim * EAGER_TRANSPOSE_BYTES * scale : 0;
  // Kernels: each norm, each residual add, the activation function (and each eager op).
  const kernels =
    norms * ((eagerRmsNorm ? EAGER_RMSNORM_KERNELS : 1) + 1 + (eagerDropout > 0 ? 1 : 0)) +
    (eager && shape.ffnType === 'swiglu' ? 2 : 1) +
    (eager ? attentionPasses(shape).length : 0);
  return memoryBoundTimeS(ctx.kernel, streamBytes + ffnBytes + transposeBytes, kernels);
}

/** Rotary embedding rewrites Q and K (fused: read + write; eager: through complex numbers). */
function ropeForwardS(shape: LayerShape, local: LocalLayerSizes, ctx: LayerCostContext, rope: boolean): number {
  if (!rope) return 0;
  const elements = local.tokens * (local.headsLocal + local.kvHeadsLocal) * shape.headDim;
  if (eagerKernels(ctx)) return memoryBoundTimeS(ctx.kernel, elements * EAGER_ROPE_BYTES * precisionScale(ctx), 2 * EAGER_ROPE_KERNELS_PER_TENSOR);
  return memoryBoundTimeS(ctx.kernel, elements * 4 * precisionScale(ctx), 2);
}

/**
 * torchtitan's op-level selective recompute (its `_save_list` policy) keeps every other matmul's output,
 * counting the layer's matmuls in the order they run (Q, K, V, output; then W1, W3, W2 for SwiGLU or up,
 * down for GeLU), and re-runs the others: K, the output projection and W3 (or down).
 */
function opLevelRecomputeGemmS(shape: LayerShape, local: LocalLayerSizes, ctx: LayerCostContext): number {
  const h = shape.hidden;
  const t = local.tokens;
  const qWidth = local.headsLocal * shape.headDim;
  const kvWidth = local.kvHeadsLocal * shape.headDim;
  const matmuls: [number, number, number][] = [
    [t, qWidth, h],
    [t, kvWidth, h],
    [t, kvWidth, h],
    [t, h, qWidth],
    ...(shape.ffnType === 'swiglu'
      ? ([[t, local.ffnLocal, h], [t, local.ffnLocal, h], [t, h, local.ffnLocal]] as [number, number, number][])
      : ([[t, local.ffnLocal, h], [t, h, local.ffnLocal]] as [number, number, number][])),
  ];
  return matmuls.reduce((total, [m, n, k], i) => total + (i % 2 === 1 ? gemmTimeS(ctx.kernel, m, n, k) : 0), 0);
}

interface AttentionTimes {
  forwardS: number;
  backwardS: number;
}

/** Core attention (scores, softmax, values) forward and backward, flash or unfused. */
function attentionCoreTimes(shape: LayerShape, local: LocalLayerSizes, ctx: LayerCostContext): AttentionTimes {
  let forwardS = 0;
  let backwardS = 0;
  const dh = shape.headDim;
  const scale = precisionScale(ctx);
  for (const pass of attentionPasses(shape)) {
    if (ctx.setup.attention === 'flash') {
      // Flash skips the masked half of a causal score matrix.
      const executed = 4 * local.tokens * pass.span * local.headsLocal * dh * (pass.causal ? 0.5 : 1);
      forwardS += flashAttentionTimeS(ctx.kernel, executed);
      backwardS += flashAttentionTimeS(ctx.kernel, executed * FLASH_BACKWARD_FLOPS_FACTOR);
      continue;
    }
    const batch = local.samples * local.headsLocal;
    const scoreElements = batch * local.seqLocal * pass.span;
    const dropoutFwd = ctx.setup.dropout ? ATTENTION_DROPOUT_BYTES : 0;
    const dropoutBwd = ctx.setup.dropout ? ATTENTION_DROPOUT_BACKWARD_BYTES : 0;
    const scores = gemmTimeS(ctx.kernel, local.seqLocal, pass.span, dh, batch);
    const values = gemmTimeS(ctx.kernel, local.seqLocal, dh, pass.span, batch);
    const kernels = ctx.setup.dropout ? 2 : 1;
    forwardS += scores + values + memoryBoundTimeS(ctx.kernel, scoreElements * (SOFTMAX_BYTES + dropoutFwd) * scale, kernels);
    backwardS += 2 * (scores + values) + memoryBoundTimeS(ctx.kernel, scoreElements * (SOFTMAX_BACKWARD_BYTES + dropoutBwd) * scale, kernels);
  }
  return { forwardS, backwardS };
}

/** TP traffic of one forward pass: all-reduces (or all-gather + reduce-scatter with SP) of the hidden stream. */
function tpForwardCommS(shape: LayerShape, strategy: LayerStrategy, local: LocalLayerSizes, ctx: LayerCostContext): number {
  if (strategy.tp <= 1) return 0;
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  const bytes = local.tokens * shape.hidden * bytesPerElement(ctx.setup.precision);
  const one = strategy.sequenceParallel
    ? collectiveTimeS(ctx.cluster, 'all-gather', bytes, groups.tp) + collectiveTimeS(ctx.cluster, 'reduce-scatter', bytes, groups.tp)
    : collectiveTimeS(ctx.cluster, 'all-reduce', bytes, groups.tp);
  return tpCollectivesPerForward(shape) * one;
}

/** CP ring: every rank receives the K/V blocks of the others (forward), and K/V gradients travel back too. */
function cpForwardCommS(shape: LayerShape, strategy: LayerStrategy, local: LocalLayerSizes, ctx: LayerCostContext): number {
  if (strategy.cp <= 1) return 0;
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  const kvBytesAllRanks = 2 * local.tokens * local.kvHeadsLocal * shape.headDim * bytesPerElement(ctx.setup.precision) * strategy.cp;
  return collectiveTimeS(ctx.cluster, 'all-gather', kvBytesAllRanks, groups.cp);
}

/** Bytes of this layer's parameters (one TP shard) in the training precision. */
function parameterShardBytes(shape: LayerShape, strategy: LayerStrategy, ctx: LayerCostContext): number {
  return layerParametersPerTpRank(shape, strategy.tp) * bytesPerElement(ctx.setup.precision);
}

function gradientBytesPerParam(ctx: LayerCostContext): number {
  return ctx.setup.fp32MainGrads ? 4 : bytesPerElement(ctx.setup.precision);
}

export interface IterationSync {
  gradientSyncS: number;
  parameterGatherS: number;
}

/**
 * Once-per-iteration synchronisation of the layer: DDP all-reduces the gradients; ZeRO-1 reduce-scatters
 * them and all-gathers the updated parameters (same volume); ZeRO-2 only all-gathers (its gradients are
 * reduce-scattered per micro-batch, in backward), ZeRO-3 syncs per micro-batch. These collectives are
 * bucketed over consecutive layers that share the group (the executor: one collective per run of such
 * layers, data_parallel.py; DDP and Megatron: buckets of tens of MB), so a layer adds its bytes at the
 * bus bandwidth and no latency of its own.
 */
export function iterationSyncTimes(shape: LayerShape, strategy: LayerStrategy, ctx: LayerCostContext): IterationSync {
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  if (groups.gradientSync.size <= 1 || strategy.dpType === 'zero3') return { gradientSyncS: 0, parameterGatherS: 0 };
  const params = layerParametersPerTpRank(shape, strategy.tp);
  const gradBytes = params * gradientBytesPerParam(ctx);
  if (strategy.dpType === 'ddp') {
    return { gradientSyncS: collectiveBandwidthS(ctx.cluster, 'all-reduce', gradBytes, groups.gradientSync), parameterGatherS: 0 };
  }
  return {
    gradientSyncS: strategy.dpType === 'zero2' ? 0 : collectiveBandwidthS(ctx.cluster, 'reduce-scatter', gradBytes, groups.gradientSync),
    parameterGatherS: collectiveBandwidthS(ctx.cluster, 'all-gather', params * bytesPerElement(ctx.setup.precision), groups.gradientSync),
  };
}

/** Backward issues about twice the forward's kernels (input and weight gradients per GEMM). */
const BACKWARD_HOST_FACTOR = 2;

function sum(terms: TimeTerm[]): number {
  return terms.reduce((total, term) => total + term.seconds, 0);
}

/** Time of one layer for one micro-batch of `microBatchSamples` samples (before DP splits them). */
export function layerTime(
  shape: LayerShape,
  strategy: LayerStrategy,
  microBatchSamples: number,
  ctx: LayerCostContext,
  options: { rope: boolean },
): LayerTime {
  const local = localLayerSizes(shape, strategy, microBatchSamples);
  const gemms = layerGemms(shape, local);
  const gemmForwardS = gemms.reduce((total, g) => total + gemmTimeS(ctx.kernel, g.m, g.n, g.k), 0);
  // Backward: input gradient [m×n]·[n×k] and weight gradient [k×m]·[m×n] per forward GEMM.
  const dgradS = gemms.reduce((total, g) => total + gemmTimeS(ctx.kernel, g.m, g.k, g.n), 0);
  const wgradS = gemms.reduce((total, g) => total + gemmTimeS(ctx.kernel, g.k, g.n, g.m), 0);
  const attention = attentionCoreTimes(shape, local, ctx);
  const elementwiseS = elementwiseForwardS(shape, strategy, local, ctx) + ropeForwardS(shape, local, ctx, options.rope);
  const tpCommS = tpForwardCommS(shape, strategy, local, ctx);
  const cpCommS = cpForwardCommS(shape, strategy, local, ctx);
  const lambda = ctx.cluster.overlapSlowdown;

  // CP's K/V exchange overlaps the attention it feeds.
  const attentionForwardS = overlappedTimeS(attention.forwardS, cpCommS, lambda);
  const attentionBackwardS = overlappedTimeS(attention.backwardS, 2 * cpCommS, lambda);
  // A profile's time at this TP degree already holds the TP collectives; one scaled from TP 1 does not.
  const measured = ctx.profile ? profiledLayerTime(ctx.profile, shape, strategy, local.samples) : undefined;
  const measuredTp = (seconds: number): TimeTerm[] => (measured?.includesTpComm ? [] : [{ name: 'tp-comm', seconds }]);
  const computeForwardS = measured ? measured.forwardS : gemmForwardS + attentionForwardS + elementwiseS;

  // ZeRO-3 gathers the layer's parameters before its forward and backward and reduce-scatters its
  // gradients after backward, every micro-batch, prefetched so it overlaps the layer's compute.
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  let zero3GatherS = 0;
  let zero3ReduceScatterS = 0;
  if (strategy.dpType === 'zero3' && groups.gradientSync.size > 1) {
    zero3GatherS = collectiveTimeS(ctx.cluster, 'all-gather', parameterShardBytes(shape, strategy, ctx), groups.gradientSync);
  }
  // ZeRO-2 and ZeRO-3 reduce-scatter each micro-batch's gradient right after the layer's backward.
  if ((strategy.dpType === 'zero3' || strategy.dpType === 'zero2') && groups.gradientSync.size > 1) {
    const gradBytes = layerParametersPerTpRank(shape, strategy.tp) * gradientBytesPerParam(ctx);
    zero3ReduceScatterS = collectiveTimeS(ctx.cluster, 'reduce-scatter', gradBytes, groups.gradientSync);
  }

  // TP collectives sit on the forward's critical path unless overlapped with the GEMMs (Megatron-Core).
  const forwardTpS = ctx.setup.tpOverlap ? overlappedTimeS(gemmForwardS, tpCommS, lambda) - gemmForwardS : tpCommS;
  const forwardTerms: TimeTerm[] = measured
    ? [{ name: 'compute-profiled', seconds: measured.forwardS }, ...measuredTp(forwardTpS)]
    : [
        { name: 'gemm', seconds: gemmForwardS },
        { name: 'attention', seconds: attentionForwardS },
        { name: 'elementwise', seconds: elementwiseS },
        { name: 'tp-comm', seconds: forwardTpS },
      ];
  // Analytic kernels run no faster than the host issues them (a profile's times already include it).
  const hostFloorS = measured ? 0 : ctx.kernel.constants.layerHostUs * 1e-6;
  if (hostFloorS > 0) forwardTerms.push({ name: 'host-bound', seconds: Math.max(0, hostFloorS - sum(forwardTerms)) });
  if (zero3GatherS > 0) {
    const hidden = overlappedTimeS(computeForwardS, zero3GatherS, lambda) - computeForwardS;
    forwardTerms.push({ name: 'zero3-gather', seconds: hidden });
  }
  const forwardS = sum(forwardTerms);

  // Backward: TP input-gradient collectives overlap the weight-gradient GEMMs (Megatron's async TP).
  const wgradWithTpS = overlappedTimeS(wgradS, tpCommS, lambda);
  const backwardTerms: TimeTerm[] = measured
    ? [{ name: 'compute-profiled', seconds: measured.backwardS }, ...measuredTp(wgradWithTpS - wgradS)]
    : [
        { name: 'gemm', seconds: dgradS + wgradS },
        { name: 'attention', seconds: attentionBackwardS },
        { name: 'elementwise', seconds: BACKWARD_MEMORY_FACTOR * elementwiseS },
        { name: 'tp-comm', seconds: wgradWithTpS - wgradS },
      ];
  if (measured?.recomputeS !== undefined) {
    // Measured with its recomputation (split out against the no-recompute variant where that was measured too).
    if (measured.recomputeS > 0) backwardTerms.push({ name: 'recompute-profiled', seconds: measured.recomputeS });
  } else if (strategy.recompute === 'full') {
    backwardTerms.push({ name: measured ? 'recompute-profiled' : 'recompute', seconds: forwardS });
  } else if (strategy.recompute === 'selective' && ctx.setup.selectiveRecompute === 'op-level') {
    // Half the matmuls and every memory-bound op run again; attention's output is kept.
    backwardTerms.push({ name: 'recompute', seconds: opLevelRecomputeGemmS(shape, local, ctx) + elementwiseS });
  } else if (strategy.recompute === 'selective') {
    // Selective recompute checkpoints the attention core and re-runs its forward in backward (with
    // flash attention too: Megatron-Core wraps the fused kernel in the same checkpoint).
    backwardTerms.push({ name: 'recompute', seconds: attention.forwardS });
  }
  if (hostFloorS > 0) backwardTerms.push({ name: 'host-bound', seconds: Math.max(0, BACKWARD_HOST_FACTOR * hostFloorS - sum(backwardTerms)) });
  if (zero3GatherS + zero3ReduceScatterS > 0) {
    const computeBackwardS = sum(backwardTerms);
    const hidden = overlappedTimeS(computeBackwardS, zero3GatherS + zero3ReduceScatterS, lambda) - computeBackwardS;
    backwardTerms.push({ name: strategy.dpType === 'zero3' ? 'zero3-comm' : 'zero2-comm', seconds: hidden });
  }
  return {
    forwardS,
    backwardS: sum(backwardTerms),
    forwardTerms,
    backwardTerms,
    ...iterationSyncTimes(shape, strategy, ctx),
  };
}
