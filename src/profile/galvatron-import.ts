// Galvatron's own profile files (shared/reference/galvatron-formats.md) → our Profile.
import { UserInputError } from '../errors.js';
import type { Profile } from './schema.js';

const COMPUTE_KEY = /^layertype_(\d+|other)_bsz(\d+)_seq(\d+)$/;

export function isGalvatronProfile(json: unknown): boolean {
  if (json === null || typeof json !== 'object') return false;
  return Object.keys(json).some((k) => COMPUTE_KEY.test(k) || k === 'overlap_coe' || /^allreduce_size_\d+_consec_[01]$/.test(k));
}

/**
 * Computation profile: `layertype_{i}_bsz{b}_seq{s}` → forward ms per sample of layer type i, and
 * `layertype_other_…` → embedding + head. The model's layer types in order give i its meaning.
 * Hardware profile keys: `allreduce_size_{n}_consec_1` (MB/ms = GB/s bus bandwidth inside a node),
 * `allreduce_size_{n}_consec_0` (strided, across nodes), `overlap_coe` (λ).
 */
export function profileFromGalvatron(json: Record<string, unknown>, layerTypeIds: string[], gpusPerNode: number): Profile {
  const profile: Profile = { format: 'galvatron.profile/v1', device: 'imported from Galvatron', layerTypes: {} };
  // Per layer type, the entry with the largest batch (least launch noise) wins.
  const bestBatch = new Map<string, number>();
  for (const [key, value] of Object.entries(json)) {
    const match = COMPUTE_KEY.exec(key);
    if (!match) continue;
    if (typeof value !== 'number' || !(value > 0)) throw new UserInputError(`--profile ${key}`, 'must be a positive number of milliseconds');
    const [, type, bsz, seq] = match;
    const id = type === 'other' ? 'other' : layerTypeIds[Number(type)];
    if (id === undefined) {
      throw new UserInputError(`--profile ${key}`, `the model has ${layerTypeIds.length} layer type(s) (${layerTypeIds.join(', ')}); profile this model or remove the key`);
    }
    if ((bestBatch.get(id) ?? 0) > Number(bsz)) continue;
    bestBatch.set(id, Number(bsz));
    const entry = { seqLen: Number(seq), forwardMsPerSample: value };
    if (id === 'other') profile.embeddingHead = entry;
    else profile.layerTypes[id] = entry;
  }
  const intra = json[`allreduce_size_${gpusPerNode}_consec_1`];
  if (typeof intra === 'number' && intra > 0) profile.intraNode = { busBandwidthGBps: intra };
  const inter = Object.entries(json).find(([k]) => /^allreduce_size_\d+_consec_0$/.test(k))?.[1];
  if (typeof inter === 'number' && inter > 0) profile.interNode = { busBandwidthGBps: inter };
  const lambda = json['overlap_coe'];
  if (typeof lambda === 'number' && lambda >= 1) profile.overlapSlowdown = lambda;
  return profile;
}
