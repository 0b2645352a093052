import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { UserInputError } from '../../src/errors.js';
import { parameterCounts } from '../../src/model/derived.js';
import { modelFromHfConfig } from '../../src/model/hf-import.js';
import { loadModel, resolveModelSpec } from '../../src/model/load.js';

const fixture = (file: string) => new URL(`../../../test/fixtures/hf/${file}`, import.meta.url);
const readFixture = (file: string): Record<string, unknown> => JSON.parse(readFileSync(fixture(file), 'utf8'));
const importFixture = (file: string) => resolveModelSpec(modelFromHfConfig(readFixture(file), file));
/** Asserts a UserInputError whose message (not the "UserInputError: " string form) matches. */
const throwsUser = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof UserInputError && pattern.test(e.message));

describe('HuggingFace config.json import', () => {
  // Totals as the HF implementations count them (Qwen2: less its 0.1 M Q/K/V biases; BERT: + pooler, MLM and NSP heads).
  for (const [file, family, expected] of [
    ['llama3-8b.json', 'llama', 8_030_261_248],
    ['mistral-7b.json', 'llama', 7_241_732_096],
    ['qwen2-7b.json', 'llama', 7_615_487_488],
    ['gpt2.json', 'gpt', 124_439_808],
    ['gpt-neox-20b.json', 'gpt', 20_554_567_680],
    ['bert-base-uncased.json', 'bert', 110_106_428],
    ['t5-base.json', 't5', 222_903_552],
    ['vit-huge.json', 'vit', 632_045_800],
    ['swin-large.json', 'swin', 196_532_476],
  ] as const) {
    it(`${file} → ${family}, ${expected.toLocaleString('en')} parameters`, () => {
      const spec = importFixture(file);
      assert.equal(spec.family, family);
      assert.equal(parameterCounts(spec).total, expected);
    });
  }

  it('maps GQA, tying and sequence length', () => {
    const llama = importFixture('llama3-8b.json');
    assert.deepEqual([llama.kvHeads, llama.tiedEmbeddings, llama.seqLen, llama.ffnType, llama.positional], [8, false, 8192, 'swiglu', 'rope']);
    const gpt2 = importFixture('gpt2.json');
    assert.deepEqual([gpt2.ffnHidden, gpt2.tiedEmbeddings, gpt2.positional], [3072, true, 'learned']);
    const t5 = importFixture('t5-base.json');
    assert.deepEqual([t5.encoderLayers, t5.decoderLayers, t5.layers, t5.ffnType], [12, 12, 24, 'gelu']);
    const vit = importFixture('vit-huge.json');
    assert.equal(vit.seqLen, 257);
  });

  it('T5 v1.1 gated-gelu is a three-matrix MLP; num_decoder_layers is honoured', () => {
    const cfg = { ...readFixture('t5-base.json'), feed_forward_proj: 'gated-gelu', num_decoder_layers: 6 };
    const spec = resolveModelSpec(modelFromHfConfig(cfg, 't5-v1_1'));
    assert.deepEqual([spec.ffnType, spec.encoderLayers, spec.decoderLayers, spec.layers], ['swiglu', 12, 6, 18]);
  });

  it('loadModel reads a HF config file, named after the file', () => {
    const spec = loadModel(fixture('llama3-8b.json').pathname, { seqLen: 4096 });
    assert.equal(spec.name, 'llama3-8b');
    assert.equal(spec.seqLen, 4096);
  });

  it('missing, bad and unsupported fields are UserInputErrors naming the field', () => {
    const { hidden_size: _, ...noHidden } = readFixture('llama3-8b.json');
    throwsUser(() => modelFromHfConfig(noHidden, 'x'), /^config\.json hidden_size: missing/);
    const { n_embd: __, ...noEmbd } = readFixture('gpt2.json');
    throwsUser(() => modelFromHfConfig(noEmbd, 'x'), /^config\.json n_embd: missing/);
    throwsUser(() => modelFromHfConfig({ ...readFixture('bert-base-uncased.json'), num_hidden_layers: -2 }, 'x'), /^config\.json num_hidden_layers: must be a positive whole number \(got -2\)/);
    throwsUser(() => modelFromHfConfig({ model_type: 'falcon' }, 'x'), /^config\.json model_type: "falcon" is not supported/);
    throwsUser(() => modelFromHfConfig({ model_type: 'constructor' }, 'x'), /not supported/);
    throwsUser(() => modelFromHfConfig({ hidden_size: 4 }, 'x'), /^config\.json model_type: missing/);
    throwsUser(() => modelFromHfConfig([], 'x'), /^config\.json: must be a JSON object/);
    throwsUser(() => modelFromHfConfig({ ...readFixture('t5-base.json'), d_kv: 128 }, 'x'), /^config\.json d_kv:/);
  });
});

describe('training sequence length of RoPE imports (max_position_embeddings is the context limit)', () => {
  it("Qwen2-7B's config (131,072) plans at its preset's 4,096; Mistral 7B's (32,768) at 8,192; --seq overrides", () => {
    assert.equal(loadModel(fixture('qwen2-7b.json').pathname).seqLen, 4096);
    assert.equal(loadModel(fixture('mistral-7b.json').pathname).seqLen, 8192);
    assert.equal(loadModel(fixture('qwen2-7b.json').pathname, { seqLen: 16384 }).seqLen, 16384);
  });

  it('a RoPE model no preset matches trains at its limit, at most 8,192; learned tables keep their size', () => {
    const qwen = readFixture('qwen2-7b.json');
    assert.equal(modelFromHfConfig({ ...qwen, num_hidden_layers: 5 }, 'odd').seqLen, 8192);
    assert.equal(modelFromHfConfig({ ...qwen, num_hidden_layers: 5, max_position_embeddings: 2048 }, 'odd').seqLen, 2048);
    assert.equal(loadModel(fixture('gpt2.json').pathname).seqLen, 1024);
  });
});
