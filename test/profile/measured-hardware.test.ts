// A profile's hardware figures as the cost model applies them: each measured collective prices its own
// kind and group size (not one latency per ring step of the largest all-reduce), p2p its own fit, the
// optimizer step the memory-bound bandwidth; and the embedding and head pay ZeRO-3's gathers per bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPTIMIZER_BYTES_PER_PARAM, pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput } from '../../src/cost/uniform-plan.js';
import { collectiveTimeS, p2pTimeS, placeGroup } from '../../src/hardware/collectives.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { assembleProfile, fitCollective, type ProfilerEvent } from '../../src/profile/assemble.js';
import { clusterWithProfile } from '../../src/profile/cluster.js';
import { termSources } from '../../src/profile/coverage.js';
import { PROFILE_FORMAT, type Profile } from '../../src/profile/schema.js';

const cpu = loadCluster('examples/cpu-8-ranks.json');
const collective = (kind: 'all-reduce' | 'all-gather' | 'p2p', groupSize: number, alphaUs: number, gbps: number) =>
  fitCollective(kind, groupSize, [1, 4, 16].map((mib) => ({ bytes: mib << 20, timeS: alphaUs * 1e-6 + ((kind === 'p2p' ? 1 : kind === 'all-reduce' ? (2 * (groupSize - 1)) / groupSize : (groupSize - 1) / groupSize) * (mib << 20)) / (gbps * 1e9) })));
const profile: Profile = {
  format: PROFILE_FORMAT,
  layerTypes: {},
  collectives: [collective('all-reduce', 8, 18000, 0.35), collective('all-gather', 8, 8000, 0.2), collective('p2p', 2, 1500, 1.2)],
  intraNode: { busBandwidthGBps: 0.35, p2pGBps: 1.2, latencyUs: 18000 / 14 },
  optimizer: { parameters: 1_000_000, stepS: 0.02 },
};

test('measured collectives price their own kind and group size; others keep the link model', () => {
  const cluster = clusterWithProfile(cpu, profile);
  const eight = placeGroup(8, 1, 8);
  const mib = 1 << 20;
  // all-gather on 8: its own α (8 ms), not 7 ring steps of the all-reduce's per-step latency (9 ms).
  assert.ok(Math.abs(collectiveTimeS(cluster, 'all-gather', mib, eight) - (8e-3 + (7 / 8) * mib / 0.2e9)) < 1e-9);
  assert.ok(Math.abs(collectiveTimeS(cluster, 'all-reduce', mib, eight) - (18e-3 + (14 / 8) * mib / 0.35e9)) < 1e-9);
  // Not measured (reduce-scatter, or a group of 4): the link model with the profile's link figures.
  assert.ok(Math.abs(collectiveTimeS(cluster, 'reduce-scatter', mib, eight) - (7 * (18000 / 14) * 1e-6 + (7 / 8) * mib / 0.35e9)) < 1e-9);
  assert.ok(Math.abs(collectiveTimeS(cluster, 'all-reduce', mib, placeGroup(4, 1, 8)) - (6 * (18000 / 14) * 1e-6 + (6 / 4) * mib / 0.35e9)) < 1e-9);
  assert.ok(Math.abs(p2pTimeS(cluster, mib, false) - (1.5e-3 + mib / 1.2e9)) < 1e-9);
  // The plain cluster (no profile) is untouched.
  assert.equal(cpu.measuredCollectives, undefined);
});

test('the optimizer step sets the bandwidth of memory-bound kernels, and the optimizer term is profiled', () => {
  const cluster = clusterWithProfile(cpu, profile);
  assert.ok(Math.abs(cluster.gpu.memoryBoundGBps! - (1e6 * OPTIMIZER_BYTES_PER_PARAM) / 0.02 / 1e9) < 1e-9);
  const model = loadModel('examples/small-gpt.json');
  const input = uniformPlanInput(model, cluster, { globalBatch: 16, microBatch: 2, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'fp32', schedule: '1f1b' });
  const cost = pricePlan({ ...input, profile });
  // The step's world all-reduce of the gradient norm: the profile's all-reduce α on 8 ranks (18 ms).
  assert.ok(Math.abs(cost.breakdown['gradient-norm-all-reduce']! - 18e-3) < 1e-12);
  // 4 layers, the embedding (table and positions) and the final norm: 20 ns per parameter (+ one kernel overhead).
  const perParamS = (cost.timing.optimizerS - 18e-3) / (model.layers * (12 * 256 * 256 + 13 * 256) + 1024 * 256 + 128 * 256 + 2 * 256);
  assert.ok(Math.abs(perParamS - 2e-8) / 2e-8 < 0.01, `${perParamS}`);
  assert.equal(termSources({ ...input, profile }, cost.breakdown)['optimizer'], 'profiled');
});

test('the profiler\'s optimizer event lands in the profile', () => {
  const events: ProfilerEvent[] = [{ event: 'optimizer', parameters: 789760, stepS: 0.0132 }];
  const assembled = assembleProfile(events, { model: loadModel('examples/small-gpt.json'), layerTypeId: 'decoder', dtype: 'float32', date: '2026-12-01', quick: false });
  assert.deepEqual(assembled.optimizer, { parameters: 789760, stepS: 0.0132 });
});

test('ZeRO-3 embedding and head: gathers and scatters per micro-batch, per bucket; DDP: one all-reduce per iteration', () => {
  const cluster = clusterWithProfile(cpu, profile);
  const model = loadModel('examples/small-gpt.json');
  const shape = { globalBatch: 16, microBatch: 2, tp: 1, pp: 1, cp: 1, vpp: 1, recompute: 'none', sequenceParallel: false, precision: 'fp32', schedule: '1f1b' } as const;
  const zero3 = pricePlan(uniformPlanInput(model, cluster, { ...shape, dpType: 'zero3' }));
  const ddp = pricePlan(uniformPlanInput(model, cluster, { ...shape, dpType: 'ddp' }));
  const terms = zero3.stages[0]!.terms;
  // Nothing once per iteration under ZeRO-3; the ends' gathers show up per micro-batch.
  assert.equal(zero3.stages[0]!.gradientSyncS, 0);
  assert.ok(ddp.stages[0]!.gradientSyncS > 0);
  const eight = placeGroup(8, 1, 8);
  const gather = (params: number) => collectiveTimeS(cluster, 'all-gather', params * 4, eight);
  const layerParams = 12 * 256 * 256 + 13 * 256;
  // Forward gathers: 4 layers, the word table and the positions (embedding), the final norm and the tied table (head).
  const gathers = 4 * gather(layerParams) + gather(1024 * 256) + gather(128 * 256) + gather(2 * 256) + gather(1024 * 256);
  // λ = 2 (the CPU cluster): every gather is exposed.
  assert.ok(Math.abs(terms['forward.zero3-gather']! - gathers) < 1e-9, `${terms['forward.zero3-gather']} vs ${gathers}`);
});
