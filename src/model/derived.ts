// Quantities derived from a ModelSpec: layer shapes, exact parameter counts, forward FLOPs per sample.
// Pure functions; expects a spec that went through resolveModelSpec (load.ts) for the semantic checks.
import type { EmbeddingShape, LayerGroup, LayerShape, ModelSpec } from './spec.js';

/** T5's relative-position buckets per stack (HF `relative_attention_num_buckets` default). */
export const T5_RELATIVE_BUCKETS = 32;
/** BERT's segment (token type) vocabulary (HF `type_vocab_size`). */
export const BERT_TOKEN_TYPES = 2;
/**
 * Swin's patch merging (2×2 neighbours → LayerNorm(4C) → Linear(4C → 2C)) is accounted to the first
 * block of stages 2..n, which therefore gets its own layer type `swin-s{i}-merge`; keeping it inside a
 * layer keeps per-layer parameters, FLOPs and memory complete for the pipeline partitioner.
 */
export const SWIN_MERGE_SUFFIX = '-merge';

const familyNorm = (spec: ModelSpec): LayerShape['norm'] =>
  spec.family === 'llama' || spec.family === 't5' ? 'rmsnorm' : 'layernorm';
const familyBias = (spec: ModelSpec): boolean => !(spec.family === 'llama' || spec.family === 't5');
const normParameters = (norm: LayerShape['norm'], width: number): number =>
  norm === 'layernorm' ? 2 * width : width;

export const ffnHiddenOf = (spec: ModelSpec): number => spec.ffnHidden ?? 4 * spec.hidden;

function shapeOf(
  spec: ModelSpec,
  typeId: string,
  o: { causal: boolean; seqLen: number; attentionSpan?: number; crossAttentionSeqLen?: number; carriedSeqLen?: number },
): LayerShape {
  const kvHeads = spec.kvHeads ?? spec.heads;
  return {
    typeId,
    hidden: spec.hidden,
    heads: spec.heads,
    kvHeads,
    headDim: spec.hidden / spec.heads,
    ffnHidden: ffnHiddenOf(spec),
    ffnType: spec.ffnType,
    norm: familyNorm(spec),
    bias: familyBias(spec),
    seqLen: o.seqLen,
    attentionSpan: o.attentionSpan ?? o.seqLen,
    causal: o.causal,
    crossAttentionSeqLen: o.crossAttentionSeqLen ?? 0,
    ...(o.carriedSeqLen ? { carriedSeqLen: o.carriedSeqLen } : {}),
  };
}

/** T5 encoder/decoder split; resolveModelSpec guarantees both are given and sum to `layers`. */
export function t5LayerSplit(spec: ModelSpec): { encoder: number; decoder: number } {
  const decoder = spec.decoderLayers ?? spec.layers - (spec.encoderLayers ?? Math.ceil(spec.layers / 2));
  return { encoder: spec.layers - decoder, decoder };
}

/** Tokens per side of the patch grid of an image model. */
function patchGridSide(spec: ModelSpec): number {
  if (!spec.image) throw new Error(`${spec.family} model "${spec.name}" needs image fields (use resolveModelSpec)`);
  return spec.image.imageSize / spec.image.patchSize;
}

function swinGroups(spec: ModelSpec): LayerGroup[] {
  const swin = spec.swin;
  if (!swin) throw new Error(`swin model "${spec.name}" needs swin fields (use resolveModelSpec)`);
  const side = patchGridSide(spec);
  const groups: LayerGroup[] = [];
  swin.depths.forEach((depth, i) => {
    const scale = 2 ** i;
    const heads = swin.stageHeads[i] ?? spec.heads;
    const hidden = spec.hidden * scale;
    const tokens = (side / scale) ** 2;
    const shape: LayerShape = {
      ...shapeOf(spec, `swin-s${i + 1}`, {
        causal: false,
        seqLen: tokens,
        attentionSpan: Math.min(swin.windowSize ** 2, tokens),
      }),
      hidden,
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      ffnHidden: ffnHiddenOf(spec) * scale,
    };
    if (i === 0) {
      groups.push({ shape, count: depth });
      return;
    }
    groups.push({ shape: { ...shape, typeId: shape.typeId + SWIN_MERGE_SUFFIX }, count: 1 });
    if (depth > 1) groups.push({ shape, count: depth - 1 });
  });
  return groups;
}

/** Run-length list of layer types in model order. */
export function layerGroups(spec: ModelSpec): LayerGroup[] {
  switch (spec.family) {
    case 'gpt':
    case 'llama':
      return [{ shape: shapeOf(spec, 'decoder', { causal: true, seqLen: spec.seqLen }), count: spec.layers }];
    case 'bert':
    case 'vit':
      return [{ shape: shapeOf(spec, 'encoder', { causal: false, seqLen: spec.seqLen }), count: spec.layers }];
    case 't5': {
      const { encoder, decoder } = t5LayerSplit(spec);
      const decoderSeqLen = spec.decoderSeqLen ?? spec.seqLen;
      // The two streams travel together (LayerShape.carriedSeqLen): through the encoder, the decoder's
      // input embeddings with the encoder's stream; through the decoder, the encoder's output with its own.
      return [
        { shape: shapeOf(spec, 't5-encoder', { causal: false, seqLen: spec.seqLen, carriedSeqLen: decoderSeqLen }), count: encoder },
        {
          shape: shapeOf(spec, 't5-decoder', {
            causal: true,
            seqLen: decoderSeqLen,
            crossAttentionSeqLen: spec.seqLen,
            carriedSeqLen: spec.seqLen,
          }),
          count: decoder,
        },
      ].filter((g) => g.count > 0);
    }
    case 'swin':
      return swinGroups(spec);
  }
}

/** One shape per layer, in model order (copies, so callers may annotate them). */
export function layerList(spec: ModelSpec): LayerShape[] {
  return layerGroups(spec).flatMap((g) => Array.from({ length: g.count }, () => ({ ...g.shape })));
}

const isSwin = (shape: LayerShape): boolean => shape.typeId.startsWith('swin-');
/** The first layer of a Swin stage after the first: it begins with patch merging. */
export const isSwinMerge = (shape: LayerShape): boolean => isSwin(shape) && shape.typeId.endsWith(SWIN_MERGE_SUFFIX);

/** Parameters of one attention block: Q, K, V projections from `hidden`, output projection back. */
function attentionParameters(shape: LayerShape): number {
  const qWidth = shape.heads * shape.headDim;
  const kvWidth = shape.kvHeads * shape.headDim;
  const weights = shape.hidden * (qWidth + 2 * kvWidth) + qWidth * shape.hidden;
  return weights + (shape.bias ? qWidth + 2 * kvWidth + shape.hidden : 0);
}

function mlpParameters(shape: LayerShape): number {
  const { hidden: h, ffnHidden: f } = shape;
  if (shape.ffnType === 'swiglu') return 3 * h * f + (shape.bias ? 2 * f + h : 0);
  return 2 * h * f + (shape.bias ? f + h : 0);
}

/**
 * Exact parameters of one layer: attention (+ cross-attention for the T5 decoder), MLP, norms.
 * Swin layers add their relative position bias table ((2w−1)²·heads) and, for `-merge` types, the
 * patch merging in front (LayerNorm over 2·hidden, Linear 2·hidden → hidden without bias).
 */
export function layerParameters(shape: LayerShape): number {
  const cross = shape.crossAttentionSeqLen > 0;
  let total = attentionParameters(shape) * (cross ? 2 : 1) + mlpParameters(shape);
  total += (cross ? 3 : 2) * normParameters(shape.norm, shape.hidden);
  if (isSwin(shape)) {
    const window = Math.sqrt(shape.attentionSpan);
    total += (2 * window - 1) ** 2 * shape.heads;
    if (isSwinMerge(shape)) total += normParameters('layernorm', 2 * shape.hidden) + 2 * shape.hidden * shape.hidden;
  }
  return total;
}

/**
 * Parameters one TP rank holds of a layer: the projections are split over TP (column- and row-parallel),
 * the norms and the row-parallel output biases are replicated on every rank (Megatron's layout). Swin's
 * patch merging is replicated too.
 */
export function layerParametersPerTpRank(shape: LayerShape, tp: number): number {
  const cross = shape.crossAttentionSeqLen > 0;
  const blocks = cross ? 3 : 2;
  let replicated = blocks * normParameters(shape.norm, shape.hidden) + (shape.bias ? blocks * shape.hidden : 0);
  if (isSwinMerge(shape)) replicated += normParameters('layernorm', 2 * shape.hidden) + 2 * shape.hidden * shape.hidden;
  return (layerParameters(shape) - replicated) / tp + replicated;
}

/**
 * Input embedding and output head. Conventions: BERT's embedding LayerNorm and token types are input;
 * its pooler, MLM transform, MLM output bias and NSP classifier are head. T5's relative-position
 * tables (first layer of each stack) are input; its encoder and decoder final norms are `finalNorm` (the
 * executor applies the encoder's at the end of the encoder, so holds it on that layer's stage: `hidden`
 * parameters, python/galvatron_runtime/t5.py); the decoder's inputs are embedded with the encoder's.
 * Image models: patch projection (+ CLS, + patch norm for Swin) is input, classifier is head.
 * `hidden` is the width entering the first layer; Swin's head sees the last stage's tokens at
 * hidden·2^(stages−1) (headSeqLen, headHidden).
 */
export function embeddingShape(spec: ModelSpec): EmbeddingShape {
  const { hidden: h, vocab: V, seqLen: s } = spec;
  const positions = spec.positional === 'learned' ? s * h : 0;
  const untiedHead = spec.tiedEmbeddings ? 0 : V * h;
  const norm = normParameters(familyNorm(spec), h);
  const base = { vocab: V, hidden: h, seqLen: s };
  switch (spec.family) {
    case 'gpt':
    case 'llama':
      return { ...base, inputParameters: V * h + positions, inputSplitParameters: V * h, headParameters: untiedHead, headSplitParameters: untiedHead, logitsPerSample: s * V, finalNormParameters: norm };
    case 'bert': {
      const pooler = h * h + h;
      const mlmTransform = h * h + h + 2 * h;
      const nsp = 2 * h + 2;
      return {
        ...base,
        inputParameters: V * h + positions + BERT_TOKEN_TYPES * h + 2 * h,
        inputSplitParameters: V * h,
        headParameters: pooler + mlmTransform + V + nsp + untiedHead,
        headSplitParameters: untiedHead,
        logitsPerSample: s * V,
        finalNormParameters: 0, // post-LN: every layer ends in its own norm
      };
    }
    case 't5':
      return {
        ...base,
        inputParameters: V * h + positions + 2 * T5_RELATIVE_BUCKETS * spec.heads,
        inputSplitParameters: V * h,
        headParameters: untiedHead,
        headSplitParameters: untiedHead,
        logitsPerSample: (spec.decoderSeqLen ?? s) * V,
        finalNormParameters: 2 * norm,
        decoderSeqLen: spec.decoderSeqLen ?? s,
      };
    case 'vit':
    case 'swin': {
      const channels = spec.image?.channels ?? 3;
      const patch = spec.image?.patchSize ?? 1;
      const patchProjection = channels * patch * patch * h + h;
      const extra = spec.family === 'vit' ? h /* CLS token */ : 2 * h; /* patch LayerNorm */
      const stages = spec.swin?.depths.length ?? 1;
      const headWidth = spec.family === 'swin' ? h * 2 ** (stages - 1) : h;
      return {
        ...base,
        inputParameters: patchProjection + extra + positions,
        inputSplitParameters: 0,
        headParameters: V * headWidth + V,
        headSplitParameters: V * headWidth + V,
        logitsPerSample: V,
        finalNormParameters: 2 * headWidth,
        patchValues: patchGridSide(spec) ** 2 * channels * patch * patch,
        ...(spec.family === 'swin' ? { headSeqLen: spec.seqLen / 4 ** (stages - 1), headHidden: headWidth, patchNormWidth: h } : {}),
      };
    }
  }
}

export interface ParameterCounts {
  layers: number;
  embedding: number;
  /** Untied output projection, classifier / pooler, and final norms. */
  head: number;
  total: number;
}

export function parameterCounts(spec: ModelSpec): ParameterCounts {
  const layers = layerGroups(spec).reduce((sum, g) => sum + g.count * layerParameters(g.shape), 0);
  const emb = embeddingShape(spec);
  const head = emb.headParameters + emb.finalNormParameters;
  return { layers, embedding: emb.inputParameters, head, total: layers + emb.inputParameters + head };
}

export interface LayerFlops {
  /** Linear layers (projections, MLP, Swin patch merging), 2·m·n·k each. */
  gemm: number;
  /** Attention scores and weighted values: 4·seqLen·span·(heads·headDim), full span even when causal. */
  attention: number;
}

/** Forward FLOPs of one layer for one sample (Megatron convention: biases, norms, softmax not counted). */
export function layerForwardFlops(shape: LayerShape): LayerFlops {
  const { hidden: h, seqLen: s } = shape;
  const qWidth = shape.heads * shape.headDim;
  const kvWidth = shape.kvHeads * shape.headDim;
  const mlpMatrices = shape.ffnType === 'swiglu' ? 3 : 2;
  let gemm = 2 * s * h * (qWidth + 2 * kvWidth) + 2 * s * qWidth * h + 2 * s * mlpMatrices * h * shape.ffnHidden;
  let attention = 4 * s * shape.attentionSpan * qWidth;
  const sCross = shape.crossAttentionSeqLen;
  if (sCross > 0) {
    // Queries from the decoder tokens, keys/values projected from the encoder output.
    gemm += 2 * s * h * qWidth + 2 * sCross * h * 2 * kvWidth + 2 * s * qWidth * h;
    attention += 4 * s * sCross * qWidth;
  }
  if (isSwinMerge(shape)) gemm += 2 * s * (2 * h) * h;
  return { gemm, attention };
}

/** Tokens per sample of a layer's activations and of what travels with them (T5: both streams). */
export function carriedTokens(shape: LayerShape): number {
  return shape.seqLen + (shape.carriedSeqLen ?? 0);
}

/** Tokens per sample the embedding looks up and a pipeline boundary carries (T5: encoder's + decoder's). */
export function streamTokens(emb: EmbeddingShape): number {
  return emb.seqLen + (emb.decoderSeqLen ?? 0);
}

/** Forward FLOPs of the output projection / classifier for one sample. */
export function headForwardFlops(emb: EmbeddingShape): number {
  return 2 * emb.logitsPerSample * (emb.headHidden ?? emb.hidden);
}
