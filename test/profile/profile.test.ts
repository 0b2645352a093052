// A measured profile replaces the analytic numbers it covers, and only those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { estimate } from '../../src/cost/estimate.js';
import type { UniformConfig } from '../../src/cost/uniform-plan.js';
import { UserInputError } from '../../src/errors.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { loadProfile } from '../../src/profile/load.js';
import type { Profile } from '../../src/profile/schema.js';

const model = loadModel('gpt3-1.3b');
const config = (overrides: Partial<UniformConfig>): UniformConfig => ({
  globalBatch: 8, microBatch: 2, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b', ...overrides,
});
const profile: Profile = { format: 'galvatron.profile/v1', layerTypes: { decoder: { seqLen: 2048, forwardMsPerSample: 10, backwardMsPerSample: 25 } } };

function writeJson(value: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'galvatron-profile-')), 'profile.json');
  writeFileSync(path, JSON.stringify(value));
  return path;
}

test('profiled layer time: forward ms/sample × samples × layers, divided by TP', () => {
  const cluster = loadCluster('dgx-a100-80g', 1);
  const single = estimate(model, cluster, config({ profile }));
  // 8 samples per iteration through 24 layers at 10 ms (forward) and 25 ms (backward) per sample.
  assert.ok(Math.abs(single.report.breakdown['forward.compute-profiled']! - 24 * 8 * 0.010) < 1e-12);
  assert.ok(Math.abs(single.report.breakdown['backward.compute-profiled']! - 24 * 8 * 0.025) < 1e-12);
  // The layers' analytic terms are gone (the head's logits GEMM stays analytic: no embeddingHead entry).
  assert.equal(single.report.breakdown['forward.attention'], undefined);
  const tp2 = estimate(model, loadCluster('dgx-a100-80g', 2), config({ tp: 2, profile }));
  assert.ok(Math.abs(tp2.report.breakdown['forward.compute-profiled']! - (24 * 8 * 0.010) / 2) < 1e-12);
});

test('a profile taken at another sequence length is scaled by the FLOP ratio', () => {
  const half = { ...profile, layerTypes: { decoder: { seqLen: 1024, forwardMsPerSample: 10 } } };
  const at1024 = estimate(model, loadCluster('dgx-a100-80g', 1), config({ profile: half })).report.breakdown['forward.compute-profiled']!;
  // A GPT layer's FLOPs per sample: 24·s·h² + 4·s²·h; from 1024 to 2048 tokens.
  const h = model.hidden;
  const ratio = (24 * 2048 * h * h + 4 * 2048 * 2048 * h) / (24 * 1024 * h * h + 4 * 1024 * 1024 * h);
  assert.ok(Math.abs(at1024 - 24 * 8 * 0.010 * ratio) < 1e-9);
});

test("Galvatron's computation and hardware profile keys import", () => {
  const path = writeJson({ layertype_0_bsz4_seq2048: 3, layertype_0_bsz8_seq2048: 2.5, layertype_other_bsz8_seq2048: 4, allreduce_size_8_consec_1: 150, allreduce_size_16_consec_0: 20, overlap_coe: 1.25 });
  const imported = loadProfile(path, model, 8);
  assert.deepEqual(imported.layerTypes['decoder'], { seqLen: 2048, forwardMsPerSample: 2.5 });
  assert.deepEqual(imported.embeddingHead, { seqLen: 2048, forwardMsPerSample: 4 });
  assert.equal(imported.intraNode?.busBandwidthGBps, 150);
  assert.equal(imported.interNode?.busBandwidthGBps, 20);
  assert.equal(imported.overlapSlowdown, 1.25);
  const priced = estimate(model, loadCluster('dgx-a100-80g', 8), config({ globalBatch: 16, tp: 8, profile: imported }));
  assert.equal(priced.input.cluster.intraNode.busBandwidthGBps, 150);
  assert.equal(priced.input.cluster.overlapSlowdown, 1.25);
});

test('profile errors name the field', () => {
  assert.throws(() => loadProfile(writeJson({ format: 'galvatron.profile/v1', layerTypes: { encoder: { seqLen: 512, forwardMsPerSample: 1 } } }), model, 8),
    (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.encoder');
  assert.throws(() => loadProfile(writeJson({ format: 'galvatron.profile/v1', layerTypes: { decoder: { seqLen: 512, forwardMsPerSample: -1 } } }), model, 8),
    (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.decoder.forwardMsPerSample');
  assert.throws(() => loadProfile(writeJson({ layertype_3_bsz8_seq2048: 1 }), model, 8), (e: unknown) => e instanceof UserInputError && /layer type/.test(e.message));
  assert.throws(() => loadProfile('/nonexistent/profile.json', model, 8), (e: unknown) => e instanceof UserInputError && e.field === '--profile');
});
