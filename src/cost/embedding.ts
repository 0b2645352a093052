// Input embedding (first stage) and output head with loss (last stage): time and memory per GPU.
import { collectiveBandwidthS, collectiveTimeS } from '../hardware/collectives.js';
import { streamTokens } from '../model/derived.js';
import type { EmbeddingShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { gradientSyncGroupSize } from '../strategy/layer-strategy.js';
import { layerGroupPlacements } from '../strategy/rank-layout.js';
import { profiledEndTime } from '../profile/apply.js';
import { bytesPerElement, gemmTimeS, memoryBoundTimeS } from './kernels.js';
import { overlappedTimeS } from './overlap.js';
import { normStatBytesPerToken, shardedStateBytesPerParam, stateBytesPerParam } from './layer-memory.js';
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

/** Per-token statistics of the final norm: LayerNorm (2·hidden parameters) 8 bytes, RMSNorm 4, none 0;
 * a T5's two RMSNorms (2·hidden parameters as well) 4 bytes per token of each. */
function finalNormStatBytes(emb: EmbeddingShape): number {
  if (emb.decoderSeqLen !== undefined) return 4;
  return Math.min(2, Math.round(emb.finalNormParameters / (emb.headHidden ?? emb.hidden))) * 4;
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

/** Data-parallel traffic of an end: once per iteration, and per micro-batch on top of its passes. */
interface EndDataParallel {
  gradientSyncS: number;
  parameterGatherS: number;
  forwardTerms: TimeTerm[];
  backwardTerms: TimeTerm[];
}

/** One parameter bucket of an end, as the executor keeps it (one data_parallel.Unit). */
interface EndBucket {
  params: number;
  /** Its backward reads the weights (ZeRO-3 gathers them again). */
  readsInBackward: boolean;
  /** The embedding's own table, used by a tied head on its stage: ZeRO-2 scatters its gradient once, there. */
  sharedWithEmbedding?: boolean;
}

/**
 * The data-parallel traffic of an end, as a layer's (layer-time.ts): DDP all-reduces the gradients once
 * per iteration; ZeRO-1 reduce-scatters them and all-gathers the updated parameters; ZeRO-2 reduce-
 * scatters each micro-batch's gradients in backward and all-gathers once; ZeRO-3 all-gathers the
 * parameters for every micro-batch's forward (again in backward when the backward reads them) and
 * reduce-scatters every micro-batch's gradients, one collective per bucket it uses, overlapped with the
 * end's passes at λ. `stateParams` are the end's own parameters (its states and per-iteration sync).
 */
function endDataParallel(stateParams: number, buckets: EndBucket[], pass: { forwardS: number; backwardS: number }, strategy: LayerStrategy, ctx: LayerCostContext): EndDataParallel {
  const none: EndDataParallel = { gradientSyncS: 0, parameterGatherS: 0, forwardTerms: [], backwardTerms: [] };
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  if (groups.gradientSync.size <= 1) return none;
  const e = bytesPerElement(ctx.setup.precision);
  const gradPerParam = ctx.setup.fp32MainGrads ? 4 : e;
  const time = (kind: 'all-reduce' | 'all-gather' | 'reduce-scatter', bytes: number) => collectiveTimeS(ctx.cluster, kind, bytes, groups.gradientSync);
  // Once per iteration: bucketed with the layers' (iterationSyncTimes), bytes at the bus bandwidth.
  const bucketed = (kind: 'all-reduce' | 'all-gather' | 'reduce-scatter', bytes: number) => collectiveBandwidthS(ctx.cluster, kind, bytes, groups.gradientSync);
  const hidden = (passS: number, commS: number) => overlappedTimeS(passS, commS, ctx.cluster.overlapSlowdown) - passS;
  const sum = (f: (b: EndBucket) => number) => buckets.filter((b) => b.params > 0).reduce((total, b) => total + f(b), 0);
  switch (strategy.dpType) {
    case 'ddp':
      return { ...none, gradientSyncS: bucketed('all-reduce', stateParams * gradPerParam) };
    case 'zero1':
      return { ...none, gradientSyncS: bucketed('reduce-scatter', stateParams * gradPerParam), parameterGatherS: bucketed('all-gather', stateParams * e) };
    case 'zero2': {
      const scatterS = sum((b) => (b.sharedWithEmbedding ? 0 : time('reduce-scatter', b.params * gradPerParam)));
      return { ...none, parameterGatherS: bucketed('all-gather', stateParams * e), backwardTerms: [{ name: 'zero2-comm', seconds: hidden(pass.backwardS, scatterS) }] };
    }
    case 'zero3': {
      const gatherS = sum((b) => time('all-gather', b.params * e));
      const backwardCommS = sum((b) => (b.readsInBackward ? time('all-gather', b.params * e) : 0) + time('reduce-scatter', b.params * gradPerParam));
      return {
        ...none,
        forwardTerms: [{ name: 'zero3-gather', seconds: hidden(pass.forwardS, gatherS) }],
        backwardTerms: [{ name: 'zero3-comm', seconds: hidden(pass.backwardS, backwardCommS) }],
      };
    }
  }
}

/** Vocab-parallel embedding lookup: each TP rank looks up its rows, then an all-reduce joins them. */
export function embeddingCost(emb: EmbeddingShape, strategy: LayerStrategy, microBatchSamples: number, ctx: LayerCostContext): EndCost {
  const e = bytesPerElement(ctx.setup.precision);
  // A T5 looks up the decoder's input tokens here too, in the same table (streamTokens).
  const tokens = (microBatchSamples / strategy.dp) * (streamTokens(emb) / strategy.cp);
  const outputBytes = tokens * emb.hidden * e;
  // The word embedding is split over TP by vocabulary; positions, token types, norms and an image
  // model's patch projection are replicated.
  const localParams = perTpRank(emb.inputParameters, emb.inputSplitParameters, strategy);
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
  // What the lookup keeps: its int64 indices (and, vocab-parallel, the mask of tokens outside the shard).
  // An image model's patch projection keeps the pixels it reads, and Swin's patch norm its input and
  // statistics, on every TP rank (python/galvatron_runtime/vision.py, swin.py: replicated, SP splits after).
  const samples = microBatchSamples / strategy.dp;
  const inputBytes =
    emb.patchValues === undefined
      ? tokens * (TOKEN_ID_BYTES + (strategy.tp > 1 ? 1 : 0))
      : samples * emb.patchValues * e + (emb.patchNormWidth === undefined ? 0 : tokens * (emb.patchNormWidth * e + normStatBytesPerToken('layernorm')));
  const total = (terms: { seconds: number }[]) => terms.reduce((s, t) => s + t.seconds, 0);
  // Two buckets: the vocab-parallel table and the replicated rest (positions, token types, norms). The
  // lookup's backward needs the indices only, not the table: ZeRO-3 does not gather them again.
  const table = emb.inputSplitParameters / strategy.tp;
  const buckets = [
    { params: table, readsInBackward: false },
    { params: localParams - table, readsInBackward: false },
  ];
  const dp = endDataParallel(localParams, buckets, { forwardS: total(forwardTerms), backwardS: total(backwardTerms) }, strategy, ctx);
  forwardTerms = [...forwardTerms, ...dp.forwardTerms];
  backwardTerms = [...backwardTerms, ...dp.backwardTerms];
  return {
    forwardS: total(forwardTerms),
    backwardS: total(backwardTerms),
    forwardTerms,
    backwardTerms,
    gradientSyncS: dp.gradientSyncS,
    parameterGatherS: dp.parameterGatherS,
    modelStateBytes: stateBytes(localParams, strategy, ctx),
    // What the lookup (or patch projection) keeps (inputBytes); its output is the first layer's input,
    // counted there. Dropout keeps a byte mask per element.
    activationBytesPerMicroBatch: inputBytes + (ctx.setup.dropout ? (tokens * emb.hidden) / (strategy.sequenceParallel ? strategy.tp : 1) : 0),
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
  // The head reads the decoder's tokens of a T5. Its final norms (finalNormParameters) run over those and,
  // for the encoder's norm, over the encoder's tokens, whose output every cross-attention reads.
  // A Swin's head reads its last stage: (side/2^(stages−1))² tokens at hidden·2^(stages−1), normed, gathered
  // under SP, averaged, classified (python/galvatron_runtime/swin.py head_forward). Priced before at the
  // embedding's 3136 tokens × 192 for Swin-L (8× its 49 × 1536), with the classifier's GEMM at width 192.
  const width = emb.headHidden ?? emb.hidden;
  const tokens = samples * ((emb.headSeqLen ?? emb.decoderSeqLen ?? emb.seqLen) / strategy.cp);
  const normTokens = tokens + (emb.decoderSeqLen !== undefined ? samples * (emb.seqLen / strategy.cp) : 0);
  const rows = samples * headRowsPerSample(emb) / (headRowsPerSample(emb) > 1 ? strategy.cp : 1);
  const vocabLocal = emb.vocab / strategy.tp;
  const groups = layerGroupPlacements(strategy, ctx.cluster.gpusPerNode);
  const normS = memoryBoundTimeS(ctx.kernel, (4 * normTokens * width * e) / (strategy.sequenceParallel ? strategy.tp : 1));
  const logitsS = gemmTimeS(ctx.kernel, rows, vocabLocal, width);
  const logitElements = rows * vocabLocal;
  // Cross-entropy: read logits, write and read an fp32 softmax; backward writes the logit gradient.
  const lossForwardS = memoryBoundTimeS(ctx.kernel, logitElements * (e + 4 + 4), 3);
  const lossBackwardS = memoryBoundTimeS(ctx.kernel, logitElements * (4 + e), 2);
  // Vocab-parallel softmax: max, sum and target-logit all-reduces of one float per row; the input
  // of the logits GEMM is gathered (SP) and its gradient reduced across TP.
  const hiddenBytes = tokens * width * e;
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
  // The output projection (tied copy, untied, or a classifier with its bias) is split over TP by
  // vocabulary or class; norms and the rest are replicated.
  const projection = holdsEmbeddingCopy ? emb.vocab * emb.hidden : emb.headSplitParameters;
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
  // Buckets: the head's own parameters, and a tied table, its own copy or (on the embedding's stage) the
  // embedding's, which ZeRO-3 then gathers (and scatters) once more. Its backward reads the weights.
  const tiedHere = !holdsEmbeddingCopy && emb.logitsPerSample > 0 && emb.headParameters < emb.vocab * emb.hidden;
  const table = (emb.vocab * emb.hidden) / strategy.tp;
  const buckets: EndBucket[] = [
    { params: localParams - (holdsEmbeddingCopy ? table : 0), readsInBackward: true },
    ...(holdsEmbeddingCopy || tiedHere ? [{ params: table, readsInBackward: true, sharedWithEmbedding: tiedHere }] : []),
  ];
  const dp = endDataParallel(localParams, buckets, { forwardS: total(forwardTerms), backwardS: total(backwardTerms) }, strategy, ctx);
  forwardTerms.push(...dp.forwardTerms);
  backwardTerms.push(...dp.backwardTerms);
  return {
    forwardS: total(forwardTerms),
    backwardS: total(backwardTerms),
    forwardTerms,
    backwardTerms,
    gradientSyncS: dp.gradientSyncS,
    parameterGatherS: dp.parameterGatherS,
    modelStateBytes: stateBytes(localParams, strategy, ctx),
    // The final norm's input and statistics, its output as the logits GEMM keeps it (the shard with SP,
    // gathered again in backward), the fp32 softmax the loss keeps (computed in place on the logits),
    // and per label row its int64 index and a mask byte.
    activationBytesPerMicroBatch:
      (normTokens * (2 * width * e + finalNormStatBytes(emb))) / (strategy.sequenceParallel ? strategy.tp : 1) + logitElements * LOSS_BYTES + rows * (TOKEN_ID_BYTES + 1),
    // 16-bit logits exist while they are converted to fp32 (and their gradient while converted back).
    peakTransientBytes: e < LOSS_BYTES ? logitElements * e : 0,
    parameters: params,
    parametersPerTpRank: localParams,
  };
}
