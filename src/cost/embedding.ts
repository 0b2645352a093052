// Input embedding (first stage) and output head with loss (last stage): time and memory per GPU.
import { collectiveTimeS } from '../hardware/collectives.js';
import type { EmbeddingShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { gradientSyncGroupSize } from '../strategy/layer-strategy.js';
import { layerGroupPlacements } from '../strategy/rank-layout.js';
import { profiledEndTime } from '../profile/apply.js';
import { bytesPerElement, gemmTimeS, memoryBoundTimeS } from './kernels.js';
import { shardedStateBytesPerParam, stateBytesPerParam } from './layer-memory.js';
import type { LayerCostContext } from './layer-time.js';
import type { TimeTerm } from './types.js';

export interface EndCost {
  forwardS: number;
  backwardS: number;
  forwardTerms: TimeTerm[];
  backwardTerms: TimeTerm[];
  gradientSyncS: number;
  parameterGatherS: number;
  modelStateBytes: number;
  /** Activations per micro-batch in flight. */
  activationBytesPerMicroBatch: number;
  /** Bytes alive only while this micro-batch's loss is computed (logits and their fp32 softmax). */
  peakTransientBytes: number;
  parameters: number;
  /** Parameters one TP rank holds: the vocab-parallel matrices split over TP, the rest replicated. */
  parametersPerTpRank: number;
}

/** int64 token ids and labels. */
const TOKEN_ID_BYTES = 8;
/** The loss runs on fp32 logits (16-bit logits are converted first). */
const LOSS_BYTES = 4;

/** Per-token statistics of the final norm: LayerNorm (2·hidden parameters) 8 bytes, RMSNorm 4, none 0. */
function finalNormStatBytes(emb: EmbeddingShape): number {
  return Math.min(2, Math.round(emb.finalNormParameters / emb.hidden)) * 4;
}

/** Logits per sample / vocab: tokens per sample for language models, 1 for a classifier head. */
function headRowsPerSample(emb: EmbeddingShape): number {
  return emb.logitsPerSample / emb.vocab;
}

/** Of `params`, the `vocabParams` are split over TP (vocab-parallel), the rest is replicated. */
function perTpRank(params: number, vocabParams: number, strategy: LayerStrategy): number {
  return vocabParams / strategy.tp + (params - vocabParams);
}

function stateBytes(localParams: number, strategy: LayerStrategy, ctx: LayerCostContext): number {
  const perParam = shardedStateBytesPerParam(
    stateBytesPerParam(ctx.setup.precision, ctx.setup.fp32MainGrads),
    strategy.dpType,
    gradientSyncGroupSize(strategy),
  );
  return localParams * perParam;
}

function syncTimeS(localParams: number, strategy: LayerStrategy, ctx: LayerCostContext): number {
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  if (groups.gradientSync.size <= 1) return 0;
  const gradBytes = localParams * (ctx.setup.fp32MainGrads ? 4 : bytesPerElement(ctx.setup.precision));
  return collectiveTimeS(ctx.cluster, 'all-reduce', gradBytes, groups.gradientSync);
}

/** Vocab-parallel embedding lookup: each TP rank looks up its rows, then an all-reduce joins them. */
export function embeddingCost(emb: EmbeddingShape, strategy: LayerStrategy, microBatchSamples: number, ctx: LayerCostContext): EndCost {
  const e = bytesPerElement(ctx.setup.precision);
  const tokens = (microBatchSamples / strategy.dp) * (emb.seqLen / strategy.cp);
  const outputBytes = tokens * emb.hidden * e;
  // The word embedding is split over TP by vocabulary; positions, token types and norms are replicated.
  const localParams = perTpRank(emb.inputParameters, emb.vocab * emb.hidden, strategy);
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  const lookupS = memoryBoundTimeS(ctx.kernel, 2 * outputBytes);
  const commS = strategy.tp > 1 ? collectiveTimeS(ctx.cluster, strategy.sequenceParallel ? 'reduce-scatter' : 'all-reduce', outputBytes, groups.tp) : 0;
  let forwardTerms = [
    { name: 'embedding', seconds: lookupS },
    { name: 'tp-comm', seconds: commS },
  ];
  let backwardTerms = [{ name: 'embedding', seconds: 2 * lookupS }];
  const measured = ctx.profile ? profiledEndTime(ctx.profile, 'embedding', emb, strategy, microBatchSamples / strategy.dp) : undefined;
  if (measured) {
    // Measured at this TP degree the time holds the all-reduce (or reduce-scatter) that joins the lookups.
    forwardTerms = [{ name: 'compute-profiled', seconds: measured.forwardS }, ...(measured.includesTpComm ? [] : [{ name: 'tp-comm', seconds: commS }])];
    backwardTerms = [{ name: 'compute-profiled', seconds: measured.backwardS }];
  }
  const total = (terms: { seconds: number }[]) => terms.reduce((s, t) => s + t.seconds, 0);
  return {
    forwardS: total(forwardTerms),
    backwardS: total(backwardTerms),
    forwardTerms,
    backwardTerms,
    gradientSyncS: syncTimeS(localParams, strategy, ctx),
    parameterGatherS: 0,
    modelStateBytes: stateBytes(localParams, strategy, ctx),
    // The lookup keeps its int64 indices (and, vocab-parallel, the mask of tokens outside the shard);
    // its output is the first layer's input, counted there. Dropout keeps a byte mask per element.
    activationBytesPerMicroBatch: tokens * (TOKEN_ID_BYTES + (strategy.tp > 1 ? 1 : 0)) + (ctx.setup.dropout ? (tokens * emb.hidden) / (strategy.sequenceParallel ? strategy.tp : 1) : 0),
    peakTransientBytes: 0,
    parameters: emb.inputParameters,
    parametersPerTpRank: localParams,
  };
}

/**
 * Final norm, vocab-parallel logits GEMM and cross-entropy. `holdsEmbeddingCopy`: with tied weights and
 * more than one stage, the last stage keeps its own copy of the embedding matrix (Megatron does).
 */
export function headCost(
  emb: EmbeddingShape,
  strategy: LayerStrategy,
  microBatchSamples: number,
  ctx: LayerCostContext,
  holdsEmbeddingCopy: boolean,
): EndCost {
  const e = bytesPerElement(ctx.setup.precision);
  const samples = microBatchSamples / strategy.dp;
  const tokens = samples * (emb.seqLen / strategy.cp);
  const rows = samples * headRowsPerSample(emb) / (headRowsPerSample(emb) > 1 ? strategy.cp : 1);
  const vocabLocal = emb.vocab / strategy.tp;
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  const normS = memoryBoundTimeS(ctx.kernel, (4 * tokens * emb.hidden * e) / (strategy.sequenceParallel ? strategy.tp : 1));
  const logitsS = gemmTimeS(ctx.kernel, rows, vocabLocal, emb.hidden);
  const logitElements = rows * vocabLocal;
  // Cross-entropy: read logits, write and read an fp32 softmax; backward writes the logit gradient.
  const lossForwardS = memoryBoundTimeS(ctx.kernel, logitElements * (e + 4 + 4), 3);
  const lossBackwardS = memoryBoundTimeS(ctx.kernel, logitElements * (4 + e), 2);
  // Vocab-parallel softmax: max, sum and target-logit all-reduces of one float per row; the input
  // of the logits GEMM is gathered (SP) and its gradient reduced across TP.
  const hiddenBytes = tokens * emb.hidden * e;
  const commS =
    strategy.tp > 1
      ? 3 * collectiveTimeS(ctx.cluster, 'all-reduce', rows * 4, groups.tp) +
        (strategy.sequenceParallel ? collectiveTimeS(ctx.cluster, 'all-gather', hiddenBytes, groups.tp) : 0)
      : 0;
  const backwardCommS = strategy.tp > 1 ? collectiveTimeS(ctx.cluster, strategy.sequenceParallel ? 'reduce-scatter' : 'all-reduce', hiddenBytes, groups.tp) : 0;
  const forwardTerms = [
    { name: 'elementwise', seconds: normS },
    { name: 'gemm', seconds: logitsS },
    { name: 'loss', seconds: lossForwardS },
    { name: 'tp-comm', seconds: commS },
  ];
  const backwardTerms = [
    { name: 'elementwise', seconds: 2 * normS },
    { name: 'gemm', seconds: 2 * logitsS },
    { name: 'loss', seconds: lossBackwardS },
    { name: 'tp-comm', seconds: backwardCommS },
  ];
  const params = emb.finalNormParameters + (holdsEmbeddingCopy ? emb.vocab * emb.hidden : emb.headParameters);
  // The output projection (tied copy or untied) is split over TP by vocabulary; norms and the rest are replicated.
  const projection = holdsEmbeddingCopy || emb.headParameters >= emb.vocab * emb.hidden ? emb.vocab * emb.hidden : 0;
  const localParams = perTpRank(params, projection, strategy);
  const measured = ctx.profile ? profiledEndTime(ctx.profile, 'head', emb, strategy, samples) : undefined;
  if (measured) {
    // The measured norm, logits and loss replace the analytic ones; measured at this TP degree they hold
    // the vocab-parallel all-reduces and the SP gather too.
    forwardTerms.splice(0, 3, { name: 'compute-profiled', seconds: measured.forwardS });
    backwardTerms.splice(0, 3, { name: 'compute-profiled', seconds: measured.backwardS });
    if (measured.includesTpComm) {
      forwardTerms.splice(1);
      backwardTerms.splice(1);
    }
  }
  const total = (terms: { seconds: number }[]) => terms.reduce((s, t) => s + t.seconds, 0);
  return {
    forwardS: total(forwardTerms),
    backwardS: total(backwardTerms),
    forwardTerms,
    backwardTerms,
    gradientSyncS: syncTimeS(localParams, strategy, ctx),
    parameterGatherS: 0,
    modelStateBytes: stateBytes(localParams, strategy, ctx),
    // The final norm's input and statistics, its output as the logits GEMM keeps it (the shard with SP,
    // gathered again in backward), the fp32 softmax the loss keeps (computed in place on the logits),
    // and per label row its int64 index and a mask byte.
    activationBytesPerMicroBatch:
      (tokens * (2 * emb.hidden * e + finalNormStatBytes(emb))) / (strategy.sequenceParallel ? strategy.tp : 1) + logitElements * LOSS_BYTES + rows * (TOKEN_ID_BYTES + 1),
    // 16-bit logits exist while they are converted to fp32 (and their gradient while converted back).
    peakTransientBytes: e < LOSS_BYTES ? logitElements * e : 0,
    parameters: params,
    parametersPerTpRank: localParams,
  };
}
