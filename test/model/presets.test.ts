import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parameterCounts } from '../../src/model/derived.js';
import { loadModel } from '../../src/model/load.js';
import { listModelPresets, MODEL_PRESETS } from '../../src/model/presets.js';

const REQUIRED_IDS = [
  'gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl', 'gpt3-1.3b', 'gpt3-2.7b', 'gpt3-6.7b', 'gpt3-13b', 'gpt3-175b',
  'llama2-7b', 'llama2-13b', 'llama2-70b', 'llama3-8b', 'llama3-70b', 'llama3.1-405b', 'mistral-7b', 'qwen2-7b',
  'bert-base', 'bert-large', 't5-base', 't5-large', 'vit-huge', 'swin-large',
];

const total = (id: string) => parameterCounts(loadModel(id)).total;

describe('model presets', () => {
  it('has exactly the catalogue ids, each valid and with a source', () => {
    assert.deepEqual(Object.keys(MODEL_PRESETS).sort(), [...REQUIRED_IDS].sort());
    for (const p of listModelPresets()) {
      assert.ok(p.source.length > 0, p.id);
      assert.equal(loadModel(p.id).name, p.name);
    }
  });

  // Model cards (formulas.md): within 0.1 B or 0.5 %.
  for (const [id, billions] of [
    ['llama2-7b', 6.74], ['llama3-8b', 8.03], ['llama3-70b', 70.6], ['llama3.1-405b', 405.8], ['gpt3-175b', 175],
  ] as const) {
    it(`${id} ≈ ${billions} B`, () => {
      const got = total(id) / 1e9;
      assert.ok(Math.abs(got - billions) <= Math.max(0.1, 0.005 * billions), `${got} B`);
    });
  }

  // Papers / model cards: within 2 %.
  for (const [id, millions] of [
    ['bert-large', 335], ['t5-large', 738], ['vit-huge', 632], ['swin-large', 197], ['gpt2-small', 124], ['t5-base', 223],
    ['mistral-7b', 7242], ['qwen2-7b', 7616], ['llama2-13b', 13016], ['llama2-70b', 68977],
  ] as const) {
    it(`${id} ≈ ${millions} M`, () => {
      const got = total(id) / 1e6;
      assert.ok(Math.abs(got / millions - 1) <= 0.02, `${got} M`);
    });
  }

  it('exact counts that match the HF implementations', () => {
    assert.equal(total('gpt2-small'), 124_439_808);
    assert.equal(total('llama2-7b'), 6_738_415_616);
    assert.equal(total('llama3-8b'), 8_030_261_248);
    assert.equal(total('t5-base'), 222_903_552);
    assert.equal(total('t5-large'), 737_668_096);
  });

  it('presets are not mutated by loading with a sequence override', () => {
    const before = MODEL_PRESETS['gpt2-small']?.seqLen;
    assert.equal(loadModel('gpt2-small', { seqLen: 2048 }).seqLen, 2048);
    assert.equal(MODEL_PRESETS['gpt2-small']?.seqLen, before);
  });
});
