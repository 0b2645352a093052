// What a profile covered in a priced plan: the source of every time term (profiled or analytic) and the
// notes a person should read (extrapolated micro-batch sizes, stand-in variants, layers left analytic).
// Pure functions of the plan input, so the cost model itself stays free of bookkeeping.
import type { PlanInput } from '../cost/plan-cost.js';
import { totalGpus } from '../hardware/spec.js';
import { profiledEndTime, profiledLayerTime, endProfile } from './apply.js';
import { variantKey, type LinkProfile, type Profile } from './schema.js';

export type TermSource = 'profiled' | 'analytic' | 'mixed';

/** Term names (after "forward."/"backward.") and where their numbers come from. */
const MEASURED_TERMS = new Set(['compute-profiled', 'recompute-profiled']);
const ANALYTIC_TERMS = new Set(['gemm', 'attention', 'elementwise', 'loss', 'embedding', 'recompute']);
/** tp-comm, zero2-comm, zero3-comm, zero3-gather, redistribute, p2p: priced from the link figures. */
const isCommunication = (name: string) => /-comm$|-gather$|^redistribute$|^p2p$/.test(name);

function combined(sources: TermSource[]): TermSource {
  if (sources.length === 0 || sources.every((s) => s === 'analytic')) return 'analytic';
  return sources.every((s) => s === 'profiled') ? 'profiled' : 'mixed';
}

function linkSource(link: LinkProfile | undefined): TermSource {
  if (!link) return 'analytic';
  const given = [link.busBandwidthGBps, link.p2pGBps, link.latencyUs].filter((v) => v !== undefined).length;
  return given === 3 ? 'profiled' : 'mixed';
}

/**
 * Where the communication prices of the plan's cluster come from: the profile (its measured collectives,
 * or all three link figures), the cluster spec, or both.
 */
function communicationSource(input: PlanInput): TermSource {
  const profile = input.profile;
  if (!profile) return 'analytic';
  const levels = [profile.collectives.length > 0 ? 'profiled' : linkSource(profile.intraNode)];
  if (totalGpus(input.cluster) > input.cluster.gpusPerNode) levels.push(linkSource(profile.interNode));
  return combined(levels);
}

/**
 * The source of each breakdown term: measured compute terms are "profiled", the analytic kernels
 * "analytic"; communication terms follow the link figures (profiled when the profile gave them), the
 * pipeline bubble the compute it is made of, the exposed gradient sync the links and λ.
 */
export function termSources(input: PlanInput, breakdown: Record<string, number>): Record<string, TermSource> {
  const names = Object.keys(breakdown);
  const bare = (key: string) => key.replace(/^(forward|backward)\./, '');
  const comm = communicationSource(input);
  const lambda: TermSource = input.profile?.overlapSlowdown !== undefined ? 'profiled' : 'analytic';
  const compute = combined(
    names
      .filter((k) => breakdown[k] !== 0 && (MEASURED_TERMS.has(bare(k)) || ['gemm', 'attention', 'elementwise', 'loss', 'embedding'].includes(bare(k))))
      .map((k) => (MEASURED_TERMS.has(bare(k)) ? 'profiled' : 'analytic')),
  );
  const out: Record<string, TermSource> = {};
  for (const key of names) {
    const name = bare(key);
    if (MEASURED_TERMS.has(name)) out[key] = 'profiled';
    else if (ANALYTIC_TERMS.has(name)) out[key] = 'analytic';
    else if (isCommunication(name)) out[key] = comm;
    else if (name === 'pipeline-bubble') out[key] = compute;
    else if (name === 'gradient-sync-exposed') out[key] = combined([comm, lambda]);
    else if (name === 'gradient-norm-all-reduce') out[key] = comm;
    // The optimizer is memory-bound traffic at the bandwidth the profile's optimizer step measured.
    else if (name === 'optimizer') out[key] = input.profile?.optimizer ? 'profiled' : 'analytic';
    else out[key] = 'analytic';
  }
  return out;
}

const FLOAT_NAMES: Record<string, string> = { float32: 'fp32', float64: 'fp64', bf16: 'bf16' };

/** Notes on how the profile was used for this plan, each once, in a stable order. */
export function profileNotes(input: PlanInput): string[] {
  const profile: Profile | undefined = input.profile;
  if (!profile) return [];
  const notes = new Set<string>();
  const measuredIn = profile.precision ?? (profile.machine ? FLOAT_NAMES[profile.machine.dtype] : undefined);
  if (measuredIn !== undefined && measuredIn !== input.setup.precision) {
    notes.add(`the profile was measured in ${measuredIn}${profile.machine ? ` on ${profile.machine.deviceName}` : ''}; the plan is priced in ${input.setup.precision}`);
  }
  const samples = input.setup.globalBatch / input.setup.microBatches;
  const shapesSeen = new Set<string>();
  const seen = new Set<string>();
  input.layers.forEach((shape, l) => {
    const strategy = input.strategies[l]!;
    if (profile.model && profile.layerTypes[shape.typeId] && !shapesSeen.has(shape.typeId)) {
      shapesSeen.add(shape.typeId);
      const m = profile.model;
      if (m.hidden !== shape.hidden || m.heads !== shape.heads || m.kvHeads !== shape.kvHeads || m.ffnHidden !== shape.ffnHidden) {
        notes.add(`${shape.typeId}: profiled on ${m.name} (hidden ${m.hidden}, ${m.heads} heads, ffn ${m.ffnHidden}), a different shape from this model's`);
      }
    }
    const key = `${shape.typeId}|${JSON.stringify(strategy)}|${JSON.stringify(shape)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const time = profiledLayerTime(profile, shape, strategy, samples / strategy.dp);
    if (time) time.notes.forEach((n) => notes.add(n));
    else if (profile.layerTypes[shape.typeId]) notes.add(`${shape.typeId} ${variantKey(strategy)}: not covered by the profile; analytic model`);
    else notes.add(`layer type ${shape.typeId} is not in the profile; analytic model`);
  });
  for (const end of ['embedding', 'head'] as const) {
    const found = endProfile(profile, end);
    const time = profiledEndTime(profile, end, input.embedding, input.embeddingStrategy, samples / input.embeddingStrategy.dp);
    if (time) time.notes.forEach((n) => notes.add(n));
    else if (found) notes.add(`${end} ${variantKey({ ...input.embeddingStrategy, recompute: 'none' })}: not covered by the profile; analytic model`);
    else if (end === 'head' || !profile.embeddingHead) notes.add(`${end}: not in the profile; analytic model`);
  }
  return [...notes];
}
