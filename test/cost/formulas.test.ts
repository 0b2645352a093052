// Every number of shared/reference/formulas.md that the cost model must reproduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shardedStateBytesPerParam, stateBytesPerParam, layerActivationBytes, layerModelStateBytes } from '../../src/cost/layer-memory.js';
import { inFlightMicroBatches, pipelineTimeS } from '../../src/cost/pipeline.js';
import { modelFlops } from '../../src/cost/plan-cost.js';
import { collectiveTimeS, placeGroup } from '../../src/hardware/collectives.js';
import { embeddingShape, layerList } from '../../src/model/derived.js';
import { resolveModelSpec } from '../../src/model/load.js';
import { a100Node, assertClose, GIB, gptLayer, setup, strategy } from './helpers.js';

test('ZeRO model states: Ψ = 7.5 B on 64 GPUs gives 120, 31.4, 16.6 and 1.9 GB (Rajbhandari et al.)', () => {
  const psi = 7.5e9;
  const bytes = stateBytesPerParam('bf16', false);
  const expectedGB = { ddp: 120, zero1: 31.4, zero2: 16.6, zero3: 1.9 } as const;
  for (const [dpType, gb] of Object.entries(expectedGB) as [keyof typeof expectedGB, number][]) {
    const actual = (psi * shardedStateBytesPerParam(bytes, dpType, 64)) / 1e9;
    // The paper prints one decimal: agree within half a unit of it.
    assert.ok(Math.abs(actual - gb) <= 0.05, `${dpType}: ${actual} GB vs ${gb} GB`);
  }
  // And the closed forms: 16Ψ, 4Ψ + 12Ψ/N, 2Ψ + 14Ψ/N, 16Ψ/N.
  assert.equal(shardedStateBytesPerParam(bytes, 'zero1', 64), 4 + 12 / 64);
  assert.equal(shardedStateBytesPerParam(bytes, 'zero2', 64), 2 + 14 / 64);
  assert.equal(shardedStateBytesPerParam(bytes, 'zero3', 64), 16 / 64);
});

test("22B model states at t = 8 with Megatron's 18 bytes/param: 45.56 GiB", () => {
  const shape = gptLayer(6144, 64, 2048);
  const perLayer = layerModelStateBytes(shape, strategy({ tp: 8 }), setup({ fp32MainGrads: true }));
  assertClose((48 * perLayer) / GIB, 45.56, 0.001, '22B model states');
});

const activationRows = [
  { model: '22B', h: 6144, L: 48, a: 64, p: 1, v: 1, b: 4, none: 59.25, selective: 9.56 },
  { model: '175B', h: 12288, L: 96, a: 96, p: 8, v: 3, b: 1, none: 66.84, selective: 12.35 },
  { model: '530B', h: 20480, L: 105, a: 128, p: 35, v: 3, b: 1, none: 114.02, selective: 23.08 },
  { model: '1T', h: 25600, L: 128, a: 160, p: 64, v: 1, b: 1, none: 131.25, selective: 26.56 },
];

for (const row of activationRows) {
  test(`activation memory of the first stage, ${row.model} (Korthikanti et al., Fig. 1), within 0.5 %`, () => {
    const t = 8;
    const shape = gptLayer(row.h, row.a, 2048);
    const s = setup({ attention: 'unfused', dropout: true, precision: 'fp16' });
    const schedule = row.v > 1 ? 'interleaved-1f1b' : '1f1b';
    // Many micro-batches, so the first stage holds its full warm-up.
    const inFlight = inFlightMicroBatches(0, row.p, 10_000, schedule, row.v);
    const layersOnStage = row.L / row.p;
    const firstStage = (recompute: 'none' | 'selective', sp: boolean) =>
      (layersOnStage * inFlight * layerActivationBytes(shape, strategy({ tp: t, sequenceParallel: sp, recompute }), row.b, s)) / GIB;
    // "none": TP without SP, s·b·h·(10 + 24/t + 5·a·s/(h·t)); right column: TP + SP + selective, 34·s·b·h/t.
    assertClose(firstStage('none', false), row.none, 0.005, `${row.model} none`);
    assertClose(firstStage('selective', true), row.selective, 0.005, `${row.model} TP+SP+selective`);
  });
}

test('activations without parallelism: s·b·h·(34 + 5·a·s/h) bytes per layer, plus the norms\' statistics', () => {
  const [h, a, s, b] = [2048, 16, 1024, 2];
  const shape = gptLayer(h, a, s);
  const bytes = layerActivationBytes(shape, strategy({}), b, setup({ seqLen: s }));
  // Korthikanti et al.'s count leaves out what each LayerNorm keeps per token for backward: its mean and
  // 1/σ in fp32 (8 bytes), two LayerNorms per layer. The executor keeps them (test/runtime/memory-matrix).
  assert.equal(bytes, s * b * h * (34 + (5 * a * s) / h) + s * b * 2 * 8);
});

test('full recompute keeps 2·s·b·h per layer, divided by t with SP', () => {
  const shape = gptLayer(4096, 32, 2048);
  assert.equal(layerActivationBytes(shape, strategy({ recompute: 'full' }), 1, setup()), 2 * 2048 * 4096);
  assert.equal(layerActivationBytes(shape, strategy({ recompute: 'full', tp: 4, sequenceParallel: true }), 1, setup()), (2 * 2048 * 4096) / 4);
});

test('pipeline bubble: (p − 1)/m for GPipe/1F1B and (p − 1)/(v·m) interleaved', () => {
  const stageS = 0.25;
  for (const [p, m, v] of [[4, 8, 1], [8, 32, 1], [4, 8, 2], [8, 64, 4]] as const) {
    const ideal = m * stageS;
    const schedule = v > 1 ? 'interleaved-1f1b' : '1f1b';
    const bubble = pipelineTimeS(Array(p).fill(stageS), m, schedule, v) - ideal;
    assertClose(bubble / ideal, (p - 1) / (v * m), 1e-12, `p${p} m${m} v${v}`);
  }
  assertClose(pipelineTimeS([1, 1, 1, 1], 8, 'gpipe', 1) - 8, 3, 1e-12, 'gpipe');
});

test('collectives follow the bus-bandwidth convention', () => {
  const cluster = { ...a100Node(), intraNode: { ...a100Node().intraNode, latencyUs: 0 } };
  const S = 1e9;
  const busbw = cluster.intraNode.busBandwidthGBps * 1e9;
  const group = placeGroup(8, 1, 8);
  assertClose(collectiveTimeS(cluster, 'all-reduce', S, group), ((2 * 7) / 8) * (S / busbw), 1e-12, 'all-reduce');
  assertClose(collectiveTimeS(cluster, 'all-gather', S, group), (7 / 8) * (S / busbw), 1e-12, 'all-gather');
  assertClose(collectiveTimeS(cluster, 'reduce-scatter', S, group), (7 / 8) * (S / busbw), 1e-12, 'reduce-scatter');
  assertClose(collectiveTimeS(cluster, 'broadcast', S, group), S / busbw, 1e-12, 'broadcast');
});

test("model FLOPs equal Megatron's 72·B·s·L·h²·(1 + s/(6h) + V/(12·L·h))", () => {
  const [L, h, a, V, s, B] = [96, 12288, 96, 51200, 2048, 1536];
  const model = resolveModelSpec({ name: 'gpt-175b', family: 'gpt', layers: L, hidden: h, heads: a, vocab: V, seqLen: s });
  const flops = modelFlops({ layers: layerList(model), embedding: embeddingShape(model), setup: setup({ globalBatch: B }) });
  const megatron = 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h));
  assertClose(flops, megatron, 1e-12, 'model FLOPs');
});
