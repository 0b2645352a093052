import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  embeddingShape,
  headForwardFlops,
  layerForwardFlops,
  layerGroups,
  layerList,
  layerParameters,
  parameterCounts,
} from '../../src/model/derived.js';
import { loadModel, resolveModelSpec } from '../../src/model/load.js';

const gpt = (layers: number, hidden: number, heads: number, vocab = 51200, seqLen = 2048) =>
  resolveModelSpec({ name: `gpt-${hidden}`, family: 'gpt', layers, hidden, heads, vocab, seqLen, ffnHidden: 4 * hidden, tiedEmbeddings: true, positional: 'learned' });

describe('GPT parameter count (Narayanan et al. SC21, Table 1)', () => {
  // [billions listed, hidden, layers, heads]
  const table: Array<[number, number, number, number]> = [
    [1.7, 2304, 24, 24], [3.6, 3072, 30, 32], [7.5, 4096, 36, 32], [18.4, 6144, 40, 48], [39.1, 8192, 48, 64],
    [76.1, 10240, 60, 80], [145.6, 12288, 80, 96], [310.1, 16384, 96, 128], [529.6, 20480, 105, 128], [1008.0, 25600, 128, 160],
  ];
  for (const [billions, h, L, heads] of table) {
    it(`${billions} B (h ${h}, L ${L})`, () => {
      const V = 51200, s = 2048;
      const total = parameterCounts(gpt(L, h, heads)).total;
      const megatron = 12 * L * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * L * h));
      // The formula leaves out the final LayerNorm (2h); everything else must agree exactly.
      assert.ok(Math.abs(total - 2 * h - megatron) < 1e-3 * h, `${total} vs formula ${megatron}`);
      assert.ok(Math.abs(total / 1e9 - billions) <= 0.1, `${total / 1e9} B vs listed ${billions} B`);
    });
  }
});

describe('layer FLOPs', () => {
  it('GPT layer forward = 24·s·h² + 4·s²·h per sample (Megatron)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: 8192 }), (heads, headDim, s) => {
        const h = heads * headDim;
        const [group] = layerGroups(gpt(2, h, heads, 1000, s));
        assert.ok(group);
        const f = layerForwardFlops(group.shape);
        assert.equal(f.gemm, 24 * s * h * h);
        assert.equal(f.attention, 4 * s * s * h);
        assert.equal(layerParameters(group.shape), 12 * h * h + 13 * h);
      }),
    );
  });

  it('whole GPT forward matches Megatron 72·B·s·L·h²(1 + s/6h + V/12Lh) / 3', () => {
    const spec = gpt(96, 12288, 96);
    const { hidden: h, seqLen: s, vocab: V, layers: L } = spec;
    const layers = layerGroups(spec).reduce((sum, g) => {
      const f = layerForwardFlops(g.shape);
      return sum + g.count * (f.gemm + f.attention);
    }, 0);
    const forward = layers + headForwardFlops(embeddingShape(spec));
    const megatron = (72 * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h))) / 3;
    assert.ok(Math.abs(forward / megatron - 1) < 1e-12, `${forward} vs ${megatron}`);
  });

  it('GQA shrinks only the K/V projections; SwiGLU has three MLP matrices', () => {
    const [g] = layerGroups(loadModel('llama3-8b'));
    assert.ok(g);
    const { hidden: h, ffnHidden: f, seqLen: s } = g.shape;
    assert.equal(g.shape.kvHeads, 8);
    assert.equal(layerForwardFlops(g.shape).gemm, 2 * s * (h * (h + 2 * 8 * 128) + h * h + 3 * h * f));
  });

  it('T5 decoder adds cross-attention over the encoder tokens', () => {
    const spec = loadModel('t5-base');
    const [enc, dec] = layerGroups(spec);
    assert.ok(enc && dec);
    const h = 768, sE = 512, sD = 128;
    assert.equal(dec.shape.crossAttentionSeqLen, sE);
    assert.equal(dec.shape.seqLen, sD);
    const f = layerForwardFlops(dec.shape);
    assert.equal(f.attention, 4 * sD * sD * h + 4 * sD * sE * h);
    assert.equal(f.gemm, 2 * sD * 4 * h * h + 2 * sD * 2 * h * h + 2 * sE * 2 * h * h + 2 * sD * 2 * h * 3072);
    assert.equal(layerForwardFlops(enc.shape).gemm, 2 * sE * (4 * h * h + 2 * h * 3072));
  });
});

describe('layer groups', () => {
  it('GPT/LLaMA: one causal decoder type; BERT/ViT: one non-causal encoder type', () => {
    for (const [id, typeId, causal, norm, bias] of [
      ['gpt2-small', 'decoder', true, 'layernorm', true],
      ['llama2-7b', 'decoder', true, 'rmsnorm', false],
      ['bert-base', 'encoder', false, 'layernorm', true],
      ['vit-huge', 'encoder', false, 'layernorm', true],
    ] as const) {
      const spec = loadModel(id);
      const groups = layerGroups(spec);
      assert.equal(groups.length, 1, id);
      assert.deepEqual(
        [groups[0]?.shape.typeId, groups[0]?.shape.causal, groups[0]?.shape.norm, groups[0]?.shape.bias, groups[0]?.count],
        [typeId, causal, norm, bias, spec.layers],
        id,
      );
    }
  });

  it('T5: encoder layers then decoder layers, rmsnorm, no bias', () => {
    const groups = layerGroups(loadModel('t5-large'));
    assert.deepEqual(groups.map((g) => [g.shape.typeId, g.count, g.shape.causal, g.shape.norm, g.shape.bias]), [
      ['t5-encoder', 24, false, 'rmsnorm', false],
      ['t5-decoder', 24, true, 'rmsnorm', false],
    ]);
  });

  it('Swin: per-stage widths, tokens and windows; patch merging on the first block of stages 2..4', () => {
    const groups = layerGroups(loadModel('swin-large'));
    assert.deepEqual(
      groups.map((g) => [g.shape.typeId, g.count, g.shape.hidden, g.shape.heads, g.shape.seqLen, g.shape.attentionSpan, g.shape.ffnHidden]),
      [
        ['swin-s1', 2, 192, 6, 3136, 49, 768],
        ['swin-s2-merge', 1, 384, 12, 784, 49, 1536],
        ['swin-s2', 1, 384, 12, 784, 49, 1536],
        ['swin-s3-merge', 1, 768, 24, 196, 49, 3072],
        ['swin-s3', 17, 768, 24, 196, 49, 3072],
        ['swin-s4-merge', 1, 1536, 48, 49, 49, 6144],
        ['swin-s4', 1, 1536, 48, 49, 49, 6144],
      ],
    );
    const [, merge, plain] = groups;
    assert.ok(merge && plain);
    // LayerNorm(4C) + Linear(4C → 2C) with C = 192: 8·384 + 2·384².
    assert.equal(layerParameters(merge.shape) - layerParameters(plain.shape), 4 * 384 + 2 * 384 * 384);
  });

  it('layerList expands groups in order, and sums to the layer parameters', () => {
    for (const id of ['t5-base', 'swin-large', 'llama3-8b']) {
      const spec = loadModel(id);
      const list = layerList(spec);
      assert.equal(list.length, spec.layers);
      assert.equal(list.reduce((s, l) => s + layerParameters(l), 0), parameterCounts(spec).layers);
    }
    const list = layerList(loadModel('t5-base'));
    assert.equal(list[11]?.typeId, 't5-encoder');
    assert.equal(list[12]?.typeId, 't5-decoder');
  });

  it('embedding: tied heads have no own parameters, untied ones V·h', () => {
    const tied = embeddingShape(loadModel('gpt2-small'));
    assert.equal(tied.headParameters, 0);
    assert.equal(tied.inputParameters, 50257 * 768 + 1024 * 768);
    assert.equal(tied.logitsPerSample, 1024 * 50257);
    const untied = embeddingShape(loadModel('llama3-8b'));
    assert.equal(untied.headParameters, 128256 * 4096);
    assert.equal(untied.finalNormParameters, 4096);
    const vit = embeddingShape(loadModel('vit-huge'));
    assert.equal(vit.logitsPerSample, 1000);
    assert.equal(headForwardFlops(vit), 2 * 1000 * 1280);
  });
});
