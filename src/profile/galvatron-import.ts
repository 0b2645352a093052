// Galvatron's own profile files (docs/profile.md, "Galvatron's files") → our Profile.
import { UserInputError } from '../errors.js';
import { CLUSTER_LIMITS } from '../limits.js';
import { fitTime } from './fit.js';
import { PROFILE_FORMAT, type Profile, type TimePoint, type UnitProfile } from './schema.js';

const COMPUTE_KEY = /^layertype_(\d+|other)_bsz(\d+)_seq(\d+)$/;
const ALLREDUCE_KEY = /^allreduce_size_\d+_consec_[01]$/;
/** A million seconds per sample: far beyond any layer, short of overflowing the cost model. */
const MAX_MS_PER_SAMPLE = 1e9;
const MAX_OVERLAP_COE = 3;

export function isGalvatronProfile(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  return Object.keys(json).some((k) => COMPUTE_KEY.test(k) || k === 'overlap_coe' || ALLREDUCE_KEY.test(k));
}

/**
 * The measured sequence length closest to the model's on a log scale (the profiles step in powers of
 * two); between two equally close ones, the longer.
 */
export function nearestSeqLen(measured: Iterable<number>, seqLen: number): number {
  let best: number | undefined;
  for (const s of measured) {
    if (best === undefined) {
      best = s;
      continue;
    }
    const d = Math.abs(Math.log(s / seqLen));
    const bestD = Math.abs(Math.log(best / seqLen));
    if (d < bestD - 1e-12 || (Math.abs(d - bestD) <= 1e-12 && s > best)) best = s;
  }
  if (best === undefined) throw new Error('nearestSeqLen: no sequence lengths');
  return best;
}

/**
 * Computation profile: `layertype_{i}_bsz{b}_seq{s}` → forward ms per sample of layer type i at batch b
 * and sequence length s, `layertype_other_…` → embedding + head. The model's layer types in order give i
 * its meaning. Sequence-mode profiles hold several s: the one nearest the model's `seqLen` is used (the
 * cost model scales it by the FLOP ratio), and its batch sizes become measured points (backward = 2 ×
 * forward, Galvatron's convention). Hardware profile keys: `allreduce_size_{n}_consec_1` (MB/ms = GB/s
 * bus bandwidth inside a node), `allreduce_size_{n}_consec_0` (strided, across nodes), `overlap_coe` (λ).
 */
export function profileFromGalvatron(json: Record<string, unknown>, layerTypeIds: string[], gpusPerNode: number, seqLen: number): Profile {
  const profile: Profile = { format: PROFILE_FORMAT, description: 'imported from Galvatron', layerTypes: {}, collectives: [] };
  // type id → seq → batch → forward ms per sample
  const measured = new Map<string, Map<number, Map<number, number>>>();
  for (const [key, value] of Object.entries(json)) {
    const match = COMPUTE_KEY.exec(key);
    if (!match) continue;
    if (typeof value !== 'number' || !(value > 0) || value > MAX_MS_PER_SAMPLE) {
      throw new UserInputError(`profile.${key}`, `must be a number of milliseconds per sample, > 0 and ≤ ${MAX_MS_PER_SAMPLE.toExponential()}; got ${JSON.stringify(value)}`);
    }
    const [, type, bsz, seq] = match;
    if (!(Number(bsz) >= 1) || !(Number(seq) >= 1)) throw new UserInputError(`profile.${key}`, 'batch size and sequence length in the key must be ≥ 1');
    const id = type === 'other' ? 'other' : layerTypeIds[Number(type)];
    if (id === undefined) {
      throw new UserInputError(`profile.${key}`, `the model has ${layerTypeIds.length} layer type(s) (${layerTypeIds.join(', ')}); profile this model or remove the key`);
    }
    const bySeq = measured.get(id) ?? new Map<number, Map<number, number>>();
    measured.set(id, bySeq);
    const byBatch = bySeq.get(Number(seq)) ?? new Map<number, number>();
    bySeq.set(Number(seq), byBatch);
    byBatch.set(Number(bsz), value);
  }
  for (const [id, bySeq] of measured) {
    const seq = nearestSeqLen(bySeq.keys(), seqLen);
    const points: TimePoint[] = [...bySeq.get(seq)!.entries()]
      .sort(([a], [b]) => a - b)
      .map(([b, msPerSample]) => ({ microBatch: b, forwardS: (b * msPerSample) / 1e3, backwardS: (2 * b * msPerSample) / 1e3 }));
    const forward = fitTime(points.map((p) => ({ microBatch: p.microBatch, seconds: p.forwardS })));
    const unit: UnitProfile = {
      seqLen: seq,
      variants: [{ tp: 1, sequenceParallel: false, recompute: 'none', points, fit: { forward, backward: { fixedS: 2 * forward.fixedS, perSampleS: 2 * forward.perSampleS } } }],
    };
    if (id === 'other') profile.embeddingHead = unit;
    else profile.layerTypes[id] = unit;
  }
  // Every hardware figure present is checked, used or not: a 0, a -5, "fast" or null is a broken profile.
  for (const [key, value] of Object.entries(json)) {
    if (!ALLREDUCE_KEY.test(key)) continue;
    if (typeof value !== 'number' || !(value > 0) || value > CLUSTER_LIMITS.gbps) {
      throw new UserInputError(`profile.${key}`, `must be a bus bandwidth in MB/ms (= GB/s), > 0 and ≤ ${CLUSTER_LIMITS.gbps.toLocaleString('en-US')}; got ${JSON.stringify(value)}`);
    }
  }
  const intra = json[`allreduce_size_${gpusPerNode}_consec_1`];
  if (typeof intra === 'number') profile.intraNode = { busBandwidthGBps: intra };
  const inter = Object.entries(json).find(([k]) => /^allreduce_size_\d+_consec_0$/.test(k))?.[1];
  if (typeof inter === 'number') profile.interNode = { busBandwidthGBps: inter };
  if ('overlap_coe' in json) {
    const lambda = json['overlap_coe'];
    // λ: how much slower compute runs while communication overlaps it, so ≥ 1; ours caps it at 3 as well.
    if (typeof lambda !== 'number' || !(lambda >= 1) || lambda > MAX_OVERLAP_COE) {
      throw new UserInputError('profile.overlap_coe', `must be a slowdown factor from 1 to ${MAX_OVERLAP_COE}; got ${JSON.stringify(lambda)}`);
    }
    profile.overlapSlowdown = lambda;
  }
  return profile;
}
