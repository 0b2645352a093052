// A hand-given uniform configuration (same strategy on every layer) turned into a priced plan input.
import { UserInputError } from '../errors.js';
import { totalGpus, type ClusterSpec } from '../hardware/spec.js';
import { embeddingShape, layerList } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import type { DpType, LayerStrategy, RecomputeKind } from '../strategy/layer-strategy.js';
import { loadCostConstants } from './constants.js';
import { clusterWithProfile } from '../profile/cluster.js';
import type { Profile } from '../profile/schema.js';
import type { LayerRange, PipelineLayout, PlanInput } from './plan-cost.js';
import type { AttentionKernel, CostConstants, ElementwiseKernels, Precision, SelectiveRecompute, TrainingSetup } from './types.js';

export interface UniformConfig {
  globalBatch: number;
  /** Samples per micro-batch on one DP rank (Megatron's micro-batch size). */
  microBatch: number;
  tp: number;
  pp: number;
  cp: number;
  /** Model chunks per GPU; > 1 means interleaved 1F1B. */
  vpp: number;
  dpType: DpType;
  recompute: RecomputeKind;
  sequenceParallel: boolean;
  precision: Precision;
  schedule: 'gpipe' | '1f1b';
  attention?: AttentionKernel;
  fp32MainGrads?: boolean;
  /** Overlap forward TP collectives with GEMMs (Megatron-Core --tp-comm-overlap). */
  tpOverlap?: boolean;
  /** The engine's memory-bound kernels (default fused). */
  elementwiseKernels?: ElementwiseKernels;
  /** What selective recompute re-runs (default Megatron's attention core). */
  selectiveRecompute?: SelectiveRecompute;
  /** GPU memory to plan against, GiB (default: the GPU's own). */
  memoryGiB?: number;
  /** Measured numbers that replace the analytic ones they cover. */
  profile?: Profile;
}

const divisorsOf = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

/**
 * Flash attention for bf16 on GPUs that have it (sm80+, i.e. bf16-capable): the modern stacks. fp16 and
 * fp32 default to the unfused path: fp16 training on A100s is mostly the Megatron runs of 2020–22, which
 * predate flash attention. `--attention` overrides either way.
 */
export function defaultAttentionKernel(cluster: ClusterSpec, precision: Precision): AttentionKernel {
  return cluster.gpu.bf16 && precision === 'bf16' ? 'flash' : 'unfused';
}

/** `count` layers split into `parts` contiguous ranges; a remainder goes to the ranges after the first. */
export function evenLayerRanges(count: number, parts: number): LayerRange[] {
  const base = Math.floor(count / parts);
  const extra = count % parts;
  const ranges: LayerRange[] = [];
  let start = 0;
  for (let j = 0; j < parts; j++) {
    const size = base + (j >= 1 && j <= extra ? 1 : 0);
    ranges.push({ start, end: start + size });
    start += size;
  }
  return ranges;
}

function checkDegrees(model: ModelSpec, cluster: ClusterSpec, config: UniformConfig): number {
  const gpus = totalGpus(cluster);
  const { tp, pp, cp, vpp } = config;
  const kvHeads = model.kvHeads ?? model.heads;
  if (model.heads % tp !== 0) {
    throw new UserInputError('tp', `${tp} does not divide the model's ${model.heads} attention heads; use one of ${divisorsOf(model.heads).filter((d) => d <= gpus).join(', ')}`);
  }
  if (kvHeads % tp !== 0 && tp % kvHeads !== 0) {
    throw new UserInputError('tp', `${tp} and the model's ${kvHeads} KV heads do not divide one another; use a divisor or multiple of ${kvHeads}`);
  }
  const modelParallel = tp * pp * cp;
  if (gpus % modelParallel !== 0) {
    throw new UserInputError('gpus', `${gpus} GPUs are not divisible by tp·pp·cp = ${tp}·${pp}·${cp} = ${modelParallel}; use a multiple of ${modelParallel} GPUs or smaller degrees`);
  }
  // CP cuts the sequence in 2·cp chunks, rank i taking chunks i and 2cp−1−i, so that causal attention
  // costs every rank the same (Megatron's and the executor's load balancing).
  if (cp > 1 && model.seqLen % (2 * cp) !== 0) {
    throw new UserInputError('cp', `context parallelism cuts the sequence in 2·cp = ${2 * cp} balanced chunks, and ${2 * cp} does not divide the sequence length ${model.seqLen}; use a cp whose double divides it`);
  }
  if (config.sequenceParallel && tp > 1 && (model.seqLen / cp) % tp !== 0) {
    throw new UserInputError('sp', `sequence parallelism splits the ${model.seqLen / cp} tokens of a sequence (per CP rank) over the ${tp} TP ranks, and ${tp} does not divide them; use {{seqLen}} a multiple of ${tp * cp}, or drop {{sp}}`);
  }
  if (vpp > 1 && pp === 1) {
    throw new UserInputError('vpp', `${vpp} chunks per GPU need a pipeline: interleaving takes {{pp}} > 1; use {{vpp}} 1 or more stages`);
  }
  if (pp * vpp > model.layers) {
    throw new UserInputError('pp', `pp·vpp = ${pp * vpp} exceeds the model's ${model.layers} layers; use fewer stages or chunks`);
  }
  return gpus / modelParallel;
}

function checkBatch(config: UniformConfig, dp: number): number {
  const { globalBatch, microBatch, pp, vpp } = config;
  if (globalBatch % (microBatch * dp) !== 0) {
    throw new UserInputError('globalBatch', `${globalBatch} is not a multiple of micro-batch × DP = ${microBatch} × ${dp} = ${microBatch * dp}; use a multiple of ${microBatch * dp}`);
  }
  const microBatches = globalBatch / (microBatch * dp);
  if (vpp > 1 && microBatches % pp !== 0) {
    throw new UserInputError('vpp', `interleaved 1F1B needs the ${microBatches} micro-batches to be a multiple of pp = ${pp}; change {{globalBatch}} or {{microBatch}}`);
  }
  return microBatches;
}

/** The plan input for a uniform configuration; throws UserInputError naming the flag at fault. */
/** bf16 needs an Ampere-or-newer GPU: a V100 plan in bf16 would be priced for kernels it cannot run. */
export function checkPrecisionOnGpu(cluster: ClusterSpec, precision: string | undefined): void {
  if (precision === 'bf16' && !cluster.gpu.bf16) {
    throw new UserInputError('precision', `${cluster.gpu.name} has no bf16; use {{precision}} fp16`);
  }
}

export function uniformPlanInput(
  model: ModelSpec,
  cluster: ClusterSpec,
  config: UniformConfig,
  constants: CostConstants = loadCostConstants(),
): PlanInput {
  const dp = checkDegrees(model, cluster, config);
  const microBatches = checkBatch(config, dp);
  const profiled = config.profile ? clusterWithProfile(cluster, config.profile) : cluster;
  const effectiveCluster = config.memoryGiB === undefined ? profiled : { ...profiled, gpu: { ...profiled.gpu, memoryGiB: config.memoryGiB } };
  checkPrecisionOnGpu(cluster, config.precision);
  if (config.attention === 'flash' && !cluster.gpu.bf16) {
    throw new UserInputError('attention', `flash attention needs an Ampere-or-newer GPU and ${cluster.gpu.name} is older; use {{attention}} unfused`);
  }
  if (config.attention === 'flash' && config.precision === 'fp32') {
    throw new UserInputError('attention', 'flash attention runs in 16-bit only; use {{attention}} unfused with {{precision}} fp32, or {{precision}} bf16');
  }
  if (config.vpp > 1 && config.schedule === 'gpipe') {
    throw new UserInputError('vpp', 'interleaved stages run the 1F1B schedule only; drop {{schedule}} gpipe or use {{vpp}} 1');
  }
  const strategy: LayerStrategy = {
    tp: config.tp,
    sequenceParallel: config.sequenceParallel && config.tp > 1,
    cp: config.cp,
    dp,
    dpType: config.dpType,
    recompute: config.recompute,
    tpConsecutive: true,
  };
  const layers = layerList(model);
  const chunkCount = config.pp * config.vpp;
  const pipeline: PipelineLayout = {
    degree: config.pp,
    schedule: config.vpp > 1 ? 'interleaved-1f1b' : config.schedule,
    virtualStages: config.vpp,
    chunks: evenLayerRanges(layers.length, chunkCount),
  };
  const setup: TrainingSetup = {
    globalBatch: config.globalBatch,
    microBatches,
    seqLen: model.seqLen,
    precision: config.precision,
    attention: config.attention ?? defaultAttentionKernel(cluster, config.precision),
    fp32MainGrads: config.fp32MainGrads ?? false,
    tpOverlap: config.tpOverlap ?? false,
    dropout: model.family !== 'llama',
    ...(config.elementwiseKernels ? { elementwiseKernels: config.elementwiseKernels } : {}),
    ...(config.selectiveRecompute ? { selectiveRecompute: config.selectiveRecompute } : {}),
  };
  return {
    layers,
    strategies: layers.map(() => strategy),
    embedding: embeddingShape(model),
    embeddingStrategy: strategy,
    tiedEmbeddings: model.tiedEmbeddings,
    rope: model.positional === 'rope',
    setup,
    pipeline,
    cluster: effectiveCluster,
    constants,
    profile: config.profile,
  };
}
