// The search is exact on its model: on random small instances it finds the same optimal predicted time
// as a brute force over the whole space, and its own accounting equals pricePlan's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCostConstants } from '../../src/cost/constants.js';
import { loadCluster } from '../../src/hardware/load.js';
import { resolveModelSpec } from '../../src/model/load.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { searchContext, searchPlan, searchTasks, type SearchOptions } from '../../src/search/search.js';
import { defaultRules, type CandidateRules } from '../../src/strategy/candidates.js';
import { bruteForce, bruteForceSize } from './brute-force.js';

const constants = { ...loadCostConstants(), fixedMemoryGiB: 0.25 };

function tinyModel(kind: number, layers: number): ModelSpec {
  switch (kind) {
    case 0:
      return resolveModelSpec({ name: 'tiny-gpt', family: 'gpt', layers, hidden: 1024, heads: 8, vocab: 8192, seqLen: 1024 });
    case 1:
      return resolveModelSpec({ name: 'tiny-llama', family: 'llama', layers, hidden: 1024, heads: 8, kvHeads: 2, ffnHidden: 2816, ffnType: 'swiglu', vocab: 16384, seqLen: 2048, positional: 'rope', tiedEmbeddings: false });
    default: {
      // Mixed layer types: T5 encoder layers then decoder layers with cross-attention.
      const encoder = Math.max(1, Math.floor(layers / 2));
      return resolveModelSpec({ name: 'tiny-t5', family: 't5', layers: encoder + Math.max(1, layers - encoder), encoderLayers: encoder, decoderLayers: Math.max(1, layers - encoder), hidden: 768, heads: 8, vocab: 8192, seqLen: 512, decoderSeqLen: 128, ffnHidden: 2048, tiedEmbeddings: true, positional: 'none' });
    }
  }
}

const instance = fc.record({
  kind: fc.integer({ min: 0, max: 2 }),
  layers: fc.integer({ min: 1, max: 8 }),
  gpus: fc.constantFrom(1, 2, 4, 8),
  cluster: fc.constantFrom('dgx-a100-80g', '8x-rtx4090-pcie'),
  globalBatch: fc.constantFrom(1, 2, 4, 8),
  memoryGiB: fc.double({ min: 0.4, max: 12, noNaN: true }),
  maxTp: fc.constantFrom(1, 2, 8),
  dpTypes: fc.subarray(['ddp', 'zero1', 'zero2'] as const, { minLength: 1 }),
  sdp: fc.boolean(),
  recompute: fc.subarray(['none', 'selective', 'full'] as const, { minLength: 1 }),
  sequenceParallel: fc.constantFrom('off', 'on', 'both') as fc.Arbitrary<CandidateRules['sequenceParallel']>,
  tpAdjacency: fc.constantFrom('tp-first', 'both') as fc.Arbitrary<CandidateRules['tpAdjacency']>,
  maxVirtualStages: fc.constantFrom(1, 2, 3),
});

test('search = brute force on random small instances (tight and loose budgets, mixed layer types)', () => {
  let compared = 0;
  let feasible = 0;
  fc.assert(
    fc.property(instance, (r) => {
      const model = tinyModel(r.kind, r.layers);
      const cluster = loadCluster(r.cluster, r.gpus);
      const rules: CandidateRules = {
        ...defaultRules(),
        maxTp: r.maxTp,
        paradigms: r.sdp ? ['tp', 'dp', 'sdp'] : ['tp', 'dp'],
        dpTypes: [...r.dpTypes],
        recompute: [...r.recompute],
        sequenceParallel: r.sequenceParallel,
        tpAdjacency: r.tpAdjacency,
      };
      const options: SearchOptions = { globalBatch: r.globalBatch, rules, memoryGiB: r.memoryGiB, maxVirtualStages: r.maxVirtualStages, constants };
      fc.pre(bruteForceSize(model, cluster, options) <= 15000);
      const brute = bruteForce(model, cluster, options);
      const searched = searchPlan(model, cluster, options);
      compared++;
      if (!Number.isFinite(brute.timeS)) {
        assert.equal(searched.best, undefined, 'brute force finds nothing that fits, the search must not either');
        return;
      }
      feasible++;
      assert.ok(searched.best, `the search found nothing; brute force ${brute.timeS}`);
      const best = searched.best!;
      assert.ok(Math.abs(best.timeS - brute.timeS) <= 1e-9 * brute.timeS, `search ${best.timeS} vs brute force ${brute.timeS}`);
      assert.ok(Math.abs(best.searchTimeS - best.timeS) <= 1e-9 * best.timeS, `search accounting ${best.searchTimeS} vs pricePlan ${best.timeS}`);
      assert.equal(best.cost.fits, true);
    }),
    { numRuns: 60, seed: 42, maxSkipsPerRun: 20 },
  );
  assert.ok(compared >= 40 && feasible >= 20, `compared ${compared} instances, ${feasible} feasible`);
});

test('the even-partition search (Galvatron baseline) = brute force over even partitions; never behind its uniform plans', () => {
  let feasible = 0;
  fc.assert(
    fc.property(instance, (r) => {
      const model = tinyModel(r.kind, r.layers);
      const cluster = loadCluster(r.cluster, r.gpus);
      const rules: CandidateRules = { ...defaultRules(), maxTp: r.maxTp, dpTypes: [...r.dpTypes], recompute: [...r.recompute], sequenceParallel: r.sequenceParallel };
      const options: SearchOptions = { globalBatch: r.globalBatch, rules, memoryGiB: r.memoryGiB, partition: 'even', constants };
      fc.pre(bruteForceSize(model, cluster, options) <= 15000);
      const brute = bruteForce(model, cluster, options);
      const searched = searchPlan(model, cluster, options);
      if (!Number.isFinite(brute.timeS)) {
        assert.equal(searched.best, undefined);
        return;
      }
      feasible++;
      assert.ok(searched.best, `the even search found nothing; brute force ${brute.timeS}`);
      assert.ok(Math.abs(searched.best.timeS - brute.timeS) <= 1e-9 * brute.timeS, `even search ${searched.best.timeS} vs brute force ${brute.timeS}`);
      assert.ok(searched.best.input.pipeline.chunks.every((c, i, all) => c.end - c.start >= all[0]!.end - all[0]!.start - 1));
    }),
    { numRuns: 40, seed: 7, maxSkipsPerRun: 20 },
  );
  assert.ok(feasible >= 15, `${feasible} feasible instances`);
});

test('search = brute force on pipelines where 2- and 3-chunk interleaving is possible', () => {
  let withThreeChunks = 0;
  fc.assert(
    fc.property(
      fc.record({
        kind: fc.integer({ min: 0, max: 1 }),
        layers: fc.constantFrom(6, 7, 8),
        gpus: fc.constantFrom(2, 4),
        globalBatch: fc.constantFrom(4, 8),
        memoryGiB: fc.double({ min: 0.6, max: 12, noNaN: true }),
        recompute: fc.subarray(['none', 'full'] as const, { minLength: 1 }),
      }),
      (r) => {
        const model = tinyModel(r.kind, r.layers);
        const cluster = loadCluster('dgx-a100-80g', r.gpus);
        const rules: CandidateRules = { ...defaultRules(), maxTp: 1, paradigms: ['dp'], dpTypes: ['zero1'], recompute: [...r.recompute] };
        const options: SearchOptions = { globalBatch: r.globalBatch, rules, memoryGiB: r.memoryGiB, maxVirtualStages: 3, constants };
        fc.pre(bruteForceSize(model, cluster, options) <= 20000);
        if (searchTasks(model, searchContext(model, cluster, options), options).some((t) => t.virtualStages === 3)) withThreeChunks++;
        const brute = bruteForce(model, cluster, options);
        const searched = searchPlan(model, cluster, options);
        if (!Number.isFinite(brute.timeS)) return assert.equal(searched.best, undefined);
        assert.ok(searched.best && Math.abs(searched.best.timeS - brute.timeS) <= 1e-9 * brute.timeS, `search ${searched.best?.timeS} vs brute force ${brute.timeS}`);
      },
    ),
    { numRuns: 25, seed: 11, maxSkipsPerRun: 20 },
  );
  assert.ok(withThreeChunks >= 10, `only ${withThreeChunks} instances had 3-chunk interleaved tasks`);
});
