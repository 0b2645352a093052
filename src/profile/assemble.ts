// The profiler's JSON lines (python/galvatron_runtime/profiler.py) → a galvatron.profile/v2 profile:
// points grouped into variants and fitted (fixed + per-sample time), collectives fitted to α–β, the
// link figures and λ the cost model applies derived from them.
import { busTrafficFactor } from '../hardware/collectives.js';
import { ffnHiddenOf } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import type { RecomputeKind } from '../strategy/layer-strategy.js';
import { fitLine, fitTime } from './fit.js';
import {
  PROFILE_FORMAT,
  variantKey,
  type LinkProfile,
  type Profile,
  type ProfiledCollective,
  type ProfiledCollectiveKind,
  type ProfileMachine,
  type ProfileVariant,
  type UnitProfile,
} from './schema.js';

export type ProfilerEvent =
  | { event: 'machine'; hostname: string; device: 'cpu' | 'cuda'; deviceName: string; torch: string; backend: string | null; ranks: number; threadsPerRank?: number; python?: string }
  | { event: 'progress'; done: number; total: number; what: string }
  | { event: 'time'; unit: ProfiledUnit; tp: number; sequenceParallel: boolean; recompute: RecomputeKind; microBatch: number; forwardS: number; backwardS: number }
  | { event: 'memory'; unit: ProfiledUnit; tp: number; sequenceParallel: boolean; recompute: RecomputeKind; microBatch: number; modelStateBytes: number; activationBytes: number }
  | { event: 'collective'; kind: ProfiledCollectiveKind; groupSize: number; bytes: number; timeS: number; emulated?: boolean }
  | { event: 'skip'; what: string; reason: string }
  | { event: 'overlap'; computeS: number; commS: number; overlappedS: number }
  | { event: 'optimizer'; parameters: number; stepS: number }
  | { event: 'end'; wallTimeS: number };

export type ProfiledUnit = 'layer' | 'embedding' | 'head';

const EVENTS = new Set(['machine', 'progress', 'time', 'memory', 'collective', 'skip', 'overlap', 'optimizer', 'end']);

/** One stdout line of the profiler, or undefined for anything else (logs, stray output). */
export function parseProfilerLine(line: string): ProfilerEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as { event?: unknown };
    return typeof value.event === 'string' && EVENTS.has(value.event) ? (value as ProfilerEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** Fraction of the buffer each rank moves (bus-bandwidth convention); p2p moves the message. */
export function profiledTrafficFactor(kind: ProfiledCollectiveKind, n: number): number {
  return kind === 'p2p' ? 1 : busTrafficFactor(kind, n);
}

/** α–β fit of one collective's points: time = α + factor·bytes/β. */
export function fitCollective(kind: ProfiledCollectiveKind, groupSize: number, points: { bytes: number; timeS: number }[], emulated = false): ProfiledCollective {
  const factor = profiledTrafficFactor(kind, groupSize);
  const sorted = [...points].sort((a, b) => a.bytes - b.bytes);
  const line = fitLine(sorted.map((p) => ({ x: factor * p.bytes, y: p.timeS })));
  // A flat fit (no slope) would claim infinite bandwidth: take the largest buffer's rate instead.
  const largest = sorted[sorted.length - 1]!;
  const bytesPerS = line.slope > 0 ? 1 / line.slope : (factor * largest.bytes) / Math.max(largest.timeS - line.intercept, largest.timeS * 1e-3);
  return {
    kind,
    groupSize,
    points: sorted,
    alphaUs: line.intercept * 1e6,
    busBandwidthGBps: bytesPerS / 1e9,
    ...(emulated ? { emulated: true } : {}),
  };
}

/** The link figures a cluster takes from the collectives: the all-reduce of the largest group, p2p. */
export function linkFromCollectives(collectives: readonly ProfiledCollective[]): LinkProfile | undefined {
  const allReduce = collectives.filter((c) => c.kind === 'all-reduce').sort((a, b) => b.groupSize - a.groupSize)[0];
  if (!allReduce) return undefined;
  const p2p = collectives.find((c) => c.kind === 'p2p');
  // The cluster's latency is per ring step; an all-reduce on n ranks takes 2(n−1) of them.
  return {
    busBandwidthGBps: allReduce.busBandwidthGBps,
    ...(p2p ? { p2pGBps: p2p.busBandwidthGBps } : {}),
    latencyUs: allReduce.alphaUs / (2 * (allReduce.groupSize - 1)),
  };
}

/** λ of src/cost/overlap.ts from one measurement: T = max(C, B) + (λ − 1)·min(C, B), kept in [1, 3]. */
export function overlapLambda(computeS: number, commS: number, overlappedS: number): number {
  const lambda = 1 + (overlappedS - Math.max(computeS, commS)) / Math.min(computeS, commS);
  return Math.min(3, Math.max(1, lambda));
}

function units(events: readonly ProfilerEvent[], unit: ProfiledUnit, seqLen: number): UnitProfile | undefined {
  const variants = new Map<string, ProfileVariant>();
  for (const e of events) {
    if (e.event !== 'time' || e.unit !== unit) continue;
    const key = variantKey(e);
    let v = variants.get(key);
    if (!v) {
      v = { tp: e.tp, sequenceParallel: e.sequenceParallel, recompute: e.recompute, points: [], fit: { forward: { fixedS: 0, perSampleS: 0 }, backward: { fixedS: 0, perSampleS: 0 } } };
      variants.set(key, v);
    }
    v.points.push({ microBatch: e.microBatch, forwardS: e.forwardS, backwardS: e.backwardS });
  }
  if (variants.size === 0) return undefined;
  for (const v of variants.values()) {
    v.points.sort((a, b) => a.microBatch - b.microBatch);
    v.fit = {
      forward: fitTime(v.points.map((p) => ({ microBatch: p.microBatch, seconds: p.forwardS }))),
      backward: fitTime(v.points.map((p) => ({ microBatch: p.microBatch, seconds: p.backwardS }))),
    };
    const mem = events.find((e) => e.event === 'memory' && e.unit === unit && variantKey(e) === variantKey(v));
    if (mem && mem.event === 'memory') v.memory = { modelStateBytes: mem.modelStateBytes, activationBytesPerSample: mem.activationBytes / mem.microBatch };
  }
  return { seqLen, variants: [...variants.values()] };
}

export interface AssembleOptions {
  model: ModelSpec;
  layerTypeId: string;
  dtype: string;
  date: string;
  quick: boolean;
}

const PRECISION_OF_DTYPE: Record<string, Profile['precision']> = { float32: 'fp32', bf16: 'bf16' };

export function assembleProfile(events: readonly ProfilerEvent[], o: AssembleOptions): Profile {
  const m = o.model;
  const machineEvent = events.find((e) => e.event === 'machine');
  const end = events.find((e) => e.event === 'end');
  const profile: Profile = {
    format: PROFILE_FORMAT,
    model: { name: m.name, family: m.family, hidden: m.hidden, heads: m.heads, kvHeads: m.kvHeads ?? m.heads, ffnHidden: ffnHiddenOf(m), vocab: m.vocab, seqLen: m.seqLen },
    layerTypes: {},
    collectives: [],
  };
  if (machineEvent && machineEvent.event === 'machine') {
    const machine: ProfileMachine = {
      hostname: machineEvent.hostname,
      device: machineEvent.device,
      deviceName: machineEvent.deviceName,
      torchVersion: machineEvent.torch,
      backend: machineEvent.backend,
      ranks: machineEvent.ranks,
      dtype: o.dtype,
      date: o.date,
      quick: o.quick,
      ...(machineEvent.threadsPerRank === undefined ? {} : { threadsPerRank: machineEvent.threadsPerRank }),
      ...(machineEvent.python === undefined ? {} : { python: machineEvent.python }),
      ...(end && end.event === 'end' ? { wallTimeS: end.wallTimeS } : {}),
    };
    profile.machine = machine;
  }
  const precision = PRECISION_OF_DTYPE[o.dtype];
  if (precision) profile.precision = precision;
  const layer = units(events, 'layer', m.seqLen);
  if (layer) profile.layerTypes[o.layerTypeId] = layer;
  const embedding = units(events, 'embedding', m.seqLen);
  if (embedding) profile.embedding = embedding;
  const head = units(events, 'head', m.seqLen);
  if (head) profile.head = head;

  const groups = new Map<string, { kind: ProfiledCollectiveKind; groupSize: number; emulated: boolean; points: { bytes: number; timeS: number }[] }>();
  for (const e of events) {
    if (e.event !== 'collective' || !(e.timeS > 0)) continue;
    const key = `${e.kind}/${e.groupSize}`;
    const g = groups.get(key) ?? { kind: e.kind, groupSize: e.groupSize, emulated: false, points: [] };
    g.points.push({ bytes: e.bytes, timeS: e.timeS });
    g.emulated ||= e.emulated === true;
    groups.set(key, g);
  }
  profile.collectives = [...groups.values()].map((g) => fitCollective(g.kind, g.groupSize, g.points, g.emulated));
  const link = linkFromCollectives(profile.collectives);
  if (link) profile.intraNode = link;
  const overlap = events.find((e) => e.event === 'overlap');
  if (overlap && overlap.event === 'overlap' && overlap.computeS > 0 && overlap.commS > 0 && overlap.overlappedS > 0) {
    profile.overlap = { computeS: overlap.computeS, commS: overlap.commS, overlappedS: overlap.overlappedS };
    profile.overlapSlowdown = overlapLambda(overlap.computeS, overlap.commS, overlap.overlappedS);
  }
  const optimizer = events.find((e) => e.event === 'optimizer');
  if (optimizer && optimizer.event === 'optimizer' && optimizer.parameters > 0 && optimizer.stepS > 0) {
    profile.optimizer = { parameters: optimizer.parameters, stepS: optimizer.stepS };
  }
  return profile;
}
