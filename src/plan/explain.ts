// Why this plan: what binds each stage (memory or time), what the nearest alternatives cost, and where the
// iteration goes. Every figure is the cost model's, on plans derived from the one given.
import { pricePlan, type PlanCost } from '../cost/plan-cost.js';
import { evenLayerRanges } from '../cost/uniform-plan.js';
import type { LayerStrategy, RecomputeKind } from '../strategy/layer-strategy.js';
import type { Plan } from './schema.js';
import { planInputFromPlan } from './to-cost.js';

export interface PricedAlternative {
  name: string;
  iterationS: number;
  /** Fullest stage, bytes, and whether every stage fits its budget. */
  memoryPerGpuBytes: number;
  fits: boolean;
}

export interface StageBinding {
  stage: number;
  memoryBytes: number;
  budgetBytes: number;
  /** memory: a faster form of this stage exists but does not fit; time: nothing faster exists for it here. */
  binding: 'memory' | 'time';
  /** The faster form that does not fit, when memory binds. */
  blockedBy?: PricedAlternative;
}

export interface Explanation {
  plan: PricedAlternative;
  stages: StageBinding[];
  alternatives: PricedAlternative[];
  /** Share of the iteration by kind: compute, each kind of communication, bubble, exposed sync, optimizer. */
  shares: { kind: string; seconds: number; share: number }[];
}

/** The plan priced against the budget it was searched under (the GPU's memory less margin), not the GPU's. */
function priceAgainstBudget(plan: Plan): PlanCost {
  const input = planInputFromPlan(plan);
  return pricePlan({ ...input, cluster: { ...input.cluster, gpu: { ...input.cluster.gpu, memoryGiB: plan.predicted.memoryBudgetGiB } } });
}

/** A plan derived from the one explained; undefined when the model refuses it. */
function price(name: string, plan: Plan): PricedAlternative | undefined {
  let cost: PlanCost;
  try {
    cost = priceAgainstBudget(plan);
  } catch {
    return undefined;
  }
  return { name, iterationS: cost.iterationTimeS, memoryPerGpuBytes: cost.memoryPerGpuBytes, fits: cost.fits };
}

/** The plan with `change` applied to every layer's strategy, and to the embedding's unless `embedding` is false. */
const withLayers = (plan: Plan, change: (s: LayerStrategy, layer: number) => LayerStrategy, embedding = true): Plan => ({
  ...plan,
  embedding: embedding ? change(plan.embedding, -1) : plan.embedding,
  layers: plan.layers.map((s, i) => change(s, i)),
});

const microBatch = (plan: Plan) => plan.training.globalBatch / plan.training.microBatches;

/** Every layer's TP degree times `factor` (DP divided by it), where the model and batch allow it. */
function scaleTp(plan: Plan, factor: number): Plan | undefined {
  const m = plan.model;
  const ok = (s: LayerStrategy, vocab: boolean) => {
    const tp = s.tp * factor;
    const dp = s.dp / factor;
    if (!Number.isInteger(tp) || !Number.isInteger(dp) || tp < 1 || dp < 1 || microBatch(plan) % dp !== 0) return false;
    // The vocabulary is padded to the TP degree, as the cost model prices it; heads and FFN must split.
    return vocab || (m.heads % tp === 0 && (m.kvHeads ?? m.heads) % tp === 0 && (m.ffnHidden ?? 4 * m.hidden) % tp === 0);
  };
  if (!ok(plan.embedding, true) || !plan.layers.every((s) => ok(s, false))) return undefined;
  return withLayers(plan, (s) => ({ ...s, tp: s.tp * factor, dp: s.dp / factor }));
}

/** `pp · factor` stages, layers split evenly, each stage's GPUs (DP) scaled to keep the GPU count. */
function scalePp(plan: Plan, factor: number): Plan | undefined {
  const p = plan.pipeline.degree * factor;
  if (!Number.isInteger(p) || p < 1 || p > plan.layers.length) return undefined;
  const scaleDp = (s: LayerStrategy) => ({ ...s, dp: s.dp / factor });
  const all = [plan.embedding, ...plan.layers];
  if (!all.every((s) => Number.isInteger(s.dp / factor) && s.dp / factor >= 1 && microBatch(plan) % (s.dp / factor) === 0)) return undefined;
  const v = plan.pipeline.virtualStages > 1 && plan.training.microBatches % p === 0 && p * plan.pipeline.virtualStages <= plan.layers.length ? plan.pipeline.virtualStages : 1;
  return {
    ...withLayers(plan, scaleDp),
    pipeline: { degree: p, schedule: v > 1 ? 'interleaved-1f1b' : plan.pipeline.schedule === 'gpipe' ? 'gpipe' : '1f1b', virtualStages: v, chunks: evenLayerRanges(plan.layers.length, p * v) },
  };
}

function sameRecompute(plan: Plan, kind: RecomputeKind, layers?: Set<number>): Plan {
  return withLayers(plan, (s, i) => (!layers || layers.has(i) ? { ...s, recompute: kind } : s), false);
}

/** The layers of each stage (all its chunks). */
function stageLayers(plan: Plan): number[][] {
  const p = plan.pipeline.degree;
  return Array.from({ length: p }, (_, i) => plan.pipeline.chunks.filter((_, j) => j % p === i).flatMap((c) => Array.from({ length: c.end - c.start }, (_, k) => c.start + k)));
}

/** Costs of comparable kinds of time, from the breakdown's term names. */
function shares(cost: PlanCost): Explanation['shares'] {
  const kinds: [string, RegExp][] = [
    ['compute', /gemm|attention|elementwise|recompute|loss|host-bound|compute-profiled/],
    ['TP communication', /tp-comm/],
    ['CP communication', /cp-comm/],
    ['ZeRO-2/3 communication', /zero[23]-(comm|gather)/],
    ['re-distribution between layouts', /redistribute/],
    ['pipeline p2p', /^p2p$/],
    ['pipeline bubble', /pipeline-bubble/],
    ['exposed gradient sync', /gradient-sync-exposed/],
    ['optimizer', /^optimizer$/],
  ];
  const totals = new Map<string, number>();
  for (const [term, seconds] of Object.entries(cost.breakdown)) {
    const kind = kinds.find(([, re]) => re.test(term))?.[0] ?? 'other';
    totals.set(kind, (totals.get(kind) ?? 0) + seconds);
  }
  return [...totals].filter(([, s]) => s > 0).map(([kind, seconds]) => ({ kind, seconds, share: seconds / cost.iterationTimeS })).sort((a, b) => b.seconds - a.seconds);
}

export function explainPlan(plan: Plan): Explanation {
  const cost = priceAgainstBudget(plan);
  const self: PricedAlternative = { name: 'this plan', iterationS: cost.iterationTimeS, memoryPerGpuBytes: cost.memoryPerGpuBytes, fits: cost.fits };
  const candidates: [string, Plan | undefined][] = [
    ['TP × 2 on every layer (DP ÷ 2)', scaleTp(plan, 2)],
    ['TP ÷ 2 on every layer (DP × 2)', scaleTp(plan, 0.5)],
    ['PP × 2 (even stages)', scalePp(plan, 2)],
    ['PP ÷ 2 (even stages)', scalePp(plan, 0.5)],
    ['recompute off everywhere', plan.layers.some((s) => s.recompute !== 'none') ? sameRecompute(plan, 'none') : undefined],
    ['selective recompute everywhere', plan.layers.some((s) => s.recompute !== 'selective') ? sameRecompute(plan, 'selective') : undefined],
    ['full recompute everywhere', plan.layers.some((s) => s.recompute !== 'full') ? sameRecompute(plan, 'full') : undefined],
    ['even partition of the layers', plan.pipeline.degree > 1 ? { ...plan, pipeline: { ...plan.pipeline, chunks: evenLayerRanges(plan.layers.length, plan.pipeline.chunks.length) } } : undefined],
  ];
  const alternatives = candidates.flatMap(([name, p]) => {
    if (!p || JSON.stringify(p.pipeline) + JSON.stringify(p.layers) === JSON.stringify(plan.pipeline) + JSON.stringify(plan.layers)) return [];
    const priced = price(name, p);
    return priced ? [priced] : [];
  });
  // What binds each stage: its layers without recompute, or on plain DDP (less communication, more memory).
  const stages = stageLayers(plan).map((layers, i): StageBinding => {
    const set = new Set(layers);
    const faster = [
      price(`stage ${i} without recompute`, sameRecompute(plan, 'none', set)),
      price(`stage ${i} on DDP (no ZeRO)`, withLayers(plan, (s, l) => (set.has(l) ? { ...s, dpType: 'ddp' } : s), false)),
    ].filter((a): a is PricedAlternative => a !== undefined && a.iterationS < cost.iterationTimeS * (1 - 1e-9));
    const blockedBy = faster.filter((a) => !a.fits).sort((a, b) => a.iterationS - b.iterationS)[0];
    const memory = cost.stages[i]!.memory.totalBytes;
    return { stage: i, memoryBytes: memory, budgetBytes: cost.memoryBudgetBytes, binding: blockedBy ? 'memory' : 'time', ...(blockedBy ? { blockedBy } : {}) };
  });
  return { plan: self, stages, alternatives, shares: shares(cost) };
}
