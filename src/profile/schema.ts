// Measured profiles: what `galvatron profile` writes (galvatron.profile/v2, docs/profile.md) and the older
// galvatron.profile/v1, which loads into the v2 form. Times in seconds, sizes in bytes, bandwidths in
// GB/s and latencies in µs (the ClusterSpec's units), so a profile reads like the rest of the library.
import { z } from 'zod';
import { RECOMPUTE_KINDS } from '../strategy/layer-strategy.js';
import { atMost, CLUSTER_LIMITS } from '../limits.js';

export const PROFILE_FORMAT = 'galvatron.profile/v2';
export const PROFILE_FORMAT_V1 = 'galvatron.profile/v1';

// Every figure is bounded, so that a typo such as 1e308 cannot price a layer or a link as free or overflow
// to Infinity; the bound is far above any measurement (a million seconds, a petabyte).
const MAX_FIGURE = 1e15;
const positive = (what: string, max: number = MAX_FIGURE) =>
  z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`).max(max, atMost(what, max));
const nonNegative = (what: string, max: number = MAX_FIGURE) =>
  z.number({ error: `${what} must be a number` }).nonnegative(`${what} must be ≥ 0`).max(max, atMost(what, max));
const bandwidth = (what: string) => positive(what, CLUSTER_LIMITS.gbps);
const latency = (what: string) => nonNegative(what, CLUSTER_LIMITS.latencyUs);
const positiveInt = (what: string) => positive(what).int(`${what} must be a whole number`);

// ------------------------------------------------------------------------------------------------ v1

const LinkProfileSchema = z
  .object({
    busBandwidthGBps: bandwidth('busBandwidthGBps'),
    p2pGBps: bandwidth('p2pGBps').optional(),
    /** Per-step latency α of a collective (as ClusterSpec's latencyUs), µs. */
    latencyUs: latency('latencyUs').optional(),
  })
  .strict();

/** v1: forward (and backward) time of one layer type per sample at TP 1, measured at `seqLen`. */
const V1LayerTimeSchema = z
  .object({
    seqLen: positiveInt('seqLen'),
    forwardMsPerSample: positive('forwardMsPerSample'),
    /** Defaults to 2 × forward (Galvatron's convention). */
    backwardMsPerSample: positive('backwardMsPerSample').optional(),
  })
  .strict();

export const ProfileV1Schema = z
  .object({
    format: z.literal(PROFILE_FORMAT_V1),
    device: z.string().optional(),
    precision: z.enum(['bf16', 'fp16', 'fp32']).optional(),
    layerTypes: z.record(z.string(), V1LayerTimeSchema).default({}),
    embeddingHead: V1LayerTimeSchema.optional(),
    intraNode: LinkProfileSchema.optional(),
    interNode: LinkProfileSchema.optional(),
    overlapSlowdown: z.number({ error: 'overlapSlowdown must be a number' }).min(1, 'overlapSlowdown must be ≥ 1 (overlap only slows compute)').max(3, 'overlapSlowdown must be ≤ 3').optional(),
  })
  .strict();

export type ProfileV1 = z.output<typeof ProfileV1Schema>;

// ------------------------------------------------------------------------------------------------ v2

/** time(b) = fixedS + perSampleS·b for a micro-batch of b samples: the fixed part is launches and Python. */
const TimeFitSchema = z
  .object({
    fixedS: nonNegative('fixedS'),
    perSampleS: nonNegative('perSampleS'),
  })
  .strict();

/** One measured micro-batch size: the whole micro-batch's forward and backward time on one rank. */
const TimePointSchema = z
  .object({
    microBatch: positiveInt('microBatch'),
    forwardS: positive('forwardS'),
    backwardS: positive('backwardS'),
  })
  .strict();

/** The executor's accounted memory of the unit under this variant (memory.py). */
const UnitMemorySchema = z
  .object({
    modelStateBytes: nonNegative('modelStateBytes'),
    activationBytesPerSample: nonNegative('activationBytesPerSample'),
  })
  .strict();

/**
 * One way of running the unit: its TP degree, sequence parallelism and recomputation. At TP > 1 the
 * times include the unit's TP collectives (they ran). `points` are ascending in micro-batch; without
 * points the fit alone is the unit's time law (v1 and hand-written profiles).
 */
const VariantSchema = z
  .object({
    tp: positiveInt('tp'),
    sequenceParallel: z.boolean().default(false),
    recompute: z.enum(RECOMPUTE_KINDS).default('none'),
    points: z.array(TimePointSchema).default([]),
    fit: z.object({ forward: TimeFitSchema, backward: TimeFitSchema }).strict(),
    memory: UnitMemorySchema.optional(),
  })
  .strict()
  .superRefine((variant, ctx) => {
    variant.points.forEach((p, i) => {
      if (i > 0 && p.microBatch <= variant.points[i - 1]!.microBatch) {
        ctx.addIssue({ code: 'custom', path: ['points', i, 'microBatch'], message: 'points must be in ascending micro-batch order, each size once' });
      }
    });
  });

/** A layer type (or the embedding, or the head) measured at `seqLen` tokens per sample. */
const UnitProfileSchema = z
  .object({
    seqLen: positiveInt('seqLen'),
    variants: z.array(VariantSchema).min(1, 'variants must hold at least one entry'),
  })
  .strict()
  .superRefine((unit, ctx) => {
    const seen = new Set<string>();
    unit.variants.forEach((v, i) => {
      const key = variantKey(v);
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['variants', i], message: `${key} is given twice` });
      seen.add(key);
    });
  });

export const COLLECTIVE_KINDS = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'p2p'] as const;
export type ProfiledCollectiveKind = (typeof COLLECTIVE_KINDS)[number];

/**
 * One collective on groups of `groupSize` adjacent ranks, with its α–β fit in the bus-bandwidth
 * convention of src/hardware/collectives.ts: time = alphaUs·1e-6 + factor·bytes / (busBandwidthGBps·1e9),
 * factor 2(n−1)/n for all-reduce, (n−1)/n for all-gather, reduce-scatter and all-to-all, 1 for p2p.
 * `bytes` is the whole buffer (all-reduced tensor, gathered output, scattered input, one p2p message).
 */
const CollectiveSchema = z
  .object({
    kind: z.enum(COLLECTIVE_KINDS),
    groupSize: positiveInt('groupSize').min(2, 'groupSize must be ≥ 2'),
    points: z.array(z.object({ bytes: positiveInt('bytes'), timeS: positive('timeS') }).strict()).default([]),
    /** Latency of the whole collective (the fit's intercept), µs. */
    alphaUs: latency('alphaUs'),
    busBandwidthGBps: bandwidth('busBandwidthGBps'),
    /** Emulated with other collectives (the backend lacks it). */
    emulated: z.boolean().optional(),
  })
  .strict();

const MachineSchema = z
  .object({
    hostname: z.string(),
    device: z.enum(['cpu', 'cuda']),
    deviceName: z.string(),
    torchVersion: z.string(),
    backend: z.string().nullable().optional(),
    ranks: positiveInt('ranks'),
    /** The executor's compute type: float32, float64 or bf16. */
    dtype: z.string(),
    threadsPerRank: positiveInt('threadsPerRank').optional(),
    python: z.string().optional(),
    /** When the profile was taken (ISO 8601). */
    date: z.string(),
    quick: z.boolean().optional(),
    wallTimeS: nonNegative('wallTimeS').optional(),
  })
  .strict();

/** The model whose layers were measured (a profile is valid for layers of this shape). */
const ProfiledModelSchema = z
  .object({
    name: z.string(),
    family: z.string(),
    hidden: positiveInt('hidden'),
    heads: positiveInt('heads'),
    kvHeads: positiveInt('kvHeads'),
    ffnHidden: positiveInt('ffnHidden'),
    vocab: positiveInt('vocab'),
    seqLen: positiveInt('seqLen'),
  })
  .strict();

export const ProfileV2Schema = z
  .object({
    format: z.literal(PROFILE_FORMAT),
    /** Where it was measured (always written by `galvatron profile`). */
    machine: MachineSchema.optional(),
    model: ProfiledModelSchema.optional(),
    /** Free text for people (v1's `device`). */
    description: z.string().optional(),
    precision: z.enum(['bf16', 'fp16', 'fp32']).optional(),
    /** Keyed by layer type id ("decoder", "encoder", …). */
    layerTypes: z.record(z.string(), UnitProfileSchema).default({}),
    /** Input embedding alone (first stage). */
    embedding: UnitProfileSchema.optional(),
    /** Final norm, logits and loss (last stage). */
    head: UnitProfileSchema.optional(),
    /** Embedding and head measured together (v1, Galvatron's layertype_other): priced on the head. */
    embeddingHead: UnitProfileSchema.optional(),
    collectives: z.array(CollectiveSchema).default([]),
    /** Link figures that replace the cluster's (derived from the collectives by `galvatron profile`). */
    intraNode: LinkProfileSchema.optional(),
    interNode: LinkProfileSchema.optional(),
    /** The raw overlap measurement behind overlapSlowdown. */
    overlap: z.object({ computeS: positive('computeS'), commS: positive('commS'), overlappedS: positive('overlappedS') }).strict().optional(),
    /** λ of src/cost/overlap.ts. */
    overlapSlowdown: z.number().min(1, 'overlapSlowdown must be ≥ 1').max(3, 'overlapSlowdown must be ≤ 3').optional(),
    /**
     * The executor's optimizer step (gradient norm for clipping, then Adam) on `parameters` parameters of one
     * rank, all ranks at once: the cost model's memory-bound kernels reach the bandwidth it implies.
     */
    optimizer: z.object({ parameters: positiveInt('parameters'), stepS: positive('stepS') }).strict().optional(),
  })
  .strict();

/** A profile in the v2 form, whatever file it came from: what the cost model reads. */
export type Profile = z.output<typeof ProfileV2Schema>;
export type ProfileInput = z.input<typeof ProfileV2Schema>;
export type UnitProfile = z.output<typeof UnitProfileSchema>;
export type ProfileVariant = z.output<typeof VariantSchema>;
export type TimeFit = z.output<typeof TimeFitSchema>;
export type TimePoint = z.output<typeof TimePointSchema>;
export type ProfiledCollective = z.output<typeof CollectiveSchema>;
export type LinkProfile = z.output<typeof LinkProfileSchema>;
export type ProfileMachine = z.output<typeof MachineSchema>;

/** "tp2 sp, full recompute" (or "tp1"): how notes and errors name a variant. */
export function variantKey(v: Pick<ProfileVariant, 'tp' | 'sequenceParallel' | 'recompute'>): string {
  return `tp${v.tp}${v.sequenceParallel ? ' sp' : ''}${v.recompute === 'none' ? '' : `, ${v.recompute} recompute`}`;
}

/** v1 → v2: per-sample times at TP 1 become a variant whose law is time = perSample·b (no points). */
export function profileFromV1(v1: ProfileV1): Profile {
  const unit = (entry: z.output<typeof V1LayerTimeSchema>): UnitProfile => ({
    seqLen: entry.seqLen,
    variants: [
      {
        tp: 1,
        sequenceParallel: false,
        recompute: 'none',
        points: [],
        fit: {
          forward: { fixedS: 0, perSampleS: entry.forwardMsPerSample / 1e3 },
          backward: { fixedS: 0, perSampleS: (entry.backwardMsPerSample ?? 2 * entry.forwardMsPerSample) / 1e3 },
        },
      },
    ],
  });
  const profile: Profile = {
    format: PROFILE_FORMAT,
    layerTypes: Object.fromEntries(Object.entries(v1.layerTypes).map(([id, entry]) => [id, unit(entry)])),
    collectives: [],
  };
  if (v1.device !== undefined) profile.description = v1.device;
  if (v1.precision !== undefined) profile.precision = v1.precision;
  if (v1.embeddingHead) profile.embeddingHead = unit(v1.embeddingHead);
  if (v1.intraNode) profile.intraNode = v1.intraNode;
  if (v1.interNode) profile.interNode = v1.interNode;
  if (v1.overlapSlowdown !== undefined) profile.overlapSlowdown = v1.overlapSlowdown;
  return profile;
}
