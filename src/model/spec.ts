// ModelSpec: the JSON contract for a model (DESIGN.md §3), and the layer shapes the cost model prices.
import { z } from 'zod';
import { MODEL_LIMITS, atMost } from '../limits.js';

export { MODEL_LIMITS } from '../limits.js';

const positiveInt = (what: string, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .positive(`${what} must be > 0`)
    .max(max, atMost(what, max));

export const ImageSpecSchema = z.object({
  imageSize: positiveInt('image.imageSize', MODEL_LIMITS.imageSize),
  patchSize: positiveInt('image.patchSize', MODEL_LIMITS.imageSize),
  channels: positiveInt('image.channels', MODEL_LIMITS.channels).default(3),
});

/** Swin's hierarchical stages: depths per stage, heads per stage, window size (tokens per side). */
export const SwinSpecSchema = z.object({
  depths: z.array(positiveInt('swin.depths[]', MODEL_LIMITS.layers)).min(1),
  stageHeads: z.array(positiveInt('swin.stageHeads[]', MODEL_LIMITS.heads)).min(1),
  windowSize: positiveInt('swin.windowSize', MODEL_LIMITS.imageSize),
});

export const ModelSpecSchema = z
  .object({
    name: z.string().min(1, 'name must not be empty'),
    family: z.enum(['gpt', 'llama', 'bert', 't5', 'vit', 'swin']),
    /** Total transformer layers (T5: encoderLayers + decoderLayers; Swin: sum of depths). */
    layers: positiveInt('layers', MODEL_LIMITS.layers),
    hidden: positiveInt('hidden', MODEL_LIMITS.hidden),
    heads: positiveInt('heads', MODEL_LIMITS.heads),
    /** Key/value heads (grouped-query attention); defaults to heads. */
    kvHeads: positiveInt('kvHeads', MODEL_LIMITS.heads).optional(),
    /** FFN inner size; defaults to 4·hidden. */
    ffnHidden: positiveInt('ffnHidden', MODEL_LIMITS.ffnHidden).optional(),
    ffnType: z.enum(['gelu', 'swiglu']).default('gelu'),
    /** Vocabulary size; for ViT/Swin the number of classes of the classifier head. */
    vocab: positiveInt('vocab', MODEL_LIMITS.vocab),
    /** Tokens per sample (ViT/Swin: derived from the image fields when those are given). */
    seqLen: positiveInt('seqLen', MODEL_LIMITS.seqLen),
    tiedEmbeddings: z.boolean().default(true),
    positional: z.enum(['learned', 'rope', 'alibi', 'none']).default('learned'),
    encoderLayers: positiveInt('encoderLayers', MODEL_LIMITS.layers).optional(),
    decoderLayers: positiveInt('decoderLayers', MODEL_LIMITS.layers).optional(),
    /** T5 decoder sequence length; defaults to seqLen. */
    decoderSeqLen: positiveInt('decoderSeqLen', MODEL_LIMITS.seqLen).optional(),
    image: ImageSpecSchema.optional(),
    swin: SwinSpecSchema.optional(),
  })
  .strict();

export type ModelSpecInput = z.input<typeof ModelSpecSchema>;
export type ModelSpec = z.output<typeof ModelSpecSchema>;

/** What the cost model needs to price one transformer layer. Sizes are per sample. */
export interface LayerShape {
  /** Stable id of the layer type, e.g. "decoder", "encoder", "t5-decoder", "swin-s2". */
  typeId: string;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffnHidden: number;
  ffnType: 'gelu' | 'swiglu';
  norm: 'layernorm' | 'rmsnorm';
  /** Linear layers carry biases (GPT-2/3, BERT, ViT) or not (LLaMA, T5). */
  bias: boolean;
  /** Tokens per sample flowing through this layer. */
  seqLen: number;
  /** Tokens each query attends to (seqLen for full attention, window² for Swin). */
  attentionSpan: number;
  causal: boolean;
  /** T5 decoder: cross-attention over this many encoder tokens (0 when absent). */
  crossAttentionSeqLen: number;
  /**
   * T5: tokens per sample of the other stream that travels with this layer's activations, re-distributed
   * and sent with them (python/galvatron_runtime/t5.py): an encoder layer carries the decoder's input
   * embeddings (decoderSeqLen), a decoder layer the encoder's output (the encoder's seqLen). Absent: none.
   */
  carriedSeqLen?: number;
}

export interface LayerGroup {
  shape: LayerShape;
  count: number;
}

/** Embedding (input) and head (output) of the model, priced on the first and last pipeline stage. */
export interface EmbeddingShape {
  vocab: number;
  hidden: number;
  seqLen: number;
  /** Parameters of the input embedding (tokens, learned positions, patch projection). */
  inputParameters: number;
  /** Of those, the vocab-parallel word table that TP splits (vocab·hidden; 0 for image models, whose
   * patch projection is replicated over TP as in Megatron's ViT). */
  inputSplitParameters: number;
  /** Parameters of the output head that are not shared with the input (0 when tied). */
  headParameters: number;
  /** Of those, what TP splits by vocabulary or class: an untied output projection, a classifier with
   * its bias (0 when tied: the shared table is priced as the input's). */
  headSplitParameters: number;
  /** Output logits per sample: seqLen·vocab for language models, vocab for classifiers. */
  logitsPerSample: number;
  /** Final norm parameters (counted with the head). */
  finalNormParameters: number;
  /**
   * T5: the decoder's tokens per sample. Its input embeddings are looked up on the first stage with the
   * encoder's, and the head's norm and logits run over them (seqLen stays the encoder's). Absent: none.
   */
  decoderSeqLen?: number;
  /**
   * Swin: the tokens per sample and the width the head sees, the last stage's ((side/2^(stages−1))² tokens
   * at hidden·2^(stages−1)); `seqLen` and `hidden` stay the embedding's. Absent: the embedding's.
   */
  headSeqLen?: number;
  headHidden?: number;
  /**
   * Image models: the pixel values per sample the patch projection reads (patches · channels · patch²),
   * which it keeps for backward, and Swin's patch LayerNorm width (its input and statistics are kept too).
   * The executor computes the whole embedding on every TP rank (replicated), then SP keeps a part.
   */
  patchValues?: number;
  patchNormWidth?: number;
}
