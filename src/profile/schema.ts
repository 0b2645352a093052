// Measured profile (galvatron.profile/v1): numbers that replace the analytic model's where they exist.
import { z } from 'zod';

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);

const LinkProfileSchema = z
  .object({
    busBandwidthGBps: positive('busBandwidthGBps'),
    p2pGBps: positive('p2pGBps').optional(),
    latencyUs: z.number().nonnegative().optional(),
  })
  .strict();

/** Forward (and backward) time of one layer type per sample at TP 1, measured at `seqLen`. */
const LayerTimeProfileSchema = z
  .object({
    seqLen: z.number().int().positive(),
    forwardMsPerSample: positive('forwardMsPerSample'),
    /** Defaults to 2 × forward (Galvatron's convention). */
    backwardMsPerSample: positive('backwardMsPerSample').optional(),
  })
  .strict();

export const ProfileSchema = z
  .object({
    format: z.literal('galvatron.profile/v1'),
    /** What was measured, for people: GPU name, software versions. */
    device: z.string().optional(),
    precision: z.enum(['bf16', 'fp16', 'fp32']).optional(),
    /** Keyed by layer type id ("decoder", "encoder", "t5-decoder", "swin-s2", …). */
    layerTypes: z.record(z.string(), LayerTimeProfileSchema).default({}),
    /** Embedding and head together, per sample at TP 1. */
    embeddingHead: LayerTimeProfileSchema.optional(),
    intraNode: LinkProfileSchema.optional(),
    interNode: LinkProfileSchema.optional(),
    overlapSlowdown: z.number().min(1).max(3).optional(),
  })
  .strict();

export type Profile = z.output<typeof ProfileSchema>;
export type LayerTimeProfile = z.output<typeof LayerTimeProfileSchema>;
