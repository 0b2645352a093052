import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserInputError } from '../../src/errors.js';
import { loadModel, resolveModelSpec } from '../../src/model/load.js';
import type { ModelSpecInput } from '../../src/model/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-model-'));
const writeJson = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const tiny: ModelSpecInput = { name: 'tiny', family: 'gpt', layers: 2, hidden: 64, heads: 4, vocab: 100, seqLen: 32 };

/** Asserts a one-line UserInputError whose message matches. */
function throwsUser(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserInputError, `expected UserInputError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('loadModel', () => {
  it('loads a preset (case-insensitively) and fills defaults', () => {
    const spec = loadModel('LLaMA3-8B');
    assert.equal(spec.kvHeads, 8);
    assert.equal(loadModel('gpt2-small').ffnHidden, 3072);
    assert.equal(loadModel('t5-base', { seqLen: 1024 }).decoderSeqLen, 128);
  });

  it('unknown preset: names close ids and `galvatron models`', () => {
    throwsUser(() => loadModel('llama3-7b'), /^model: unknown preset "llama3-7b" \(closest: [^)]*llama3-8b[^)]*\); `galvatron models` lists them/);
  });

  it('reads a ModelSpec file, naming it after the file when it has no name', () => {
    const { name: _, ...noName } = tiny;
    const spec = loadModel(writeJson('my-model.json', JSON.stringify(noName)));
    assert.equal(spec.name, 'my-model');
    assert.equal(spec.layers, 2);
  });

  it('a HF config.json is named after its folder', () => {
    mkdirSync(join(dir, 'Meta-Llama-3-8B'));
    const path = join(dir, 'Meta-Llama-3-8B', 'config.json');
    writeFileSync(path, JSON.stringify({ model_type: 'llama', num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, intermediate_size: 128, vocab_size: 100, max_position_embeddings: 32 }));
    const spec = loadModel(path);
    assert.deepEqual([spec.name, spec.family, spec.kvHeads], ['Meta-Llama-3-8B', 'llama', 4]);
  });

  it('missing file', () => {
    const path = join(dir, 'nope.json');
    throwsUser(() => loadModel(path), new RegExp(`^model ${path}: cannot read file \\(ENOENT\\); check the path$`));
  });

  it('bad JSON', () => {
    throwsUser(() => loadModel(writeJson('bad.json', '{"family": "gpt",')), /^model .*bad\.json: invalid JSON \(.*\); fix the file$/);
  });

  it('neither ModelSpec nor HF config', () => {
    throwsUser(() => loadModel(writeJson('other.json', '{"foo": 1}')), /neither a ModelSpec/);
    throwsUser(() => loadModel(writeJson('array.json', '[1]')), /must hold a JSON object/);
  });

  it('missing field', () => {
    const { hidden: _, ...noHidden } = tiny;
    throwsUser(() => loadModel(writeJson('nohidden.json', JSON.stringify(noHidden))), /^model\.hidden: missing; add this field$/);
  });

  it('negative field', () => {
    throwsUser(() => loadModel(writeJson('neg.json', JSON.stringify({ ...tiny, layers: -3 }))), /^model\.layers: layers must be > 0$/);
  });

  it('unknown field and bad enum', () => {
    throwsUser(() => resolveModelSpec({ ...tiny, hiden: 3 } as ModelSpecInput), /^model: .*hiden.*remove it/);
    throwsUser(() => resolveModelSpec({ ...tiny, family: 'rnn' } as unknown as ModelSpecInput), /^model\.family: /);
  });

  it('--seq override is validated', () => {
    throwsUser(() => loadModel('gpt2-small', { seqLen: 0 }), /^seqLen: must be a positive whole number/);
    throwsUser(() => loadModel('vit-huge', { seqLen: 512 }), /^seqLen: vit models take their token count/);
  });
});

describe('resolveModelSpec semantic checks', () => {
  const cases: Array<[string, ModelSpecInput, RegExp]> = [
    ['hidden % heads', { ...tiny, hidden: 66 }, /^model\.hidden: 66 is not divisible by heads 4/],
    ['heads % kvHeads', { ...tiny, kvHeads: 3 }, /^model\.kvHeads: heads 4 is not divisible by kvHeads 3/],
    ['kvHeads > heads', { ...tiny, kvHeads: 8 }, /^model\.kvHeads:/],
    ['t5 layer sum', { ...tiny, family: 't5', encoderLayers: 1, decoderLayers: 2 }, /^model\.layers: 2 ≠ encoderLayers 1 \+ decoderLayers 2/],
    ['t5 split missing', { ...tiny, family: 't5' }, /^model\.encoderLayers: missing/],
    ['t5 fields on gpt', { ...tiny, encoderLayers: 1 }, /^model\.encoderLayers: only used by family t5/],
    ['vit without image', { ...tiny, family: 'vit' }, /^model\.image: missing/],
    ['vit seqLen', { ...tiny, family: 'vit', image: { imageSize: 32, patchSize: 8 } }, /^model\.seqLen: 32 does not match .* set seqLen to 17$/],
    [
      'swin depth sum',
      { ...tiny, family: 'swin', seqLen: 64, layers: 3, image: { imageSize: 32, patchSize: 4 }, swin: { depths: [2, 2], stageHeads: [4, 8], windowSize: 4 } },
      /^model\.layers: 3 ≠ sum of swin\.depths 4/,
    ],
    [
      'swin stage lists',
      { ...tiny, family: 'swin', seqLen: 64, image: { imageSize: 32, patchSize: 4 }, swin: { depths: [2], stageHeads: [4, 8], windowSize: 4 } },
      /^model\.swin\.stageHeads: has 2 entries but depths has 1/,
    ],
  ];
  for (const [what, input, pattern] of cases) it(what, () => throwsUser(() => resolveModelSpec(input), pattern));

  it('a valid small swin resolves', () => {
    const spec = resolveModelSpec({
      ...tiny, family: 'swin', layers: 4, seqLen: 64, image: { imageSize: 32, patchSize: 4 }, swin: { depths: [2, 2], stageHeads: [4, 8], windowSize: 4 },
    });
    assert.equal(spec.layers, 4);
  });
});
