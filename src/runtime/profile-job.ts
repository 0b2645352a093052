// What `galvatron profile` asks the Python profiler (python/galvatron_runtime/profiler.py) to measure,
// and how it starts it: the model's layer variants (TP degrees the ranks allow, SP, recompute), the
// micro-batch sizes, the collectives and their sizes. Everything is decided here, so the Python side
// only runs what the job lists.
import { resolve } from 'node:path';
import { UserInputError } from '../errors.js';
import { ffnHiddenOf, layerGroups } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { COLLECTIVE_KINDS, type ProfiledCollectiveKind } from '../profile/schema.js';
import { RECOMPUTE_KINDS, type RecomputeKind } from '../strategy/layer-strategy.js';
import type { Device, Dtype } from './launch.js';

const KIB = 1024;
const MIB = 1024 * KIB;
/** Families the executor runs (python/galvatron_runtime/plan.py). */
const EXECUTOR_FAMILIES = ['gpt', 'llama', 'bert'];

export interface ProfileJobOptions {
  model: ModelSpec;
  device: Device;
  dtype: Dtype;
  ranks: number;
  quick: boolean;
  /** Largest micro-batch size to measure (default: by the mode and the tokens per micro-batch). */
  maxMicroBatch?: number;
  seed?: number;
}

export interface LayerVariantJob {
  tp: number;
  sequenceParallel: boolean;
  recompute: RecomputeKind;
}

export interface ProfileJob {
  /** The model in the plan's form, as the executor reads it. */
  model: Record<string, unknown>;
  seqLen: number;
  device: Device;
  dtype: Dtype;
  seed: number;
  microBatches: number[];
  layerVariants: LayerVariantJob[];
  endVariants: { tp: number; sequenceParallel: boolean }[];
  /** Warm-up and timed runs per point in each sweep; every point is measured in each of `sweeps` sweeps. */
  warmup: number;
  repeats: number;
  sweeps: number;
  collectives: { kinds: ProfiledCollectiveKind[]; groupSizes: number[]; sizes: number[] };
  overlap: boolean;
  /** Time the executor's optimizer step. */
  optimizer: boolean;
  /**
   * Samples each timed run covers at least: copies of a small micro-batch run back to back, as in a step
   * (and that many optimizer steps); the times are per copy. A lone run of one small micro-batch is
   * shorter than a scheduler time slice, so CPU ranks sharing cores timed it 2.5× too fast per sample.
   */
  window: number;
}

const powersOfTwoUpTo = (n: number): number[] => {
  const out: number[] = [];
  for (let p = 1; p <= n; p *= 2) out.push(p);
  return out;
};

/** The layer type the executor's model has (one per executor family). */
export function executorLayerType(model: ModelSpec): string {
  return layerGroups(model)[0]!.shape.typeId;
}

/** Refuses models the executor cannot run, naming the field. */
export function checkProfilable(model: ModelSpec): void {
  if (!EXECUTOR_FAMILIES.includes(model.family)) {
    throw new UserInputError('model', `the executor runs ${EXECUTOR_FAMILIES.join(', ')} models and "${model.name}" is ${model.family}; profile a model of those families`);
  }
  if (model.positional === 'alibi') throw new UserInputError('model', `"${model.name}" uses ALiBi positions, which the executor does not run; profile a learned- or RoPE-position model`);
  if (model.hidden % model.heads !== 0) throw new UserInputError('model', `hidden ${model.hidden} is not divisible by heads ${model.heads}`);
}

/** TP degrees to measure: powers of two up to the ranks that divide the ranks, the heads and the FFN. */
export function profileTpDegrees(model: ModelSpec, ranks: number): number[] {
  const kv = model.kvHeads ?? model.heads;
  const ffn = ffnHiddenOf(model);
  return powersOfTwoUpTo(ranks).filter((t) => ranks % t === 0 && model.heads % t === 0 && kv % t === 0 && ffn % t === 0);
}

/** Micro-batch sizes 1, 2, 4, …: up to 8 (quick) or 32, at most `max` and a token budget per micro-batch (at least 1 and 2). */
export function profileMicroBatches(seqLen: number, quick: boolean, max?: number): number[] {
  const limit = max ?? (quick ? 8 : 32);
  const tokens = quick ? 16384 : 65536;
  return powersOfTwoUpTo(limit).filter((b, i) => i < 2 || b * seqLen <= tokens);
}

/** Buffer sizes of the collectives: 1 KiB … 256 MiB by ×4, or 1 KiB … 4 MiB by ×16 (quick). */
export function collectiveSizes(quick: boolean): number[] {
  const out: number[] = [];
  for (let b = KIB; b <= (quick ? 4 * MIB : 256 * MIB); b *= quick ? 16 : 4) out.push(b);
  return out;
}

/**
 * Runs per point. A GPU rank has its device to itself: one sweep of 2 warm-up and 5 timed runs (1 warm-up
 * with --quick). CPU ranks share the cores with each other and with whatever else runs, whose load comes
 * and goes over minutes: 4 sweeps (2 with --quick) of 1 warm-up and 2 timed runs, so each point's median
 * draws on the whole profile's duration.
 */
export function repetitions(device: Device, quick: boolean): { warmup: number; repeats: number; sweeps: number } {
  if (device === 'cpu') return { warmup: 1, repeats: 2, sweeps: quick ? 2 : 4 };
  return { warmup: quick ? 1 : 2, repeats: 5, sweeps: 1 };
}

/**
 * The run window: 8 samples (a few layers of micro-batches in a step), never more than the largest
 * micro-batch measured, so the copies' activations fit wherever the largest point does.
 */
export function profileWindow(microBatches: readonly number[]): number {
  return Math.min(8, Math.max(1, ...microBatches));
}

export function profileJob(o: ProfileJobOptions): ProfileJob {
  checkProfilable(o.model);
  const m = o.model;
  const seqLen = m.seqLen;
  const tps = profileTpDegrees(m, o.ranks);
  const spChoices = (t: number) => (t > 1 && seqLen % t === 0 ? [false, true] : [false]);
  const layerVariants: LayerVariantJob[] = [];
  for (const tp of tps) {
    for (const sp of spChoices(tp)) {
      // Quick: sequence parallelism only without recomputation (the other SP variants fall back to non-SP ones).
      const kinds: readonly RecomputeKind[] = o.quick && sp ? ['none'] : RECOMPUTE_KINDS;
      for (const recompute of kinds) layerVariants.push({ tp, sequenceParallel: sp, recompute });
    }
  }
  const endVariants = tps.filter((t) => m.vocab % t === 0).flatMap((tp) => spChoices(tp).map((sp) => ({ tp, sequenceParallel: sp })));
  const groupSizes = powersOfTwoUpTo(o.ranks).filter((n) => n > 1 && o.ranks % n === 0);
  const microBatches = profileMicroBatches(seqLen, o.quick, o.maxMicroBatch);
  return {
    model: {
      name: m.name,
      family: m.family,
      layers: m.layers,
      hidden: m.hidden,
      heads: m.heads,
      kvHeads: m.kvHeads ?? m.heads,
      ffnHidden: ffnHiddenOf(m),
      ffnType: m.ffnType,
      vocab: m.vocab,
      seqLen,
      tiedEmbeddings: m.tiedEmbeddings,
      positional: m.positional,
    },
    seqLen,
    device: o.device,
    dtype: o.dtype,
    seed: o.seed ?? 0,
    microBatches,
    layerVariants,
    endVariants,
    ...repetitions(o.device, o.quick),
    collectives: { kinds: [...COLLECTIVE_KINDS], groupSizes, sizes: collectiveSizes(o.quick) },
    overlap: o.ranks > 1,
    optimizer: true,
    window: profileWindow(microBatches),
  };
}

/** torchrun's arguments for the profiler on one machine. */
export function profilerTorchrunArgs(ranks: number, jobPath: string): string[] {
  return ['-m', 'torch.distributed.run', '--standalone', '--nnodes', '1', '--nproc-per-node', String(ranks), '-m', 'galvatron_runtime.profiler', '--job', resolve(jobPath)];
}
