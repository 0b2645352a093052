// Applies a measured profile: link figures and λ replace the cluster's; layer times replace the analytic compute.
import type { ClusterSpec } from '../hardware/spec.js';
import { layerForwardFlops } from '../model/derived.js';
import type { LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import type { LayerTimeProfile, Profile } from './schema.js';

export function clusterWithProfile(cluster: ClusterSpec, profile: Profile): ClusterSpec {
  return {
    ...cluster,
    intraNode: { ...cluster.intraNode, ...definedOnly(profile.intraNode) },
    interNode: { ...cluster.interNode, ...definedOnly(profile.interNode) },
    overlapSlowdown: profile.overlapSlowdown ?? cluster.overlapSlowdown,
  };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return value ? (Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>) : {};
}

export interface MeasuredCompute {
  forwardS: number;
  backwardS: number;
}

/** FLOPs of the layer per sample at another sequence length (attention grows as s², the rest as s). */
function flopsAtSeq(shape: LayerShape, seqLen: number): number {
  // Full attention spans the whole sequence; a window (Swin) keeps its span.
  const attentionSpan = shape.attentionSpan === shape.seqLen ? seqLen : Math.min(shape.attentionSpan, seqLen);
  const scaled = { ...shape, seqLen, attentionSpan };
  const f = layerForwardFlops(scaled);
  return f.gemm + f.attention;
}

/**
 * Compute time of one layer for `samples` local samples from a profile measured at TP 1: divided by the
 * TP and CP degrees (each rank does 1/(t·c) of the work) and scaled by the FLOP ratio when the profile
 * was taken at another sequence length.
 */
export function measuredLayerCompute(entry: LayerTimeProfile, shape: LayerShape, strategy: LayerStrategy, samples: number): MeasuredCompute {
  const seqScale = entry.seqLen === shape.seqLen ? 1 : flopsAtSeq(shape, shape.seqLen) / flopsAtSeq(shape, entry.seqLen);
  const perSampleS = (seqScale * samples) / (strategy.tp * strategy.cp) / 1e3;
  return {
    forwardS: entry.forwardMsPerSample * perSampleS,
    backwardS: (entry.backwardMsPerSample ?? 2 * entry.forwardMsPerSample) * perSampleS,
  };
}
