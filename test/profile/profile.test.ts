// A measured profile replaces the analytic numbers it covers, and only those: v1 files, Galvatron's own
// files (sequence mode included), and the v2 files `galvatron profile` writes.
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
import { nearestSeqLen } from '../../src/profile/galvatron-import.js';
import { loadProfile } from '../../src/profile/load.js';
import { profileFromV1, type Profile, type ProfileV1 } from '../../src/profile/schema.js';

const model = loadModel('gpt3-1.3b');
const config = (overrides: Partial<UniformConfig>): UniformConfig => ({
  globalBatch: 8, microBatch: 2, tp: 1, pp: 1, cp: 1, vpp: 1, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b', ...overrides,
});
const v1: ProfileV1 = { format: 'galvatron.profile/v1', layerTypes: { decoder: { seqLen: 2048, forwardMsPerSample: 10, backwardMsPerSample: 25 } } };
const profile: Profile = profileFromV1(v1);

function writeJson(value: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'galvatron-profile-')), 'profile.json');
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const close = (a: number | undefined, b: number, what: string) => assert.ok(a !== undefined && Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a} vs ${b}`);

test('v1 profile: forward ms/sample × samples × layers, divided by TP (with a note) at TP 2', () => {
  const cluster = loadCluster('dgx-a100-80g', 1);
  const single = estimate(model, cluster, config({ profile }));
  // 8 samples per iteration through 24 layers at 10 ms (forward) and 25 ms (backward) per sample.
  close(single.report.breakdown['forward.compute-profiled'], 24 * 8 * 0.010, 'forward');
  close(single.report.breakdown['backward.compute-profiled'], 24 * 8 * 0.025, 'backward');
  // The layers' analytic terms are gone (the head's logits GEMM stays analytic: no head entry).
  assert.equal(single.report.breakdown['forward.attention'], undefined);
  assert.equal(single.report.source['forward.compute-profiled'], 'profiled');
  assert.equal(single.report.source['forward.gemm'], 'analytic');
  assert.ok(single.report.profileNotes.includes('head: not in the profile; analytic model'));
  const tp2 = estimate(model, loadCluster('dgx-a100-80g', 2), config({ tp: 2, profile }));
  close(tp2.report.breakdown['forward.compute-profiled'], (24 * 8 * 0.010) / 2, 'tp2 forward');
  assert.ok(tp2.report.breakdown['forward.tp-comm']! > 0, 'TP communication priced from the link model');
  assert.ok(tp2.report.profileNotes.some((n) => /decoder tp2: not profiled; the tp1 time ÷ 2/.test(n)), tp2.report.profileNotes.join('\n'));
});

test('a profile taken at another sequence length is scaled by the FLOP ratio', () => {
  const half = profileFromV1({ ...v1, layerTypes: { decoder: { seqLen: 1024, forwardMsPerSample: 10 } } });
  const at1024 = estimate(model, loadCluster('dgx-a100-80g', 1), config({ profile: half })).report.breakdown['forward.compute-profiled']!;
  // A GPT layer's FLOPs per sample: 24·s·h² + 4·s²·h; from 1024 to 2048 tokens.
  const h = model.hidden;
  const ratio = (24 * 2048 * h * h + 4 * 2048 * 2048 * h) / (24 * 1024 * h * h + 4 * 1024 * 1024 * h);
  close(at1024, 24 * 8 * 0.010 * ratio, 'scaled');
});

/** A v2 profile of the decoder at seq 2048: three measured micro-batch sizes and the fit's slope. */
function measured(extra: Partial<Profile> = {}): Profile {
  return {
    format: 'galvatron.profile/v2',
    layerTypes: {
      decoder: {
        seqLen: 2048,
        variants: [
          {
            tp: 1,
            sequenceParallel: false,
            recompute: 'none',
            points: [
              { microBatch: 1, forwardS: 0.010, backwardS: 0.020 },
              { microBatch: 2, forwardS: 0.014, backwardS: 0.028 },
              { microBatch: 4, forwardS: 0.022, backwardS: 0.044 },
            ],
            fit: { forward: { fixedS: 0.006, perSampleS: 0.004 }, backward: { fixedS: 0.012, perSampleS: 0.008 } },
          },
          {
            tp: 1,
            sequenceParallel: false,
            recompute: 'full',
            points: [
              { microBatch: 1, forwardS: 0.010, backwardS: 0.031 },
              { microBatch: 4, forwardS: 0.022, backwardS: 0.068 },
            ],
            fit: { forward: { fixedS: 0.006, perSampleS: 0.004 }, backward: { fixedS: 0.0187, perSampleS: 0.0123 } },
          },
          {
            tp: 2,
            sequenceParallel: false,
            recompute: 'none',
            points: [{ microBatch: 2, forwardS: 0.009, backwardS: 0.016 }],
            fit: { forward: { fixedS: 0, perSampleS: 0.0045 }, backward: { fixedS: 0, perSampleS: 0.008 } },
          },
        ],
      },
    },
    collectives: [],
    ...extra,
  };
}

test('micro-batch sizes between measured ones are interpolated linearly; beyond them extrapolated with the fitted slope, and said', () => {
  const cluster = loadCluster('dgx-a100-80g', 1);
  const at = (b: number) => estimate(model, cluster, config({ globalBatch: b, microBatch: b, profile: measured() })).report;
  // 3 samples: halfway between 2 (14 ms, 28 ms) and 4 (22 ms, 44 ms) → 18 ms and 36 ms per layer.
  const three = at(3);
  close(three.breakdown['forward.compute-profiled'], 24 * 0.018, 'forward at 3');
  close(three.breakdown['backward.compute-profiled'], 24 * 0.036, 'backward at 3');
  assert.ok(!three.profileNotes.some((n) => /outside the measured/.test(n)), three.profileNotes.join('\n'));
  // Exactly at a measured size: that measurement.
  close(at(2).breakdown['forward.compute-profiled'], 24 * 0.014, 'forward at 2');
  // 8 samples: 4 samples' 22 ms + 4 more × 4 ms = 38 ms; backward 44 + 4 × 8 = 76 ms.
  const eight = at(8);
  close(eight.breakdown['forward.compute-profiled'], 24 * 0.038, 'forward at 8');
  close(eight.breakdown['backward.compute-profiled'], 24 * 0.076, 'backward at 8');
  assert.ok(eight.profileNotes.includes('decoder tp1: a micro-batch of 8 sample(s) per rank is outside the measured 1–4; extrapolated with the fitted per-sample time'), eight.profileNotes.join('\n'));
});

test('a measured recompute variant splits its backward against the no-recompute one; a measured TP degree holds its TP communication', () => {
  // Full recompute at 2 samples: backward interpolated 31 → 68 ms gives 43.33 ms, no-recompute 28 ms; recompute = 15.33 ms.
  const full = estimate(model, loadCluster('dgx-a100-80g', 1), config({ globalBatch: 2, microBatch: 2, recompute: 'full', profile: measured() })).report;
  const backward = 0.031 + (0.068 - 0.031) / 3;
  close(full.breakdown['backward.compute-profiled'], 24 * 0.028, 'backward without recompute');
  close(full.breakdown['backward.recompute-profiled'], 24 * (backward - 0.028), 'recompute');
  assert.equal(full.breakdown['backward.recompute'], undefined);
  assert.equal(full.source['backward.recompute-profiled'], 'profiled');
  // TP 2 was measured at 2 samples per rank (layer, embedding, head): the times stand as they are, with no
  // separate TP communication.
  const end = (forwardS: number, backwardS: number) => ({
    seqLen: 2048,
    variants: [{ tp: 2, sequenceParallel: false, recompute: 'none' as const, points: [{ microBatch: 2, forwardS, backwardS }], fit: { forward: { fixedS: 0, perSampleS: forwardS / 2 }, backward: { fixedS: 0, perSampleS: backwardS / 2 } } }],
  });
  const withEnds = measured({ embedding: end(0.001, 0.002), head: end(0.003, 0.004) });
  const tp2 = estimate(model, loadCluster('dgx-a100-80g', 2), config({ globalBatch: 2, microBatch: 2, tp: 2, profile: withEnds })).report;
  close(tp2.breakdown['forward.compute-profiled'], 24 * 0.009 + 0.001 + 0.003, 'tp2 forward');
  close(tp2.breakdown['backward.compute-profiled'], 24 * 0.016 + 0.002 + 0.004, 'tp2 backward');
  assert.equal(tp2.breakdown['forward.tp-comm'], undefined);
  assert.equal(tp2.breakdown['backward.tp-comm'], undefined);
  assert.deepEqual(tp2.profileNotes.filter((n) => !n.startsWith('the profile was measured')), []);
  // Selective recompute was not measured: the no-recompute times plus the analytic attention recompute.
  const selective = estimate(model, loadCluster('dgx-a100-80g', 1), config({ globalBatch: 2, microBatch: 2, recompute: 'selective', profile: measured() })).report;
  close(selective.breakdown['backward.compute-profiled'], 24 * 0.028, 'selective backward');
  assert.ok(selective.breakdown['backward.recompute']! > 0);
  assert.equal(selective.source['backward.recompute'], 'analytic');
  assert.ok(selective.profileNotes.some((n) => n.startsWith('decoder tp1, selective recompute: not profiled; tp1 measured')), selective.profileNotes.join('\n'));
});

test('a v2 profile round-trips: written, read back, equal', () => {
  const full: Profile = measured({
    machine: { hostname: 'h', device: 'cpu', deviceName: 'cpu x', torchVersion: '2.13.0', backend: 'gloo', ranks: 2, dtype: 'float32', date: '2026-12-01T00:00:00.000Z', quick: true },
    model: { name: 'gpt3-1.3b', family: 'gpt', hidden: 2048, heads: 16, kvHeads: 16, ffnHidden: 8192, vocab: 51200, seqLen: 2048 },
    precision: 'fp32',
    embedding: { seqLen: 2048, variants: [{ tp: 1, sequenceParallel: false, recompute: 'none', points: [{ microBatch: 1, forwardS: 0.001, backwardS: 0.002 }], fit: { forward: { fixedS: 0, perSampleS: 0.001 }, backward: { fixedS: 0, perSampleS: 0.002 } }, memory: { modelStateBytes: 100, activationBytesPerSample: 16 } }] },
    collectives: [{ kind: 'all-reduce', groupSize: 2, points: [{ bytes: 1024, timeS: 1e-4 }, { bytes: 4096, timeS: 2e-4 }], alphaUs: 66.7, busBandwidthGBps: 0.03 }],
    intraNode: { busBandwidthGBps: 0.03, p2pGBps: 0.05, latencyUs: 33 },
    overlap: { computeS: 0.01, commS: 0.008, overlappedS: 0.012 },
    overlapSlowdown: 1.25,
  });
  const back = loadProfile(writeJson(full), model, 8);
  assert.deepEqual(back, full);
  // v1 reads into the same form.
  assert.deepEqual(loadProfile(writeJson(v1), model, 8), profile);
});

test("Galvatron's computation and hardware profile keys import (batch sizes become measured points)", () => {
  const path = writeJson({ layertype_0_bsz4_seq2048: 3, layertype_0_bsz8_seq2048: 2.5, layertype_other_bsz8_seq2048: 4, allreduce_size_8_consec_1: 150, allreduce_size_16_consec_0: 20, overlap_coe: 1.25 });
  const imported = loadProfile(path, model, 8);
  const decoder = imported.layerTypes['decoder']!;
  assert.equal(decoder.seqLen, 2048);
  // Per-sample ms × batch: 4 × 3 ms = 12 ms and 8 × 2.5 ms = 20 ms forward; backward twice that.
  assert.deepEqual(decoder.variants[0]!.points, [
    { microBatch: 4, forwardS: 0.012, backwardS: 0.024 },
    { microBatch: 8, forwardS: 0.02, backwardS: 0.04 },
  ]);
  close(decoder.variants[0]!.fit.forward.perSampleS, 0.002, 'slope');
  close(decoder.variants[0]!.fit.forward.fixedS, 0.004, 'fixed');
  assert.equal(imported.embeddingHead?.variants[0]!.points[0]!.forwardS, 0.032);
  assert.equal(imported.intraNode?.busBandwidthGBps, 150);
  assert.equal(imported.interNode?.busBandwidthGBps, 20);
  assert.equal(imported.overlapSlowdown, 1.25);
  const priced = estimate(model, loadCluster('dgx-a100-80g', 8), config({ globalBatch: 16, tp: 8, profile: imported }));
  assert.equal(priced.input.cluster.intraNode.busBandwidthGBps, 150);
  assert.equal(priced.input.cluster.overlapSlowdown, 1.25);
});

test("Galvatron's sequence-mode profiles: the entry at the model's sequence length, not the longest", () => {
  // Sequence mode: batch 1 at seq 1k … 32k (per-sample forward ms growing with seq; made-up values).
  const keys: Record<string, number> = {};
  const msAt: Record<number, number> = { 1024: 3, 2048: 6.5, 4096: 14, 8192: 31, 16384: 70, 32768: 160 };
  for (const [seq, ms] of Object.entries(msAt)) keys[`layertype_0_bsz1_seq${seq}`] = ms;
  keys['layertype_other_bsz1_seq2048'] = 2;
  keys['layertype_other_bsz1_seq32768'] = 40;
  const path = writeJson(keys);
  const at2048 = loadProfile(path, model, 8);
  assert.equal(at2048.layerTypes['decoder']!.seqLen, 2048);
  assert.equal(at2048.layerTypes['decoder']!.variants[0]!.points[0]!.forwardS, 0.0065);
  assert.equal(at2048.embeddingHead!.seqLen, 2048);
  const priced = estimate(model, loadCluster('dgx-a100-80g', 1), config({ globalBatch: 1, microBatch: 1, profile: at2048 })).report;
  close(priced.breakdown['forward.compute-profiled'], 24 * 0.0065 + 0.002, 'layers + embedding/head at seq 2048');

  // Seq 3000 lies nearer 4096 than 2048 on a log scale; the 4096 entry is scaled by the FLOP ratio.
  assert.equal(nearestSeqLen([1024, 2048, 4096, 32768], 3000), 4096);
  assert.equal(nearestSeqLen([1024, 4096], 2048), 4096, 'equally near: the longer');
  const long = loadModel('gpt3-1.3b', { seqLen: 3000 });
  const at3000 = loadProfile(path, long, 8);
  assert.equal(at3000.layerTypes['decoder']!.seqLen, 4096);
  const h = long.hidden;
  const flops = (s: number) => 24 * s * h * h + 4 * s * s * h;
  const layer = estimate(long, loadCluster('dgx-a100-80g', 1), config({ globalBatch: 1, microBatch: 1, profile: at3000 })).report;
  // Layers at 14 ms × FLOP ratio; the embedding/head entry (2048 is nearer 3000 than 32768) scaled linearly.
  close(layer.breakdown['forward.compute-profiled'], 24 * 0.014 * (flops(3000) / flops(4096)) + 0.002 * (3000 / 2048), 'scaled from seq 4096');
});

test('profile errors name the field', () => {
  assert.throws(() => loadProfile(writeJson({ format: 'galvatron.profile/v1', layerTypes: { encoder: { seqLen: 512, forwardMsPerSample: 1 } } }), model, 8),
    (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.encoder');
  assert.throws(() => loadProfile(writeJson({ format: 'galvatron.profile/v1', layerTypes: { decoder: { seqLen: 512, forwardMsPerSample: -1 } } }), model, 8),
    (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.decoder.forwardMsPerSample');
  const v2 = measured() as unknown as { layerTypes: { decoder: { variants: { fit?: unknown; points: { microBatch: number }[] }[] } } };
  delete v2.layerTypes.decoder.variants[1]!.fit;
  assert.throws(() => loadProfile(writeJson(v2), model, 8), (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.decoder.variants[1].fit' && /missing/.test(e.message));
  const unordered = measured();
  unordered.layerTypes['decoder']!.variants[0]!.points.reverse();
  assert.throws(() => loadProfile(writeJson(unordered), model, 8), (e: unknown) => e instanceof UserInputError && e.field === 'profile.layerTypes.decoder.variants[0].points[1].microBatch');
  assert.throws(() => loadProfile(writeJson({ layerTypes: {} }), model, 8), (e: unknown) => e instanceof UserInputError && e.field === 'profile.format');
  assert.throws(() => loadProfile(writeJson({ layertype_3_bsz8_seq2048: 1 }), model, 8), (e: unknown) => e instanceof UserInputError && /layer type/.test(e.message));
  assert.throws(() => loadProfile('/nonexistent/profile.json', model, 8), (e: unknown) => e instanceof UserInputError && e.field === 'profile');
});

test('broken figures in Galvatron and v1 profiles are refused by name (0, -5, "fast", null, overlap_coe 100, 1e308 were ignored or accepted)', () => {
  const refusedAt = (json: unknown, field: string) =>
    assert.throws(() => loadProfile(writeJson(json), model, 8), (e: unknown) => e instanceof UserInputError && e.field === field, `${JSON.stringify(json)} → ${field}`);
  for (const bad of [0, -5, 'fast', null, 1e308]) {
    refusedAt({ layertype_0_bsz8_seq2048: 1, allreduce_size_8_consec_1: bad }, 'profile.allreduce_size_8_consec_1');
    refusedAt({ layertype_0_bsz8_seq2048: 1, allreduce_size_16_consec_0: bad }, 'profile.allreduce_size_16_consec_0');
    refusedAt({ layertype_0_bsz8_seq2048: bad }, 'profile.layertype_0_bsz8_seq2048');
  }
  for (const bad of [0, 0.5, 100, 'fast', null]) refusedAt({ layertype_0_bsz8_seq2048: 1, overlap_coe: bad }, 'profile.overlap_coe');
  refusedAt({ layertype_0_bsz0_seq2048: 1 }, 'profile.layertype_0_bsz0_seq2048');
  // A good one still imports, with its figures.
  const good = loadProfile(writeJson({ layertype_0_bsz8_seq2048: 1, allreduce_size_8_consec_1: 150, overlap_coe: 1.2 }), model, 8);
  assert.equal(good.intraNode?.busBandwidthGBps, 150);
  assert.equal(good.overlapSlowdown, 1.2);
  // Our own format bounds its links the same way.
  refusedAt({ format: 'galvatron.profile/v1', intraNode: { busBandwidthGBps: 1e308 } }, 'profile.intraNode.busBandwidthGBps');
  refusedAt({ format: 'galvatron.profile/v1', overlapSlowdown: 100 }, 'profile.overlapSlowdown');
});
