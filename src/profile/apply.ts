// Applies a measured profile's compute: its layer, embedding and head times replace the analytic compute
// where it covers the strategy (src/profile/lookup.ts says how). Its hardware figures go into the cluster
// (src/profile/cluster.ts).
import { layerForwardFlops } from '../model/derived.js';
import type { EmbeddingShape, LayerShape } from '../model/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { unitTime, type UnitTime } from './lookup.js';
import type { Profile, UnitProfile } from './schema.js';

/** FLOPs of the layer per sample at another sequence length (attention grows as s², the rest as s). */
function flopsAtSeq(shape: LayerShape, seqLen: number): number {
  // Full attention spans the whole sequence; a window (Swin) keeps its span.
  const attentionSpan = shape.attentionSpan === shape.seqLen ? seqLen : Math.min(shape.attentionSpan, seqLen);
  const f = layerForwardFlops({ ...shape, seqLen, attentionSpan });
  return f.gemm + f.attention;
}

function scaled(time: UnitTime, factor: number, note: string | undefined): UnitTime {
  if (factor === 1 && note === undefined) return time;
  return {
    ...time,
    forwardS: time.forwardS * factor,
    backwardS: time.backwardS * factor,
    ...(time.recomputeS === undefined ? {} : { recomputeS: time.recomputeS * factor }),
    notes: note === undefined ? time.notes : [...time.notes, note],
  };
}

/**
 * Measured time of one layer for `samples` samples per rank (the micro-batch over DP), or undefined
 * when the profile has no usable entry for the layer type. A profile taken at another sequence length is
 * scaled by the FLOP ratio; context parallelism divides by cp (each rank does 1/cp of the sequence).
 */
export function profiledLayerTime(profile: Profile, shape: LayerShape, strategy: LayerStrategy, samples: number): UnitTime | undefined {
  const unit = profile.layerTypes[shape.typeId];
  if (!unit) return undefined;
  const time = unitTime(unit, shape.typeId, strategy.tp, strategy.sequenceParallel, strategy.recompute, samples);
  if (!time) return undefined;
  const seqRatio = unit.seqLen === shape.seqLen ? 1 : flopsAtSeq(shape, shape.seqLen) / flopsAtSeq(shape, unit.seqLen);
  const notes = [
    ...(seqRatio === 1 ? [] : [`${shape.typeId}: profiled at seq ${unit.seqLen}, scaled by the FLOP ratio to seq ${shape.seqLen}`]),
    ...(strategy.cp > 1 ? [`${shape.typeId} cp${strategy.cp}: not profiled; divided by ${strategy.cp}`] : []),
  ];
  return scaled(time, seqRatio / strategy.cp, notes.length ? notes.join('; ') : undefined);
}

export type EndUnit = 'embedding' | 'head';

/** The profile entry for the embedding or the head; `combined` when it is embedding + head together. */
export function endProfile(profile: Profile, end: EndUnit): { unit: UnitProfile; combined: boolean } | undefined {
  if (end === 'embedding') return profile.embedding ? { unit: profile.embedding, combined: false } : undefined;
  if (profile.head) return { unit: profile.head, combined: false };
  return profile.embeddingHead ? { unit: profile.embeddingHead, combined: true } : undefined;
}

/**
 * Measured time of the input embedding or of the head (final norm, logits, loss) for `samples` samples
 * per rank; an embedding + head entry (v1, Galvatron) prices both on the head. Scaled linearly to
 * another sequence length (the logits and lookups are linear in it) and divided by cp.
 */
export function profiledEndTime(profile: Profile, end: EndUnit, emb: EmbeddingShape, strategy: LayerStrategy, samples: number): UnitTime | undefined {
  const found = endProfile(profile, end);
  if (!found) return undefined;
  const label = found.combined ? 'embedding+head' : end;
  const time = unitTime(found.unit, label, strategy.tp, strategy.sequenceParallel, 'none', samples);
  if (!time) return undefined;
  const seqRatio = emb.seqLen / found.unit.seqLen;
  const notes = [
    ...(seqRatio === 1 ? [] : [`${label}: profiled at seq ${found.unit.seqLen}, scaled linearly to seq ${emb.seqLen}`]),
    ...(strategy.cp > 1 ? [`${label} cp${strategy.cp}: not profiled; divided by ${strategy.cp}`] : []),
  ];
  return scaled(time, seqRatio / strategy.cp, notes.length ? notes.join('; ') : undefined);
}
