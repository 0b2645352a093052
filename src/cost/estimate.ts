// `galvatron estimate`: price one hand-given uniform configuration and report it (DESIGN.md §3).
import type { ClusterSpec } from '../hardware/spec.js';
import { parameterCounts } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { profileNotes, termSources, type TermSource } from '../profile/coverage.js';
import { loadCostConstants } from './constants.js';
import { pricePlan, type PlanCost, type PlanInput } from './plan-cost.js';
import type { CostConstants } from './types.js';
import { uniformPlanInput, type UniformConfig } from './uniform-plan.js';

const GIB = 1024 ** 3;

export interface EstimateStageReport {
  index: number;
  layers: { start: number; end: number }[];
  forwardS: number;
  backwardS: number;
  gradientSyncS: number;
  parameterGatherS: number;
  p2pS: number;
  optimizerS: number;
  inFlightMicroBatches: number;
  memoryGiB: number;
  memory: { modelStatesGiB: number; activationsGiB: number; transientGiB: number; fixedGiB: number };
}

/** The `--json` object of `galvatron estimate`. */
export interface EstimateReport {
  model: string;
  cluster: string;
  gpus: number;
  /** The configuration as priced (SP dropped at TP 1; the profile named, not inlined). */
  config: Omit<UniformConfig, 'profile'> & { dp: number; microBatches: number; attention: string; seqLen: number; profiled: boolean };
  iterationTimeS: number;
  samplesPerS: number;
  tokensPerSPerGpu: number;
  tflopsPerGpu: number;
  mfu: number;
  parameters: number;
  memoryPerGpuGiB: number;
  memoryBudgetGiB: number;
  fits: boolean;
  stages: EstimateStageReport[];
  breakdown: Record<string, number>;
  /** Where each breakdown term comes from: the profile, the analytic model, or both. */
  source: Record<string, TermSource>;
  /** How the profile was used: extrapolated micro-batch sizes, stand-in variants, what stayed analytic. */
  profileNotes: string[];
}

export interface Estimate {
  input: PlanInput;
  cost: PlanCost;
  report: EstimateReport;
}

/** Contiguous runs of layer indices, e.g. [0,1,2,7,8] → [{0,3},{7,9}]. */
export function layerRuns(layers: number[]): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  for (const l of layers) {
    const last = runs[runs.length - 1];
    if (last && last.end === l) last.end = l + 1;
    else runs.push({ start: l, end: l + 1 });
  }
  return runs;
}

function withoutProfile(config: UniformConfig): Omit<UniformConfig, 'profile'> {
  const { profile: _profile, ...rest } = config;
  return rest;
}

export function estimate(model: ModelSpec, cluster: ClusterSpec, config: UniformConfig, constants: CostConstants = loadCostConstants()): Estimate {
  const input = uniformPlanInput(model, cluster, config, constants);
  const cost = pricePlan(input);
  const strategy = input.strategies[0]!;
  const report: EstimateReport = {
    model: model.name,
    cluster: cluster.name,
    gpus: cost.totalGpus,
    config: {
      ...withoutProfile(config),
      sequenceParallel: strategy.sequenceParallel,
      dp: strategy.dp,
      microBatches: input.setup.microBatches,
      attention: input.setup.attention,
      seqLen: input.setup.seqLen,
      profiled: config.profile !== undefined,
    },
    iterationTimeS: cost.iterationTimeS,
    samplesPerS: cost.samplesPerS,
    tokensPerSPerGpu: cost.tokensPerSPerGpu,
    tflopsPerGpu: cost.tflopsPerGpu,
    mfu: cost.mfu,
    parameters: parameterCounts(model).total,
    memoryPerGpuGiB: cost.memoryPerGpuBytes / GIB,
    memoryBudgetGiB: cost.memoryBudgetBytes / GIB,
    fits: cost.fits,
    stages: cost.stages.map((s) => ({
      index: s.index,
      layers: layerRuns(s.layers),
      forwardS: s.forwardS,
      backwardS: s.backwardS,
      gradientSyncS: s.gradientSyncS,
      parameterGatherS: s.parameterGatherS,
      p2pS: s.p2pS,
      optimizerS: s.optimizerS,
      inFlightMicroBatches: s.memory.inFlightMicroBatches,
      memoryGiB: s.memory.totalBytes / GIB,
      memory: {
        modelStatesGiB: s.memory.modelStateBytes / GIB,
        activationsGiB: s.memory.activationBytes / GIB,
        transientGiB: s.memory.transientBytes / GIB,
        fixedGiB: s.memory.fixedBytes / GIB,
      },
    })),
    breakdown: cost.breakdown,
    source: termSources(input, cost.breakdown),
    profileNotes: profileNotes(input),
  };
  return { input, cost, report };
}
