// ModelSpec: the JSON contract for a model (DESIGN.md §3), and the layer shapes the cost model prices.
import { z } from 'zod';

const positiveInt = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).positive(`${what} must be > 0`);

export const ImageSpecSchema = z.object({
  imageSize: positiveInt('image.imageSize'),
  patchSize: positiveInt('image.patchSize'),
  channels: positiveInt('image.channels').default(3),
});

/** Swin's hierarchical stages: depths per stage, heads per stage, window size (tokens per side). */
export const SwinSpecSchema = z.object({
  depths: z.array(positiveInt('swin.depths[]')).min(1),
  stageHeads: z.array(positiveInt('swin.stageHeads[]')).min(1),
  windowSize: positiveInt('swin.windowSize'),
});

export const ModelSpecSchema = z
  .object({
    name: z.string().min(1, 'name must not be empty'),
    family: z.enum(['gpt', 'llama', 'bert', 't5', 'vit', 'swin']),
    /** Total transformer layers (T5: encoderLayers + decoderLayers; Swin: sum of depths). */
    layers: positiveInt('layers'),
    hidden: positiveInt('hidden'),
    heads: positiveInt('heads'),
    /** Key/value heads (grouped-query attention); defaults to heads. */
    kvHeads: positiveInt('kvHeads').optional(),
    /** FFN inner size; defaults to 4·hidden. */
    ffnHidden: positiveInt('ffnHidden').optional(),
    ffnType: z.enum(['gelu', 'swiglu']).default('gelu'),
    /** Vocabulary size; for ViT/Swin the number of classes of the classifier head. */
    vocab: positiveInt('vocab'),
    /** Tokens per sample (ViT/Swin: derived from the image fields when those are given). */
    seqLen: positiveInt('seqLen'),
    tiedEmbeddings: z.boolean().default(true),
    positional: z.enum(['learned', 'rope', 'alibi', 'none']).default('learned'),
    encoderLayers: positiveInt('encoderLayers').optional(),
    decoderLayers: positiveInt('decoderLayers').optional(),
    /** T5 decoder sequence length; defaults to seqLen. */
    decoderSeqLen: positiveInt('decoderSeqLen').optional(),
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
  /** Parameters of the output head that are not shared with the input (0 when tied). */
  headParameters: number;
  /** Output logits per sample: seqLen·vocab for language models, vocab for classifiers. */
  logitsPerSample: number;
  /** Final norm parameters (counted with the head). */
  finalNormParameters: number;
}
