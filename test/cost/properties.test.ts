// Properties the cost model must keep on random configurations (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput, type UniformConfig } from '../../src/cost/uniform-plan.js';
import { loadCluster, scaleCluster } from '../../src/hardware/load.js';
import type { ClusterSpec } from '../../src/hardware/spec.js';
import { loadModel } from '../../src/model/load.js';
import type { DpType, RecomputeKind } from '../../src/strategy/layer-strategy.js';

const models = ['gpt3-1.3b', 'llama2-7b', 'llama3-8b', 'bert-large', 't5-large', 'gpt2-xl'].map((id) => loadModel(id));
const clusters = ['dgx-a100-80g', 'dgx-h100', '8x-rtx4090-pcie', '8x-v100-sxm2'];
const DP_ORDER: DpType[] = ['ddp', 'zero1', 'zero2', 'zero3'];
const RECOMPUTE_ORDER: RecomputeKind[] = ['none', 'selective', 'full'];

/** A random valid uniform configuration on 8–64 GPUs. */
const scenario = fc
  .record({
    model: fc.integer({ min: 0, max: models.length - 1 }),
    cluster: fc.constantFrom(...clusters),
    gpusLog2: fc.integer({ min: 3, max: 6 }),
    tpLog2: fc.integer({ min: 0, max: 3 }),
    ppLog2: fc.integer({ min: 0, max: 2 }),
    microBatch: fc.constantFrom(1, 2),
    microBatchesPerReplica: fc.integer({ min: 1, max: 8 }),
    dpType: fc.constantFrom(...DP_ORDER),
    recompute: fc.constantFrom(...RECOMPUTE_ORDER),
    sequenceParallel: fc.boolean(),
  })
  .map((r) => {
    const model = models[r.model]!;
    const kv = model.kvHeads ?? model.heads;
    let tp = 2 ** r.tpLog2;
    while (model.heads % tp !== 0 || kv % tp !== 0) tp /= 2;
    const pp = Math.min(2 ** r.ppLog2, model.layers);
    const gpus = Math.max(2 ** r.gpusLog2, tp * pp);
    const dp = gpus / (tp * pp);
    const cluster = loadCluster(r.cluster, gpus);
    const precision: UniformConfig['precision'] = cluster.gpu.bf16 ? 'bf16' : 'fp16';
    const config: UniformConfig = {
      globalBatch: r.microBatch * dp * r.microBatchesPerReplica,
      microBatch: r.microBatch,
      tp,
      pp,
      cp: 1,
      vpp: 1,
      dpType: r.dpType,
      recompute: r.recompute,
      sequenceParallel: r.sequenceParallel,
      precision,
      schedule: '1f1b',
    };
    return { model, clusterId: r.cluster, cluster, config };
  })
  .filter((s) => Number.isInteger(s.config.globalBatch) && s.config.globalBatch > 0);

const price = (s: { model: (typeof models)[number]; cluster: ClusterSpec; config: UniformConfig }) =>
  pricePlan(uniformPlanInput(s.model, s.cluster, s.config));

test('memory per GPU never rises as the ZeRO stage rises', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const memory = DP_ORDER.map((dpType) => price({ ...s, config: { ...s.config, dpType } }).memoryPerGpuBytes);
      for (let i = 1; i < memory.length; i++) assert.ok(memory[i]! <= memory[i - 1]! * (1 + 1e-12), `${DP_ORDER[i]} ${memory[i]} > ${DP_ORDER[i - 1]} ${memory[i - 1]}`);
    }),
    { numRuns: 40, seed: 3 },
  );
});

test('memory per GPU never rises as recomputation rises (none → selective → full)', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const memory = RECOMPUTE_ORDER.map((recompute) => price({ ...s, config: { ...s.config, recompute } }).memoryPerGpuBytes);
      for (let i = 1; i < memory.length; i++) assert.ok(memory[i]! <= memory[i - 1]! * (1 + 1e-12), `${RECOMPUTE_ORDER[i]} uses more than ${RECOMPUTE_ORDER[i - 1]}`);
    }),
    { numRuns: 40, seed: 4 },
  );
});

test('memory per GPU never rises as TP rises (same DP degree and micro-batch, more GPUs)', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const model = s.model;
      const dp = (s.cluster.gpusPerNode * s.cluster.nodes) / (s.config.tp * s.config.pp);
      let previous = Infinity;
      for (const tp of [1, 2, 4, 8].filter((t) => model.heads % t === 0 && ((model.kvHeads ?? model.heads) % t === 0))) {
        const cluster = loadCluster(s.clusterId, tp * s.config.pp * dp);
        const memory = price({ model, cluster, config: { ...s.config, tp } }).memoryPerGpuBytes;
        assert.ok(memory <= previous * (1 + 1e-12), `tp ${tp}: ${memory} > ${previous}`);
        previous = memory;
      }
    }),
    { numRuns: 25, seed: 5 },
  );
});

function scaleBandwidth(cluster: ClusterSpec, factor: number): ClusterSpec {
  return {
    ...cluster,
    gpu: { ...cluster.gpu, hbmGBps: cluster.gpu.hbmGBps * factor },
    intraNode: { ...cluster.intraNode, busBandwidthGBps: cluster.intraNode.busBandwidthGBps * factor, p2pGBps: cluster.intraNode.p2pGBps * factor },
    interNode: {
      ...cluster.interNode,
      busBandwidthGBps: cluster.interNode.busBandwidthGBps * factor,
      p2pGBps: cluster.interNode.p2pGBps * factor,
      nicGBps: cluster.interNode.nicGBps * factor,
    },
  };
}

test('iteration time never falls when bandwidth (links or HBM) falls', () => {
  fc.assert(
    fc.property(scenario, fc.double({ min: 0.05, max: 0.99, noNaN: true }), (s, factor) => {
      const fast = price(s).iterationTimeS;
      const slow = price({ ...s, cluster: scaleBandwidth(s.cluster, factor) }).iterationTimeS;
      assert.ok(slow >= fast * (1 - 1e-12), `bandwidth × ${factor}: ${slow} < ${fast}`);
    }),
    { numRuns: 40, seed: 6 },
  );
});

test('ZeRO-3 model-state memory per GPU never rises with more GPUs (larger DP group)', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      let previous = Infinity;
      for (const doubling of [1, 2, 4, 8]) {
        const gpus = s.cluster.gpusPerNode * s.cluster.nodes * doubling;
        const cluster = scaleCluster({ ...s.cluster, gpusPerNode: 8, nodes: 1 }, gpus);
        const dp = gpus / (s.config.tp * s.config.pp);
        const config = { ...s.config, dpType: 'zero3' as const, globalBatch: s.config.microBatch * dp };
        const states = Math.max(...price({ ...s, cluster, config }).stages.map((st) => st.memory.modelStateBytes));
        assert.ok(states <= previous * (1 + 1e-12), `${gpus} GPUs: ${states} > ${previous}`);
        previous = states;
      }
    }),
    { numRuns: 25, seed: 7 },
  );
});
