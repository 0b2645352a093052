// The GEMMs and sizes of one layer on one GPU, for a given strategy and local batch.
import { SWIN_MERGE_SUFFIX } from '../model/derived.js';
import type { LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';

/** A GEMM [m×k]·[k×n] of one layer's forward pass on one GPU. */
export interface Gemm {
  name: string;
  m: number;
  n: number;
  k: number;
}

/** Sizes of one layer on one GPU for one micro-batch. */
export interface LocalLayerSizes {
  /** Samples of this micro-batch this GPU's DP rank processes. */
  samples: number;
  /** Tokens per sample on this GPU (sequence split by CP). */
  seqLocal: number;
  /** Tokens on this GPU: samples · seqLocal. */
  tokens: number;
  /** Attention heads and KV heads on this GPU (split by TP). */
  headsLocal: number;
  kvHeadsLocal: number;
  /** FFN inner width on this GPU. */
  ffnLocal: number;
}

export function localLayerSizes(shape: LayerShape, strategy: LayerStrategy, microBatchSamples: number): LocalLayerSizes {
  const samples = microBatchSamples / strategy.dp;
  const seqLocal = shape.seqLen / strategy.cp;
  return {
    samples,
    seqLocal,
    tokens: samples * seqLocal,
    headsLocal: shape.heads / strategy.tp,
    // KV heads fewer than TP ranks are replicated, one per rank (Megatron's GQA rule).
    kvHeadsLocal: Math.max(1, shape.kvHeads / strategy.tp),
    ffnLocal: shape.ffnHidden / strategy.tp,
  };
}

/** The forward GEMMs of one layer on one GPU (column-parallel in, row-parallel out). */
export function layerGemms(shape: LayerShape, local: LocalLayerSizes): Gemm[] {
  const h = shape.hidden;
  const dh = shape.headDim;
  const t = local.tokens;
  const qWidth = local.headsLocal * dh;
  const kvWidth = 2 * local.kvHeadsLocal * dh;
  const upWidth = shape.ffnType === 'swiglu' ? 2 * local.ffnLocal : local.ffnLocal;
  const gemms: Gemm[] = [
    { name: 'qkv', m: t, n: qWidth + kvWidth, k: h },
    { name: 'attn-out', m: t, n: h, k: qWidth },
    { name: 'mlp-up', m: t, n: upWidth, k: h },
    { name: 'mlp-down', m: t, n: h, k: local.ffnLocal },
  ];
  if (shape.typeId.endsWith(SWIN_MERGE_SUFFIX)) {
    // Swin patch merging: 2×2 neighbours concatenated (4·h/2 = 2h wide) projected to h, replicated over TP.
    gemms.push({ name: 'patch-merge', m: t, n: h, k: 2 * h });
  }
  if (shape.crossAttentionSeqLen > 0) {
    const encoderTokens = local.samples * shape.crossAttentionSeqLen;
    gemms.push(
      { name: 'cross-q', m: t, n: qWidth, k: h },
      { name: 'cross-kv', m: encoderTokens, n: kvWidth, k: h },
      { name: 'cross-out', m: t, n: h, k: qWidth },
    );
  }
  return gemms;
}

/** Attention passes of a layer: self-attention, plus cross-attention in a T5 decoder. */
export interface AttentionPass {
  name: string;
  /** Keys each query attends to. */
  span: number;
  causal: boolean;
}

export function attentionPasses(shape: LayerShape): AttentionPass[] {
  const passes: AttentionPass[] = [{ name: 'self-attn', span: shape.attentionSpan, causal: shape.causal }];
  if (shape.crossAttentionSeqLen > 0) passes.push({ name: 'cross-attn', span: shape.crossAttentionSeqLen, causal: false });
  return passes;
}

/** TP collectives in one forward pass: one per row-parallel output (attention, cross-attention, MLP). */
export function tpCollectivesPerForward(shape: LayerShape): number {
  return shape.crossAttentionSeqLen > 0 ? 3 : 2;
}
