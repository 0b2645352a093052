// Built-in model presets. Each names the paper or model card its shape comes from.
import type { ModelSpecInput } from './spec.js';

interface PresetEntry {
  id: string;
  source: string;
  spec: ModelSpecInput;
}

const gpt2 = (size: string, layers: number, hidden: number, heads: number): PresetEntry => ({
  id: `gpt2-${size}`,
  source: 'Radford et al. 2019 (GPT-2), Table 2; HF openai-community/gpt2* config.json',
  spec: { name: `GPT-2 ${size}`, family: 'gpt', layers, hidden, heads, vocab: 50257, seqLen: 1024, tiedEmbeddings: true, positional: 'learned' },
});

// GPT-3 also alternates dense and locally banded sparse attention; priced here as dense.
const gpt3 = (size: string, layers: number, hidden: number, heads: number, note = ''): PresetEntry => ({
  id: `gpt3-${size.toLowerCase()}`,
  source: `Brown et al. 2020 (GPT-3), Table 2.1${note}`,
  spec: { name: `GPT-3 ${size}`, family: 'gpt', layers, hidden, heads, vocab: 50257, seqLen: 2048, tiedEmbeddings: true, positional: 'learned' },
});

const llama = (
  id: string,
  name: string,
  source: string,
  s: { layers: number; hidden: number; heads: number; kvHeads?: number; ffnHidden: number; vocab: number; seqLen: number },
): PresetEntry => ({
  id,
  source,
  spec: { name, family: 'llama', ffnType: 'swiglu', tiedEmbeddings: false, positional: 'rope', ...s, kvHeads: s.kvHeads ?? s.heads },
});

const PRESETS: PresetEntry[] = [
  gpt2('small', 12, 768, 12),
  gpt2('medium', 24, 1024, 16),
  gpt2('large', 36, 1280, 20),
  gpt2('xl', 48, 1600, 25),
  // Table 2.1 lists 24 heads of 128 for 1.3B (24·128 ≠ 2048); 16 heads of 128 as in Megatron-LM's GPT-3 1.3B.
  gpt3('1.3B', 24, 2048, 16, '; 16 heads (d_head 128) as in Megatron-LM'),
  gpt3('2.7B', 32, 2560, 32),
  gpt3('6.7B', 32, 4096, 32),
  // Table 2.1 lists d_model 5140 with 40 heads of 128; 5120 = 40·128 as used by Megatron-LM and OPT-13B.
  gpt3('13B', 40, 5120, 40, '; d_model 5120 (= 40·128) as in Megatron-LM / OPT-13B'),
  gpt3('175B', 96, 12288, 96),
  llama('llama2-7b', 'LLaMA-2 7B', 'Touvron et al. 2023 (Llama 2); HF meta-llama/Llama-2-7b-hf config.json',
    { layers: 32, hidden: 4096, heads: 32, ffnHidden: 11008, vocab: 32000, seqLen: 4096 }),
  llama('llama2-13b', 'LLaMA-2 13B', 'Touvron et al. 2023 (Llama 2); HF meta-llama/Llama-2-13b-hf config.json',
    { layers: 40, hidden: 5120, heads: 40, ffnHidden: 13824, vocab: 32000, seqLen: 4096 }),
  llama('llama2-70b', 'LLaMA-2 70B', 'Touvron et al. 2023 (Llama 2), GQA 8 KV heads; HF meta-llama/Llama-2-70b-hf config.json',
    { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffnHidden: 28672, vocab: 32000, seqLen: 4096 }),
  llama('llama3-8b', 'LLaMA-3 8B', 'Meta Llama 3 model card; HF meta-llama/Meta-Llama-3-8B config.json',
    { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, vocab: 128256, seqLen: 8192 }),
  llama('llama3-70b', 'LLaMA-3 70B', 'Meta Llama 3 model card; HF meta-llama/Meta-Llama-3-70B config.json',
    { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffnHidden: 28672, vocab: 128256, seqLen: 8192 }),
  llama('llama3.1-405b', 'LLaMA-3.1 405B', 'Dubey et al. 2024 (The Llama 3 Herd of Models), Table 3; pre-training seq 8192',
    { layers: 126, hidden: 16384, heads: 128, kvHeads: 8, ffnHidden: 53248, vocab: 128256, seqLen: 8192 }),
  // Mistral's 4096-token sliding window is not modelled: attention is priced over the full sequence.
  llama('mistral-7b', 'Mistral 7B', 'Jiang et al. 2023 (Mistral 7B), Table 1 (context 8192); HF mistralai/Mistral-7B-v0.1 config.json',
    { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, vocab: 32000, seqLen: 8192 }),
  // Qwen2 has biases on Q/K/V only (~0.1 M parameters, ignored: LayerShape.bias is all-or-nothing).
  llama('qwen2-7b', 'Qwen2 7B', 'Qwen2 Technical Report 2024, Table 1 (pre-trained at 4096 tokens); HF Qwen/Qwen2-7B config.json',
    { layers: 28, hidden: 3584, heads: 28, kvHeads: 4, ffnHidden: 18944, vocab: 152064, seqLen: 4096 }),
  {
    id: 'bert-base',
    source: 'Devlin et al. 2019 (BERT), BERT-BASE; HF google-bert/bert-base-uncased config.json',
    spec: { name: 'BERT base', family: 'bert', layers: 12, hidden: 768, heads: 12, ffnHidden: 3072, vocab: 30522, seqLen: 512, tiedEmbeddings: true, positional: 'learned' },
  },
  {
    id: 'bert-large',
    source: 'Devlin et al. 2019 (BERT), BERT-LARGE; HF google-bert/bert-large-uncased config.json',
    spec: { name: 'BERT large', family: 'bert', layers: 24, hidden: 1024, heads: 16, ffnHidden: 4096, vocab: 30522, seqLen: 512, tiedEmbeddings: true, positional: 'learned' },
  },
  // T5 v1.0: ReLU MLP with two matrices (priced as 'gelu'), no biases, RMS-style norm, relative positions.
  // Sequence lengths 512 in / 128 out as in Megatron-LM's examples/t5 scripts.
  {
    id: 't5-base',
    source: 'Raffel et al. 2020 (T5), Base; HF google-t5/t5-base config.json',
    spec: {
      name: 'T5 base', family: 't5', layers: 24, encoderLayers: 12, decoderLayers: 12, hidden: 768, heads: 12, ffnHidden: 3072,
      ffnType: 'gelu', vocab: 32128, seqLen: 512, decoderSeqLen: 128, tiedEmbeddings: true, positional: 'none',
    },
  },
  {
    id: 't5-large',
    source: 'Raffel et al. 2020 (T5), Large; HF google-t5/t5-large config.json',
    spec: {
      name: 'T5 large', family: 't5', layers: 48, encoderLayers: 24, decoderLayers: 24, hidden: 1024, heads: 16, ffnHidden: 4096,
      ffnType: 'gelu', vocab: 32128, seqLen: 512, decoderSeqLen: 128, tiedEmbeddings: true, positional: 'none',
    },
  },
  {
    id: 'vit-huge',
    source: 'Dosovitskiy et al. 2021 (ViT), Table 1, ViT-H/14 at 224 px; 1000-class head',
    spec: {
      name: 'ViT-H/14', family: 'vit', layers: 32, hidden: 1280, heads: 16, ffnHidden: 5120, vocab: 1000,
      seqLen: 257, tiedEmbeddings: false, positional: 'learned', image: { imageSize: 224, patchSize: 14, channels: 3 },
    },
  },
  {
    id: 'swin-large',
    source: 'Liu et al. 2021 (Swin Transformer), Swin-L 224 px, window 7; HF microsoft/swin-large-patch4-window7-224',
    spec: {
      name: 'Swin-L', family: 'swin', layers: 24, hidden: 192, heads: 6, ffnHidden: 768, vocab: 1000,
      seqLen: 3136, tiedEmbeddings: false, positional: 'none', image: { imageSize: 224, patchSize: 4, channels: 3 },
      swin: { depths: [2, 2, 18, 2], stageHeads: [6, 12, 24, 48], windowSize: 7 },
    },
  },
];

export const MODEL_PRESETS: Record<string, ModelSpecInput> = Object.fromEntries(PRESETS.map((p) => [p.id, p.spec]));

export interface ModelPresetInfo {
  id: string;
  name: string;
  family: ModelSpecInput['family'];
  /** Paper or model card the shape comes from. */
  source: string;
}

/** Presets in catalogue order (for `galvatron models`). */
export function listModelPresets(): ModelPresetInfo[] {
  return PRESETS.map((p) => ({ id: p.id, name: p.spec.name, family: p.spec.family, source: p.source }));
}
