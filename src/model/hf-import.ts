// HuggingFace config.json → ModelSpecInput, for the model types whose shape our layer types cover.
import { UserInputError } from '../errors.js';
import { MODEL_PRESETS } from './presets.js';
import type { ModelSpecInput } from './spec.js';

type Json = Record<string, unknown>;

export const SUPPORTED_HF_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt2', 'gpt_neox', 'bert', 't5', 'vit', 'swin'] as const;

const fieldError = (key: string, problem: string) => new UserInputError(`config.json ${key}`, problem);

function describe(value: unknown): string {
  // JSON for strings, objects and arrays ({} rather than "[object Object]"); numbers as written.
  if (value === undefined || typeof value === 'number') return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function positiveInt(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw fieldError(key, `must be a positive whole number (got ${describe(value)}); fix the file`);
  }
  return value;
}

/** First present key of `keys`; a missing field is reported under the first (canonical) name. */
function req(cfg: Json, ...keys: string[]): number {
  for (const key of keys) {
    const value = cfg[key];
    if (value !== undefined && value !== null) return positiveInt(key, value);
  }
  throw fieldError(keys[0] ?? '?', `missing; add it (model_type ${describe(cfg.model_type)} needs it)`);
}

/** Optional field: absent or null gives `fallback` (HF's own default for the model class). */
function opt(cfg: Json, key: string, fallback: number): number {
  const value = cfg[key];
  return value === undefined || value === null ? fallback : positiveInt(key, value);
}

function bool(cfg: Json, key: string, fallback: boolean): boolean {
  const value = cfg[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw fieldError(key, `must be true or false (got ${describe(value)})`);
  return value;
}

function intArray(cfg: Json, key: string): number[] {
  const value = cfg[key];
  if (value === undefined || value === null) throw fieldError(key, 'missing; add it');
  if (!Array.isArray(value) || value.length === 0) throw fieldError(key, `must be a non-empty list of whole numbers`);
  return value.map((v, i) => positiveInt(`${key}[${i}]`, v));
}

/** Classifier width of an image model: id2label entries, else num_labels, else ImageNet-1k. */
function classCount(cfg: Json): number {
  const labels = cfg.id2label;
  if (labels && typeof labels === 'object') {
    const n = Object.keys(labels).length;
    if (n > 0) return n;
  }
  return opt(cfg, 'num_labels', 1000);
}

function llamaLike(cfg: Json, name: string): ModelSpecInput {
  const heads = req(cfg, 'num_attention_heads');
  return {
    name,
    family: 'llama',
    layers: req(cfg, 'num_hidden_layers'),
    hidden: req(cfg, 'hidden_size'),
    heads,
    kvHeads: opt(cfg, 'num_key_value_heads', heads),
    ffnHidden: req(cfg, 'intermediate_size'),
    ffnType: 'swiglu',
    vocab: req(cfg, 'vocab_size'),
    seqLen: req(cfg, 'max_position_embeddings'),
    tiedEmbeddings: bool(cfg, 'tie_word_embeddings', false),
    positional: 'rope',
  };
}

function gpt2(cfg: Json, name: string): ModelSpecInput {
  const hidden = req(cfg, 'n_embd', 'hidden_size');
  return {
    name,
    family: 'gpt',
    layers: req(cfg, 'n_layer', 'num_hidden_layers'),
    hidden,
    heads: req(cfg, 'n_head', 'num_attention_heads'),
    ffnHidden: opt(cfg, 'n_inner', 4 * hidden),
    ffnType: 'gelu',
    vocab: req(cfg, 'vocab_size'),
    seqLen: opt(cfg, 'n_positions', 1024),
    tiedEmbeddings: bool(cfg, 'tie_word_embeddings', true),
    positional: 'learned',
  };
}

function gptNeox(cfg: Json, name: string): ModelSpecInput {
  return {
    name,
    family: 'gpt',
    layers: req(cfg, 'num_hidden_layers'),
    hidden: req(cfg, 'hidden_size'),
    heads: req(cfg, 'num_attention_heads'),
    ffnHidden: req(cfg, 'intermediate_size'),
    ffnType: 'gelu',
    vocab: req(cfg, 'vocab_size'),
    seqLen: req(cfg, 'max_position_embeddings'),
    tiedEmbeddings: bool(cfg, 'tie_word_embeddings', false),
    positional: 'rope',
  };
}

function bert(cfg: Json, name: string): ModelSpecInput {
  return {
    name,
    family: 'bert',
    layers: req(cfg, 'num_hidden_layers'),
    hidden: req(cfg, 'hidden_size'),
    heads: req(cfg, 'num_attention_heads'),
    ffnHidden: req(cfg, 'intermediate_size'),
    ffnType: 'gelu',
    vocab: req(cfg, 'vocab_size'),
    seqLen: req(cfg, 'max_position_embeddings'),
    tiedEmbeddings: bool(cfg, 'tie_word_embeddings', true),
    positional: 'learned',
  };
}

function t5(cfg: Json, name: string): ModelSpecInput {
  const hidden = req(cfg, 'd_model');
  const heads = req(cfg, 'num_heads');
  const headDim = req(cfg, 'd_kv');
  if (headDim * heads !== hidden) {
    throw fieldError('d_kv', `${headDim} × num_heads ${heads} ≠ d_model ${hidden}; only d_kv = d_model / num_heads is supported`);
  }
  const encoderLayers = req(cfg, 'num_layers');
  const decoderLayers = opt(cfg, 'num_decoder_layers', encoderLayers);
  const proj = cfg.feed_forward_proj ?? 'relu';
  if (typeof proj !== 'string') throw fieldError('feed_forward_proj', `must be a string like "relu" or "gated-gelu"`);
  return {
    name,
    family: 't5',
    layers: encoderLayers + decoderLayers,
    encoderLayers,
    decoderLayers,
    hidden,
    heads,
    ffnHidden: req(cfg, 'd_ff'),
    // v1.1's gated-gelu MLP has three matrices, like SwiGLU; v1.0's relu has two, priced as gelu.
    ffnType: proj.startsWith('gated-') ? 'swiglu' : 'gelu',
    vocab: req(cfg, 'vocab_size'),
    seqLen: opt(cfg, 'n_positions', 512),
    tiedEmbeddings: bool(cfg, 'tie_word_embeddings', true),
    positional: 'none',
  };
}

function imageFields(cfg: Json) {
  const imageSize = req(cfg, 'image_size');
  const patchSize = req(cfg, 'patch_size');
  if (imageSize % patchSize !== 0) {
    throw fieldError('image_size', `${imageSize} is not a multiple of patch_size ${patchSize}`);
  }
  return { imageSize, patchSize, channels: opt(cfg, 'num_channels', 3) };
}

function vit(cfg: Json, name: string): ModelSpecInput {
  const image = imageFields(cfg);
  return {
    name,
    family: 'vit',
    layers: req(cfg, 'num_hidden_layers'),
    hidden: req(cfg, 'hidden_size'),
    heads: req(cfg, 'num_attention_heads'),
    ffnHidden: req(cfg, 'intermediate_size'),
    ffnType: 'gelu',
    vocab: classCount(cfg),
    seqLen: (image.imageSize / image.patchSize) ** 2 + 1, // patches + CLS
    tiedEmbeddings: false,
    positional: 'learned',
    image,
  };
}

function swin(cfg: Json, name: string): ModelSpecInput {
  const image = imageFields(cfg);
  const hidden = req(cfg, 'embed_dim');
  const depths = intArray(cfg, 'depths');
  const stageHeads = intArray(cfg, 'num_heads');
  const mlpRatio = cfg.mlp_ratio ?? 4;
  if (typeof mlpRatio !== 'number' || !(mlpRatio > 0)) throw fieldError('mlp_ratio', `must be a positive number`);
  return {
    name,
    family: 'swin',
    layers: depths.reduce((a, b) => a + b, 0),
    hidden,
    heads: stageHeads[0] ?? 1,
    ffnHidden: Math.round(mlpRatio * hidden),
    ffnType: 'gelu',
    vocab: classCount(cfg),
    seqLen: (image.imageSize / image.patchSize) ** 2,
    tiedEmbeddings: false,
    positional: 'none',
    image,
    swin: { depths, stageHeads, windowSize: req(cfg, 'window_size') },
  };
}

const IMPORTERS: Record<(typeof SUPPORTED_HF_MODEL_TYPES)[number], (cfg: Json, name: string) => ModelSpecInput> = {
  llama: llamaLike,
  mistral: llamaLike,
  qwen2: llamaLike,
  gpt2,
  gpt_neox: gptNeox,
  bert,
  t5,
  vit,
  swin,
};

/**
 * Maps a HuggingFace config.json to a ModelSpecInput (not yet validated: pass it to resolveModelSpec).
 * Missing optional fields take the HF class default; missing shape fields are errors naming the field.
 */
/** The longest training sequence assumed for a RoPE model whose config gives only its context limit. */
export const MAX_DEFAULT_TRAINING_SEQ = 8192;

/**
 * RoPE configs give `max_position_embeddings`, the context the model supports (131,072 for Qwen2-7B), not
 * the length it trains at. Training length: a preset of the same shape's (Qwen2-7B: 4,096), else the limit
 * up to 8,192. `--seq` overrides either. Learned position tables keep their size: it is the limit.
 */
function trainingSeqLen(spec: ModelSpecInput): ModelSpecInput {
  if (spec.positional !== 'rope') return spec;
  const same = Object.values(MODEL_PRESETS).find(
    (p) => p.family === spec.family && p.layers === spec.layers && p.hidden === spec.hidden && p.heads === spec.heads && (p.kvHeads ?? p.heads) === (spec.kvHeads ?? spec.heads) && p.vocab === spec.vocab,
  );
  const seqLen = same ? Math.min(same.seqLen, spec.seqLen) : Math.min(spec.seqLen, MAX_DEFAULT_TRAINING_SEQ);
  return { ...spec, seqLen };
}

export function modelFromHfConfig(json: unknown, nameHint: string): ModelSpecInput {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserInputError('config.json', 'must be a JSON object');
  }
  const cfg = json as Json;
  const type = cfg.model_type;
  if (type === undefined) throw fieldError('model_type', 'missing; a HuggingFace config.json names its model_type');
  const importer =
    typeof type === 'string' && Object.hasOwn(IMPORTERS, type) ? IMPORTERS[type as keyof typeof IMPORTERS] : undefined;
  if (!importer) {
    throw fieldError(
      'model_type',
      `${describe(type)} is not supported (supported: ${SUPPORTED_HF_MODEL_TYPES.join(', ')}); write a ModelSpec JSON instead`,
    );
  }
  return trainingSeqLen(importer(cfg, nameHint));
}
