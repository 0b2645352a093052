// A measured profile's hardware figures in the cluster: link figures and λ replace the cluster's, its
// collectives price their own kind and group size, its optimizer step sets the memory-bound bandwidth.
// (Apart from apply.ts, which the layer cost imports: this one needs the optimizer's byte count.)
import { OPTIMIZER_BYTES_PER_PARAM } from '../cost/plan-cost.js';
import type { ClusterSpec } from '../hardware/spec.js';
import type { Profile } from './schema.js';

/**
 * The cluster as the profile measured it: its link figures and λ, its collectives, each of which prices
 * its own kind and group size inside a node (src/hardware/collectives.ts), and the bandwidth of its
 * memory-bound kernels from the executor's optimizer step.
 */
export function clusterWithProfile(cluster: ClusterSpec, profile: Profile): ClusterSpec {
  const measured = profile.collectives.map(({ kind, groupSize, alphaUs, busBandwidthGBps }) => ({ kind, groupSize, alphaUs, busBandwidthGBps }));
  const opt = profile.optimizer;
  return {
    ...cluster,
    // The optimizer step is priced as OPTIMIZER_BYTES_PER_PARAM of memory-bound traffic per parameter: the
    // measured step sets the bandwidth those bytes move at.
    gpu: opt ? { ...cluster.gpu, memoryBoundGBps: (opt.parameters * OPTIMIZER_BYTES_PER_PARAM) / opt.stepS / 1e9 } : cluster.gpu,
    intraNode: { ...cluster.intraNode, ...definedOnly(profile.intraNode) },
    interNode: { ...cluster.interNode, ...definedOnly(profile.interNode) },
    overlapSlowdown: profile.overlapSlowdown ?? cluster.overlapSlowdown,
    ...(measured.length > 0 ? { measuredCollectives: measured } : {}),
  };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return value ? (Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>) : {};
}

