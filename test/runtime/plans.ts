// Plans for the executor tests, made by the library itself (as `galvatron estimate -o` would write them):
// uniform configurations, and per-layer heterogeneous ones re-priced by the cost model.
import { fileURLToPath } from 'node:url';
import { pricePlan, type LayerRange, type PlanInput } from '../../src/cost/plan-cost.js';
import { uniformPlanInput, type UniformConfig } from '../../src/cost/uniform-plan.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { planFromCost } from '../../src/plan/from-cost.js';
import type { Plan } from '../../src/plan/schema.js';
import type { LayerStrategy } from '../../src/strategy/layer-strategy.js';

export const TINY_GPT = fileURLToPath(new URL('../../../examples/tiny-gpt.json', import.meta.url));
export const TINY_LLAMA = fileURLToPath(new URL('../../../examples/tiny-llama.json', import.meta.url));
export const TINY_VIT = fileURLToPath(new URL('../../../examples/tiny-vit.json', import.meta.url));
export const TINY_T5 = fileURLToPath(new URL('../../../examples/tiny-t5.json', import.meta.url));
export const TINY_SWIN = fileURLToPath(new URL('../../../examples/tiny-swin.json', import.meta.url));

export type PlanConfig = Partial<UniformConfig> & { model?: string; gpus?: number; layers?: Partial<LayerStrategy>[]; chunks?: LayerRange[] };

/**
 * Swin on PP 2, its layers' strategies all different (tiny-swin: patch merging in layers 2 and 4, so a
 * merge at the stage boundary and one inside stage 1): tp2 sp / tp1 zero3 | tp4 sp / tp2 zero1 selective
 * / tp4 sp full recompute / tp2 strided zero2; embedding tp2 sp. The equivalence and memory matrices both
 * run it.
 */
export const SWIN_PP2_MIXED: PlanConfig = {
  model: TINY_SWIN,
  pp: 2,
  tp: 2,
  sequenceParallel: true,
  microBatch: 2,
  chunks: [
    { start: 0, end: 2 },
    { start: 2, end: 6 },
  ],
  layers: [
    { tp: 2, dp: 2, sequenceParallel: true },
    { tp: 1, dp: 4, sequenceParallel: false, dpType: 'zero3' },
    { tp: 4, dp: 1, sequenceParallel: true },
    { tp: 2, dp: 2, sequenceParallel: false, dpType: 'zero1', recompute: 'selective' },
    { tp: 4, dp: 1, sequenceParallel: true, recompute: 'full' },
    { tp: 2, dp: 2, sequenceParallel: false, tpConsecutive: false, dpType: 'zero2' },
  ],
};

/** A plan for `gpus` ranks (8 by default) on the tiny GPT; `layers` overrides per-layer fields, `chunks` the stages' layer ranges. */
export function tinyPlan(config: PlanConfig = {}): Plan {
  const model = loadModel(config.model ?? TINY_GPT);
  const cluster = loadCluster('dgx-a100-80g', config.gpus ?? 8);
  const uniform: UniformConfig = {
    globalBatch: 16,
    microBatch: 1,
    tp: 1,
    pp: 1,
    cp: 1,
    vpp: 1,
    dpType: 'ddp',
    recompute: 'none',
    sequenceParallel: false,
    precision: 'fp32',
    schedule: '1f1b',
    ...Object.fromEntries(Object.entries(config).filter(([k]) => !['model', 'gpus', 'layers', 'chunks'].includes(k))),
  };
  let input: PlanInput = uniformPlanInput(model, cluster, uniform);
  if (config.layers) {
    const strategies = input.strategies.map((s, i) => ({ ...s, ...(config.layers![i] ?? {}) }));
    input = { ...input, strategies };
  }
  if (config.chunks) input = { ...input, pipeline: { ...input.pipeline, chunks: config.chunks } };
  return planFromCost(model, input, pricePlan(input), 'test');
}
