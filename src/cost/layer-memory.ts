// Memory of one layer on one GPU: model states, activations per micro-batch, transients (DESIGN.md §4).
import { isSwinMerge, layerParametersPerTpRank } from '../model/derived.js';
import type { LayerShape } from '../model/spec.js';
import { gradientSyncGroupSize, type DpType, type LayerStrategy } from '../strategy/layer-strategy.js';
import { bytesPerElement } from './kernels.js';
import { attentionPasses, localLayerSizes, type LocalLayerSizes } from './layer-shapes.js';
import type { LayerMemory, Precision, TrainingSetup } from './types.js';

/** Bytes per parameter of weights, gradients and optimizer states (Adam). */
export interface StateBytes {
  param: number;
  grad: number;
  optimizer: number;
}

/** Mixed precision: 16-bit weights and grads + fp32 master, m, v (ZeRO's K = 12); fp32: 4 + 4 + 8. */
export function stateBytesPerParam(precision: Precision, fp32MainGrads: boolean): StateBytes {
  if (precision === 'fp32') return { param: 4, grad: 4, optimizer: 8 };
  return { param: 2, grad: fp32MainGrads ? 4 : 2, optimizer: 12 };
}

/** Bytes per parameter one GPU holds after ZeRO sharding over a group of `groupSize` (Rajbhandari et al.). */
export function shardedStateBytesPerParam(bytes: StateBytes, dpType: DpType, groupSize: number): number {
  const d = groupSize;
  switch (dpType) {
    case 'ddp':
      return bytes.param + bytes.grad + bytes.optimizer;
    case 'zero1':
      return bytes.param + bytes.grad + bytes.optimizer / d;
    case 'zero2':
      return bytes.param + (bytes.grad + bytes.optimizer) / d;
    case 'zero3':
      return (bytes.param + bytes.grad + bytes.optimizer) / d;
  }
}

export function layerModelStateBytes(shape: LayerShape, strategy: LayerStrategy, setup: TrainingSetup): number {
  const perParam = shardedStateBytesPerParam(
    stateBytesPerParam(setup.precision, setup.fp32MainGrads),
    strategy.dpType,
    gradientSyncGroupSize(strategy),
  );
  return layerParametersPerTpRank(shape, strategy.tp) * perParam;
}

/** Per-token statistics a norm keeps for backward, fp32: LayerNorm its mean and 1/σ, RMSNorm its 1/rms. */
export function normStatBytesPerToken(norm: LayerShape['norm']): number {
  return norm === 'layernorm' ? 8 : 4;
}

/** Activations a layer keeps for backward with no recomputation (Korthikanti et al.'s terms, generalised). */
interface ActivationParts {
  /** Norm inputs and outputs, their statistics and dropout masks on the hidden stream: sharded only with SP. */
  streamBytes: number;
  /** Q, K, V, attention output and FFN inner activations: sharded by TP. */
  tpShardedBytes: number;
  /** Softmax output, its dropout mask and output (unfused); flash keeps only the log-sum-exp. */
  attentionCoreBytes: number;
}

function activationParts(shape: LayerShape, strategy: LayerStrategy, local: LocalLayerSizes, setup: TrainingSetup): ActivationParts {
  const e = bytesPerElement(setup.precision);
  const passes = attentionPasses(shape);
  const norms = passes.length + 1;
  const blockInputs = passes.length + 1;
  const masks = setup.dropout ? norms : 0;
  const streamElements = local.tokens * shape.hidden;
  // With SP the column-parallel linears keep the norm output's shard and gather it again in backward.
  const statBytes = local.tokens * norms * normStatBytesPerToken(shape.norm);
  let streamBytes = (streamElements * ((norms + blockInputs) * e + masks) + statBytes) / (strategy.sequenceParallel ? strategy.tp : 1);
  if (isSwinMerge(shape)) {
    // Swin's patch merging (python/galvatron_runtime/swin.py merge_forward): its LayerNorm keeps the 2×2
    // blocks concatenated (2·hidden per merged token) and its statistics, the projection the normed
    // blocks. Replicated over TP; under SP a rank merges its band of rows alone when TP divides the merged
    // grid's side, else the whole grid.
    const side = Math.sqrt(shape.seqLen);
    const split = strategy.sequenceParallel && side % strategy.tp === 0 ? strategy.tp : 1;
    streamBytes += (local.tokens * (2 * (2 * shape.hidden) * e + normStatBytesPerToken('layernorm'))) / split;
  }

  const dh = shape.headDim;
  const qBytes = local.tokens * local.headsLocal * dh * e;
  const ffnTensors = shape.ffnType === 'swiglu' ? 3 : 2;
  let tpShardedBytes = local.tokens * local.ffnLocal * ffnTensors * e;
  let attentionCoreBytes = 0;
  for (const pass of passes) {
    const keyTokens = pass.name === 'cross-attn' ? local.samples * pass.span : local.tokens;
    // Q, K, V, and the attention output that feeds the output projection.
    tpShardedBytes += 2 * qBytes + 2 * keyTokens * local.kvHeadsLocal * dh * e;
    if (setup.attention === 'flash') {
      attentionCoreBytes += local.tokens * local.headsLocal * 4;
    } else {
      const scoreElements = local.samples * local.headsLocal * local.seqLocal * pass.span;
      attentionCoreBytes += scoreElements * (e + (setup.dropout ? 1 + e : 0));
    }
  }
  return { streamBytes, tpShardedBytes, attentionCoreBytes };
}

/** Activation bytes kept per micro-batch for the layer's recompute choice. */
export function layerActivationBytes(
  shape: LayerShape,
  strategy: LayerStrategy,
  microBatchSamples: number,
  setup: TrainingSetup,
): number {
  const local = localLayerSizes(shape, strategy, microBatchSamples);
  const parts = activationParts(shape, strategy, local, setup);
  switch (strategy.recompute) {
    case 'none':
      return parts.streamBytes + parts.tpShardedBytes + parts.attentionCoreBytes;
    case 'selective':
      // The core's inputs Q, K, V and its output stay (the output projection keeps the output); what goes
      // is the core's own state: the softmax, mask and dropout output (unfused), or the log-sum-exp (flash).
      return parts.streamBytes + parts.tpShardedBytes;
    case 'full':
      // Only the layer's input survives (sharded with SP).
      // (A Swin merging layer's input is the previous stage's: 4× the tokens at half the width.)
      return ((isSwinMerge(shape) ? 2 : 1) * local.tokens * shape.hidden * bytesPerElement(setup.precision)) / (strategy.sequenceParallel ? strategy.tp : 1);
  }
}

export function layerMemory(shape: LayerShape, strategy: LayerStrategy, microBatchSamples: number, setup: TrainingSetup): LayerMemory {
  const local = localLayerSizes(shape, strategy, microBatchSamples);
  const parts = activationParts(shape, strategy, local, setup);
  const fullActivations = parts.streamBytes + parts.tpShardedBytes + parts.attentionCoreBytes;
  let peakTransientBytes = strategy.recompute === 'none' ? 0 : fullActivations - layerActivationBytes(shape, strategy, microBatchSamples, setup);
  const bytes = stateBytesPerParam(setup.precision, setup.fp32MainGrads);
  const shardParams = layerParametersPerTpRank(shape, strategy.tp);
  if (strategy.dpType === 'zero3' && gradientSyncGroupSize(strategy) > 1) {
    // The gathered weights (re-gathered for backward) and the layer's full gradient before it is
    // reduce-scattered; the executor gathers one layer at a time (no prefetch).
    peakTransientBytes += shardParams * (bytes.param + bytes.grad);
  } else if (strategy.dpType === 'zero2' && gradientSyncGroupSize(strategy) > 1) {
    // The layer's full gradient of one micro-batch, until it is reduce-scattered into the shard.
    peakTransientBytes += shardParams * bytes.grad;
  }
  return {
    modelStateBytes: layerModelStateBytes(shape, strategy, setup),
    activationBytesPerMicroBatch: layerActivationBytes(shape, strategy, microBatchSamples, setup),
    peakTransientBytes,
  };
}
