// Several --profile files combine: compute from one, hardware from another; a measurement given twice
// with different values is an error naming both files. Plus the fits the profiler's output goes through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { estimate } from '../../src/cost/estimate.js';
import { UserInputError } from '../../src/errors.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { assembleProfile, fitCollective, linkFromCollectives, overlapLambda, type ProfilerEvent } from '../../src/profile/assemble.js';
import { fitLine } from '../../src/profile/fit.js';
import { loadProfiles } from '../../src/profile/load.js';
import { curveAt } from '../../src/profile/lookup.js';
import { ProfileV2Schema } from '../../src/profile/schema.js';

const model = loadModel('gpt3-1.3b');
const dir = mkdtempSync(join(tmpdir(), 'galvatron-combine-'));
function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const compute = {
  format: 'galvatron.profile/v2',
  layerTypes: {
    decoder: { seqLen: 2048, variants: [{ tp: 1, points: [], fit: { forward: { fixedS: 0, perSampleS: 0.01 }, backward: { fixedS: 0, perSampleS: 0.02 } } }] },
  },
};
const hardware = { format: 'galvatron.profile/v2', intraNode: { busBandwidthGBps: 123, latencyUs: 7 }, overlapSlowdown: 1.2 };

test('compute from one file, hardware from another: both apply', () => {
  const combined = loadProfiles([file('compute.json', compute), file('hardware.json', hardware)], model, 8);
  assert.equal(combined.layerTypes['decoder']!.variants.length, 1);
  assert.equal(combined.intraNode?.busBandwidthGBps, 123);
  assert.equal(combined.overlapSlowdown, 1.2);
  const priced = estimate(model, loadCluster('dgx-a100-80g', 8), { globalBatch: 8, microBatch: 1, tp: 2, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b', profile: combined });
  assert.equal(priced.input.cluster.intraNode.busBandwidthGBps, 123);
  assert.equal(priced.input.cluster.intraNode.latencyUs, 7);
  assert.equal(priced.input.cluster.overlapSlowdown, 1.2);
  // tp1 measured, priced at tp2: 10 ms ÷ 2 per sample and layer, 1 sample per micro-batch, 8 / (1 · dp 4) = 2 micro-batches.
  assert.ok(Math.abs(priced.report.breakdown['forward.compute-profiled']! - 24 * 2 * 0.005) < 1e-12);
  // p2p bandwidth was not measured: the link figures are partly the cluster's own.
  assert.equal(priced.report.source['forward.tp-comm'], 'mixed');
  // Galvatron's keys combine with ours the same way (its λ agrees with ours: no conflict).
  const galvatron = file('galvatron-hw.json', { allreduce_size_8_consec_0: 20, overlap_coe: 1.2 });
  assert.equal(loadProfiles([file('c2.json', compute), galvatron, file('h2.json', hardware)], model, 8).interNode?.busBandwidthGBps, 20);
});

test('the same key with different values in two files is an error naming both', () => {
  const a = file('a.json', hardware);
  const b = file('b.json', { ...hardware, overlapSlowdown: 1.3 });
  assert.throws(
    () => loadProfiles([a, b], model, 8),
    (e: unknown) => e instanceof UserInputError && e.field === 'profile' && e.message.includes('overlapSlowdown is 1.2 in') && e.message.includes(a) && e.message.includes(b),
  );
  const other = structuredClone(compute);
  other.layerTypes.decoder.variants[0]!.fit.forward.perSampleS = 0.011;
  const c = file('c.json', compute);
  const d = file('d.json', other);
  assert.throws(
    () => loadProfiles([c, d], model, 8),
    (e: unknown) => e instanceof UserInputError && e.message.includes('layerTypes.decoder[tp1] differs between') && e.message.includes(c) && e.message.includes(d),
  );
  // The same value twice is no conflict; different TP degrees of one layer type from two files add up.
  const tp2 = structuredClone(compute);
  tp2.layerTypes.decoder.variants[0]!.tp = 2;
  const both = loadProfiles([c, file('c-again.json', compute), file('tp2.json', tp2)], model, 8);
  assert.deepEqual(both.layerTypes['decoder']!.variants.map((v) => v.tp), [1, 2]);
  const seq = structuredClone(compute);
  seq.layerTypes.decoder.seqLen = 1024;
  assert.throws(() => loadProfiles([c, file('seq.json', seq)], model, 8), (e: unknown) => e instanceof UserInputError && /layerTypes\.decoder\.seqLen is 2048 in .* but 1024 in/.test(e.message));
});

test('fits: fixed + per-sample time, α–β in the bus-bandwidth convention, λ as the cost model uses it', () => {
  // Exact line 6 + 4·b: recovered whatever the weighting.
  const line = fitLine([1, 2, 4, 8].map((b) => ({ x: b, y: 6 + 4 * b })));
  assert.ok(Math.abs(line.intercept - 6) < 1e-9 && Math.abs(line.slope - 4) < 1e-9);
  // A negative intercept is refitted through the origin.
  assert.equal(fitLine([{ x: 1, y: 1 }, { x: 2, y: 3 }]).intercept, 0);
  // All-reduce on 4 ranks moves 2·3/4 of the buffer: 50 µs + 1.5·bytes / 10 GB/s.
  const points = [1024, 65536, 4 << 20].map((bytes) => ({ bytes, timeS: 50e-6 + (1.5 * bytes) / 10e9 }));
  const ar = fitCollective('all-reduce', 4, points);
  assert.ok(Math.abs(ar.alphaUs - 50) < 1e-6 && Math.abs(ar.busBandwidthGBps - 10) < 1e-9, JSON.stringify(ar));
  const p2p = fitCollective('p2p', 2, [1024, 1 << 20].map((bytes) => ({ bytes, timeS: 10e-6 + bytes / 5e9 })));
  // The cluster's latency is per ring step: 2(n−1) = 6 steps on 4 ranks.
  assert.deepEqual(linkFromCollectives([ar, p2p]), { busBandwidthGBps: ar.busBandwidthGBps, p2pGBps: p2p.busBandwidthGBps, latencyUs: ar.alphaUs / 6 });
  // T = max(C, B) + (λ − 1)·min(C, B): 10 ms and 8 ms alone, 12 ms together → λ = 1.25.
  assert.ok(Math.abs(overlapLambda(0.010, 0.008, 0.012) - 1.25) < 1e-12);
  assert.equal(overlapLambda(0.010, 0.008, 0.009), 1);
  // Below the smallest measured size: that size's time less the per-sample slope.
  assert.deepEqual(curveAt([{ microBatch: 2, forwardS: 0.014, backwardS: 0.028 }], { fixedS: 0.006, perSampleS: 0.004 }, 'forwardS', 1), { seconds: 0.010, how: 'extrapolated' });
});

test("the profiler's events assemble into a valid v2 profile", () => {
  const events: ProfilerEvent[] = [
    { event: 'machine', hostname: 'h', device: 'cpu', deviceName: 'x86', torch: '2.13.0', backend: 'gloo', ranks: 2, threadsPerRank: 1 },
    ...[1, 2, 4].map((b): ProfilerEvent => ({ event: 'time', unit: 'layer', tp: 1, sequenceParallel: false, recompute: 'none', microBatch: b, forwardS: 0.001 + 0.0005 * b, backwardS: 0.002 + 0.001 * b })),
    { event: 'memory', unit: 'layer', tp: 1, sequenceParallel: false, recompute: 'none', microBatch: 4, modelStateBytes: 1000, activationBytes: 4096 },
    ...[1, 2, 4].map((b): ProfilerEvent => ({ event: 'time', unit: 'head', tp: 1, sequenceParallel: false, recompute: 'none', microBatch: b, forwardS: 0.0002 * b, backwardS: 0.0004 * b })),
    ...[1024, 1 << 20].map((bytes): ProfilerEvent => ({ event: 'collective', kind: 'all-reduce', groupSize: 2, bytes, timeS: 1e-4 + bytes / 1e9 })),
    { event: 'overlap', computeS: 0.01, commS: 0.01, overlappedS: 0.013 },
    { event: 'end', wallTimeS: 3 },
  ];
  const profile = assembleProfile(events, { model, layerTypeId: 'decoder', dtype: 'float32', date: '2026-12-01T00:00:00Z', quick: true });
  assert.ok(ProfileV2Schema.safeParse(profile).success);
  const v = profile.layerTypes['decoder']!.variants[0]!;
  assert.ok(Math.abs(v.fit.forward.fixedS - 0.001) < 1e-12 && Math.abs(v.fit.forward.perSampleS - 0.0005) < 1e-12);
  assert.deepEqual(v.memory, { modelStateBytes: 1000, activationBytesPerSample: 1024 });
  assert.equal(profile.head?.variants[0]!.fit.forward.fixedS, 0);
  assert.equal(profile.precision, 'fp32');
  assert.equal(profile.machine?.wallTimeS, 3);
  assert.ok(Math.abs(profile.overlapSlowdown! - 1.3) < 1e-12);
  // All-reduce on 2 ranks: factor 1, bandwidth 1 GB/s, latency 100 µs over 2 ring steps.
  assert.ok(Math.abs(profile.intraNode!.busBandwidthGBps - 1) < 1e-9 && Math.abs(profile.intraNode!.latencyUs! - 50) < 1e-6);
});
