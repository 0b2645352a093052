// Prices a whole per-layer plan: stages, their time and memory, the pipeline, throughput and MFU.
import type { ClusterSpec } from '../hardware/spec.js';
import { carriedTokens, headForwardFlops, layerForwardFlops, layerParametersPerTpRank, streamTokens } from '../model/derived.js';
import type { EmbeddingShape, LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { embeddingCost, headCost, type EndCost } from './embedding.js';
import { peakFlopsPerS, memoryBoundTimeS, bytesPerElement, type KernelContext } from './kernels.js';
import { layerMemory } from './layer-memory.js';
import { layerTime, type LayerCostContext } from './layer-time.js';
import { transitionTimeS } from './transition.js';
import { p2pTimeS } from '../hardware/collectives.js';
import { commExcessS, composePipeline, inFlightMicroBatches, type PipelineTiming, type StageTimes } from './pipeline.js';
import { stepSyncS } from './step-sync.js';
import type { CostConstants, Schedule, TimeTerm, TrainingSetup } from './types.js';
import type { Profile } from '../profile/schema.js';

const GIB = 1024 ** 3;
/** Adam step with clipping: read grad, param, m, v (fp32) and write param, m, v and the 16-bit copy. */
export const OPTIMIZER_BYTES_PER_PARAM = 4 * 4 + 3 * 4 + 2;

export interface LayerRange {
  /** First layer index (inclusive) and end (exclusive). */
  start: number;
  end: number;
}

export interface PipelineLayout {
  degree: number;
  schedule: Schedule;
  /** Model chunks per GPU (1 unless interleaved). */
  virtualStages: number;
  /** degree · virtualStages contiguous layer ranges in model order; chunk j runs on stage j mod degree. */
  chunks: LayerRange[];
}

export interface PlanInput {
  layers: LayerShape[];
  strategies: LayerStrategy[];
  embedding: EmbeddingShape;
  embeddingStrategy: LayerStrategy;
  tiedEmbeddings: boolean;
  rope: boolean;
  setup: TrainingSetup;
  pipeline: PipelineLayout;
  cluster: ClusterSpec;
  constants: CostConstants;
  /** Measured layer times (the cluster already carries the profile's link figures). */
  profile?: Profile;
}

export interface StageMemory {
  modelStateBytes: number;
  /** Activations of one micro-batch on this stage (all its chunks), before in-flight count and fragmentation. */
  activationBytesPerMicroBatch: number;
  /** Activations at the peak: per micro-batch × in flight × fragmentation. */
  activationBytes: number;
  transientBytes: number;
  fixedBytes: number;
  totalBytes: number;
  inFlightMicroBatches: number;
}

export interface StageCost {
  index: number;
  /** Layer indices of this stage, all its chunks. */
  layers: number[];
  forwardS: number;
  backwardS: number;
  gradientSyncS: number;
  parameterGatherS: number;
  /** The part of the sync and gathers that does not hide behind the passes they overlap. */
  exposedCommS: number;
  /** The step's world all-reduce of the gradient norm (src/cost/step-sync.ts), then Adam. */
  optimizerS: number;
  p2pS: number;
  memory: StageMemory;
  /** Per-micro-batch time terms summed over the stage's layers (forward and backward). */
  terms: Record<string, number>;
}

export interface PlanCost {
  stages: StageCost[];
  timing: PipelineTiming;
  iterationTimeS: number;
  samplesPerS: number;
  tokensPerSPerGpu: number;
  modelFlopsPerIteration: number;
  tflopsPerGpu: number;
  mfu: number;
  memoryPerGpuBytes: number;
  memoryBudgetBytes: number;
  fits: boolean;
  /** Iteration time split into terms along the slowest stage (seconds; sums to iterationTimeS). */
  breakdown: Record<string, number>;
  totalGpus: number;
}

function addTerms(into: Record<string, number>, terms: TimeTerm[], prefix: string, times = 1): void {
  for (const term of terms) {
    const key = `${prefix}${term.name}`;
    let sum = into[key] ?? 0;
    // Repeated addition, not a product: the same sums as adding layer by layer.
    for (let k = 0; k < times; k++) sum += term.seconds;
    into[key] = sum;
  }
}

/** Whether layers a and b sit in the same pipeline chunk. */
export function sameChunk(pipeline: PipelineLayout, a: number, b: number): boolean {
  return pipeline.chunks.some((c) => c.start <= Math.min(a, b) && Math.max(a, b) < c.end);
}

/** Layer indices that run on pipeline stage `stage`. */
export function stageLayers(pipeline: PipelineLayout, stage: number): number[] {
  const layers: number[] = [];
  pipeline.chunks.forEach((chunk, j) => {
    if (j % pipeline.degree !== stage) return;
    for (let l = chunk.start; l < chunk.end; l++) layers.push(l);
  });
  return layers;
}

function stageGpus(input: PlanInput): number {
  const first = input.strategies[0] ?? input.embeddingStrategy;
  return first.tp * first.cp * first.dp;
}

/** Whether the send from stage i to stage i+1 crosses a node boundary (stages are contiguous blocks). */
export function boundaryCrossesNodes(stage: number, gpusPerStage: number, gpusPerNode: number): boolean {
  return gpusPerStage >= gpusPerNode || ((stage + 1) * gpusPerStage) % gpusPerNode === 0;
}

/** Field-by-field equality of two flat records (layer shapes, strategies). */
function sameFields<T extends object>(a: T, b: T): boolean {
  if (a === b) return true;
  for (const key of Object.keys(a) as (keyof T)[]) if (a[key] !== b[key]) return false;
  return Object.keys(a).length === Object.keys(b).length;
}

export function pricePlan(input: PlanInput): PlanCost {
  const { setup, pipeline, cluster } = input;
  const kernel: KernelContext = { gpu: cluster.gpu, precision: setup.precision, constants: input.constants };
  const ctx: LayerCostContext = { kernel, cluster, setup, profile: input.profile };
  const microBatchSamples = setup.globalBatch / setup.microBatches;
  const p = pipeline.degree;
  const v = pipeline.schedule === 'interleaved-1f1b' ? pipeline.virtualStages : 1;
  const gpusPerStage = stageGpus(input);
  const lambda = cluster.overlapSlowdown;
  const e = bytesPerElement(setup.precision);

  const stages: StageCost[] = [];
  const stageTimes: StageTimes[] = [];
  const totalGpus = gpusPerStage * p;
  const stepSync = stepSyncS(cluster, totalGpus);
  for (let i = 0; i < p; i++) {
    const layers = stageLayers(pipeline, i);
    const terms: Record<string, number> = {};
    let forwardS = 0;
    let backwardS = 0;
    let gradientSyncS = 0;
    let parameterGatherS = 0;
    let exposedCommS = 0;
    let modelStateBytes = 0;
    let activationBytes = 0;
    let transientBytes = 0;
    const ends: EndCost[] = [];
    if (i === 0) ends.push(embeddingCost(input.embedding, input.embeddingStrategy, microBatchSamples, ctx));
    if (i === p - 1) ends.push(headCost(input.embedding, input.embeddingStrategy, microBatchSamples, ctx, input.tiedEmbeddings && p > 1));
    const inFlight = inFlightMicroBatches(i, p, setup.microBatches, pipeline.schedule, v);

    // Runs of identical layers under one strategy (the common case) are priced once.
    let last: { shape: LayerShape; strategy: LayerStrategy; time: ReturnType<typeof layerTime>; memory: ReturnType<typeof layerMemory>; run: number } | undefined;
    const redistribute = (t: number) => {
      if (t <= 0) return;
      forwardS += t;
      backwardS += t;
      terms['forward.redistribute'] = (terms['forward.redistribute'] ?? 0) + t;
      terms['backward.redistribute'] = (terms['backward.redistribute'] ?? 0) + t;
    };
    const flushTerms = () => {
      if (!last || last.run === 0) return;
      addTerms(terms, last.time.forwardTerms, 'forward.', last.run);
      addTerms(terms, last.time.backwardTerms, 'backward.', last.run);
      last.run = 0;
    };
    for (const l of layers) {
      const shape = input.layers[l]!;
      const strategy = input.strategies[l]!;
      // Inside a chunk, a layer whose layout differs from its predecessor's re-distributes activations;
      // the first layer takes them from the embedding, whose layout is the embedding strategy's.
      const previous = l === 0 ? input.embeddingStrategy : sameChunk(pipeline, l - 1, l) ? input.strategies[l - 1]! : undefined;
      // A T5's two streams move together (carriedTokens); the head takes the decoder's alone.
      if (previous) redistribute(transitionTimeS(previous, strategy, microBatchSamples, carriedTokens(shape), shape.hidden, setup.precision, cluster));
      // The head takes the last layer's output in the embedding strategy's layout.
      if (l === input.layers.length - 1) {
        redistribute(transitionTimeS(strategy, input.embeddingStrategy, microBatchSamples, shape.seqLen, shape.hidden, setup.precision, cluster));
      }
      if (!last || !sameFields(last.shape, shape) || !sameFields(last.strategy, strategy)) {
        flushTerms();
        last = { shape, strategy, time: layerTime(shape, strategy, microBatchSamples, ctx, { rope: input.rope }), memory: layerMemory(shape, strategy, microBatchSamples, setup), run: 0 };
      }
      last.run++;
      const { time, memory } = last;
      forwardS += time.forwardS;
      backwardS += time.backwardS;
      gradientSyncS += time.gradientSyncS;
      parameterGatherS += time.parameterGatherS;
      exposedCommS += layerCommExcessS(time, lambda, v);
      modelStateBytes += memory.modelStateBytes;
      activationBytes += memory.activationBytesPerMicroBatch;
      transientBytes = Math.max(transientBytes, memory.peakTransientBytes);
    }
    flushTerms();
    let activationBytesPerMicroBatch = activationBytes;
    activationBytes *= inFlight;
    for (const end of ends) {
      forwardS += end.forwardS;
      backwardS += end.backwardS;
      gradientSyncS += end.gradientSyncS;
      parameterGatherS += end.parameterGatherS;
      exposedCommS += layerCommExcessS(end, lambda, v);
      addTerms(terms, end.forwardTerms, 'forward.');
      addTerms(terms, end.backwardTerms, 'backward.');
      modelStateBytes += end.modelStateBytes;
      activationBytesPerMicroBatch += end.activationBytesPerMicroBatch;
      activationBytes += end.activationBytesPerMicroBatch * inFlight;
      transientBytes = Math.max(transientBytes, end.peakTransientBytes);
    }

    // Activations (or their gradients) cross each stage boundary once per micro-batch per chunk,
    // split over TP ranks (Megatron's scatter/gather optimisation). A T5 sends both streams at every
    // boundary (python/galvatron_runtime/t5.py): the encoder's and the decoder's tokens.
    const strategy = input.strategies[layers[0] ?? 0] ?? input.embeddingStrategy;
    const boundaryBytes = (microBatchSamples / strategy.dp) * (streamTokens(input.embedding) / strategy.cp) * input.embedding.hidden * e / strategy.tp;
    const crosses = boundaryCrossesNodes(i, gpusPerStage, cluster.gpusPerNode);
    const sendsForward = p > 1 ? (i < p - 1 ? v : v - 1) : 0;
    const sendsBackward = p > 1 ? (i > 0 ? v : v - 1) : 0;
    const p2pS = (sendsForward + sendsBackward) * p2pTimeS(cluster, boundaryBytes, crosses);
    if (p2pS > 0) terms['p2p'] = p2pS;
    forwardS += (sendsForward / Math.max(1, sendsForward + sendsBackward)) * p2pS;
    backwardS += (sendsBackward / Math.max(1, sendsForward + sendsBackward)) * p2pS;

    // Optimizer: memory-bound Adam over the parameters this GPU updates (its ZeRO shard).
    const optimizerParams = stageOptimizerParams(input, layers, ends);
    // Every stage waits for the step's world all-reduce (gradient norm, loss) before it updates.
    const optimizerS = stepSync + memoryBoundTimeS(kernel, optimizerParams * OPTIMIZER_BYTES_PER_PARAM);

    const fixedBytes = input.constants.fixedMemoryGiB * GIB;
    const activationTotal = activationBytes * input.constants.activationFragmentation;
    stages.push({
      index: i,
      layers,
      forwardS,
      backwardS,
      gradientSyncS,
      parameterGatherS,
      exposedCommS,
      optimizerS,
      p2pS,
      memory: {
        modelStateBytes,
        activationBytesPerMicroBatch,
        activationBytes: activationTotal,
        transientBytes,
        fixedBytes,
        totalBytes: modelStateBytes + activationTotal + transientBytes + fixedBytes,
        inFlightMicroBatches: inFlight,
      },
      terms,
    });
    stageTimes.push({ forwardS, backwardS, exposedCommS, optimizerS });
  }

  const timing = composePipeline(stageTimes, setup.microBatches, pipeline.schedule, v);
  const modelFlopsPerIteration = modelFlops(input);
  const iterationTimeS = timing.iterationS;
  const memoryPerGpuBytes = Math.max(...stages.map((s) => s.memory.totalBytes));
  const memoryBudgetBytes = cluster.gpu.memoryGiB * GIB;
  const tokens = setup.globalBatch * setup.seqLen;
  const tflopsPerGpu = modelFlopsPerIteration / iterationTimeS / totalGpus / 1e12;
  return {
    stages,
    timing,
    iterationTimeS,
    samplesPerS: setup.globalBatch / iterationTimeS,
    tokensPerSPerGpu: tokens / iterationTimeS / totalGpus,
    modelFlopsPerIteration,
    tflopsPerGpu,
    mfu: (tflopsPerGpu * 1e12) / peakFlopsPerS(cluster.gpu, setup.precision),
    memoryPerGpuBytes,
    memoryBudgetBytes,
    fits: memoryPerGpuBytes <= memoryBudgetBytes,
    breakdown: iterationBreakdown(stages, timing, setup.microBatches, stepSync),
    totalGpus,
  };
}

/** Parameters whose optimizer state this GPU updates on stage `layers`. */
function stageOptimizerParams(input: PlanInput, layers: number[], ends: EndCost[]): number {
  let params = 0;
  for (const l of layers) params += optimizerShard(layerParametersPerTpRank(input.layers[l]!, input.strategies[l]!.tp), input.strategies[l]!);
  for (const end of ends) params += optimizerShard(end.parametersPerTpRank, input.embeddingStrategy);
  return params;
}

/**
 * Once-per-iteration communication of one layer (or end) that does not hide: its gradient sync behind its
 * own backward of the last micro-batch, its ZeRO-1/2 parameter gather behind its own first forward.
 */
export function layerCommExcessS(
  time: { forwardS: number; backwardS: number; gradientSyncS: number; parameterGatherS: number },
  lambda: number,
  virtualStages: number,
): number {
  return commExcessS(time.backwardS / virtualStages, time.gradientSyncS, lambda) + commExcessS(time.forwardS / virtualStages, time.parameterGatherS, lambda);
}

/** Parameters whose optimizer state a GPU updates under strategy `s` (its ZeRO shard of its TP share). */
export function optimizerShard(parametersPerTpRank: number, s: LayerStrategy): number {
  return parametersPerTpRank / (s.dpType === 'ddp' ? 1 : s.dp * s.cp);
}

/** Model FLOPs of one iteration: 3 × forward (Megatron's convention; recompute not counted). */
export function modelFlops(input: Pick<PlanInput, 'layers' | 'embedding' | 'setup'>): number {
  let forwardPerSample = headForwardFlops(input.embedding);
  for (const shape of input.layers) {
    const flops = layerForwardFlops(shape);
    forwardPerSample += flops.gemm + flops.attention;
  }
  return 3 * forwardPerSample * input.setup.globalBatch;
}

/** The slowest stage's work × m, the bubble, exposed sync and optimizer: sums to the iteration time. */
function iterationBreakdown(stages: StageCost[], timing: PipelineTiming, microBatches: number, stepSync: number): Record<string, number> {
  const slowest = stages.reduce((a, b) => (b.forwardS + b.backwardS > a.forwardS + a.backwardS ? b : a));
  const breakdown: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(slowest.terms)) breakdown[name] = seconds * microBatches;
  breakdown['pipeline-bubble'] = timing.bubbleS;
  breakdown['gradient-sync-exposed'] = timing.exposedCommS;
  breakdown['gradient-norm-all-reduce'] = stepSync;
  breakdown['optimizer'] = timing.optimizerS - stepSync;
  return breakdown;
}
