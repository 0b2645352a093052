// Several `--profile` files make one profile: compute from one file, hardware from another. Every
// measurement is a key (a layer variant, a collective, a link figure, λ, the optimizer step); a key given by two files with
// different values is an error naming both, the same value twice is fine. Who measured what (`machine`,
// `model`, `description`) is kept from the first file that says it.
import { UserInputError } from '../errors.js';
import { PROFILE_FORMAT, variantKey, type LinkProfile, type Profile, type UnitProfile } from './schema.js';

export interface LoadedProfile {
  path: string;
  profile: Profile;
}

/** JSON with object keys sorted: equal values print equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  return 'a different measurement';
}

class Merger {
  private readonly origin = new Map<string, { path: string; value: unknown }>();

  /** Records `value` under `key` from `path`; true when it is new (false: the same value was already there). */
  take(key: string, value: unknown, path: string): boolean {
    const seen = this.origin.get(key);
    if (!seen) {
      this.origin.set(key, { path, value });
      return true;
    }
    if (canonical(seen.value) === canonical(value)) return false;
    const both = shown(seen.value) === 'a different measurement' ? `differs between "${seen.path}" and "${path}"` : `is ${shown(seen.value)} in "${seen.path}" but ${shown(value)} in "${path}"`;
    throw new UserInputError('profile', `${key} ${both}; give each measurement in one file only`);
  }
}

function mergeUnit(merger: Merger, name: string, into: UnitProfile | undefined, unit: UnitProfile, path: string): UnitProfile {
  merger.take(`${name}.seqLen`, unit.seqLen, path);
  const out: UnitProfile = into ?? { seqLen: unit.seqLen, variants: [] };
  for (const variant of unit.variants) {
    if (merger.take(`${name}[${variantKey(variant)}]`, variant, path)) out.variants.push(variant);
  }
  return out;
}

function mergeLink(merger: Merger, name: string, into: LinkProfile | undefined, link: LinkProfile, path: string): LinkProfile {
  const out: Partial<LinkProfile> = { ...into };
  for (const [field, value] of Object.entries(link) as [keyof LinkProfile, number | undefined][]) {
    if (value === undefined) continue;
    merger.take(`${name}.${field}`, value, path);
    out[field] = value;
  }
  return out as LinkProfile;
}

export function combineProfiles(loaded: readonly LoadedProfile[]): Profile {
  if (loaded.length === 1) return loaded[0]!.profile;
  const merger = new Merger();
  const out: Profile = { format: PROFILE_FORMAT, layerTypes: {}, collectives: [] };
  for (const { path, profile } of loaded) {
    if (profile.machine && !out.machine) out.machine = profile.machine;
    if (profile.model && !out.model) out.model = profile.model;
    if (profile.description !== undefined && out.description === undefined) out.description = profile.description;
    if (profile.precision !== undefined && merger.take('precision', profile.precision, path)) out.precision = profile.precision;
    for (const [id, unit] of Object.entries(profile.layerTypes)) out.layerTypes[id] = mergeUnit(merger, `layerTypes.${id}`, out.layerTypes[id], unit, path);
    for (const end of ['embedding', 'head', 'embeddingHead'] as const) {
      const unit = profile[end];
      if (unit) out[end] = mergeUnit(merger, end, out[end], unit, path);
    }
    for (const c of profile.collectives) {
      if (merger.take(`collectives[${c.kind}, ${c.groupSize} ranks]`, c, path)) out.collectives.push(c);
    }
    if (profile.intraNode) out.intraNode = mergeLink(merger, 'intraNode', out.intraNode, profile.intraNode, path);
    if (profile.interNode) out.interNode = mergeLink(merger, 'interNode', out.interNode, profile.interNode, path);
    if (profile.overlapSlowdown !== undefined && merger.take('overlapSlowdown', profile.overlapSlowdown, path)) {
      out.overlapSlowdown = profile.overlapSlowdown;
      if (profile.overlap) out.overlap = profile.overlap;
    }
    if (profile.optimizer && merger.take('optimizer', profile.optimizer, path)) out.optimizer = profile.optimizer;
  }
  return out;
}
