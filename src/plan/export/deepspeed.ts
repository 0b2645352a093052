// Export to DeepSpeed: a config JSON, and the Megatron-DeepSpeed launch arguments that must agree with it
// for TP and PP (names and rules: shared/reference/engine-formats.md §2). DeepSpeed runs one ZeRO stage for
// the whole model, only stages 0–1 under its pipeline engine, one TP degree, no CP or interleaving, an
// even split of the layers over the stages, and recomputes every layer or none.
import { strategyGpus, type LayerStrategy, type RecomputeKind } from '../../strategy/layer-strategy.js';
import type { Plan } from '../schema.js';
import { exportResult, layersText, modal, type ExportResult } from './adapt.js';
import { evenLayerRanges } from '../../cost/uniform-plan.js';

const ZERO_STAGE: Record<LayerStrategy['dpType'], number> = { ddp: 0, zero1: 1, zero2: 2, zero3: 3 };

export function exportDeepSpeed(plan: Plan): ExportResult {
  const differences: string[] = [];
  const L = plan.layers.length;
  const gpusPerStage = strategyGpus(plan.embedding);
  const pp = plan.pipeline.degree;
  const layout = modal(plan.layers, (s) => `${s.tp}/${s.sequenceParallel && s.tp > 1}/${s.dpType}`);
  const base = layout.value;
  if (layout.count < L) differences.push(`layout: DeepSpeed runs one TP degree and one ZeRO stage for every layer; ${layersText(L - layout.count)} of ${L} use another, exported as tp ${base.tp}, ${base.dpType}`);
  if (plan.layers.some((s) => s.cp > 1) || plan.embedding.cp > 1) differences.push('context parallelism: DeepSpeed has none (Ulysses splits differently); exported with cp 1, its ranks added to DP');
  if (plan.layers.some((s) => !s.tpConsecutive)) differences.push('rank order: exported with TP on adjacent ranks (Megatron-DeepSpeed\'s order)');
  let dpType = base.dpType;
  if (pp > 1 && ZERO_STAGE[dpType] > 1) {
    differences.push(`ZeRO under pipelining: DeepSpeed's pipeline engine allows stage 0 or 1 only; ${dpType} exported as ZeRO-1`);
    dpType = 'zero1';
  }
  const sp = base.sequenceParallel && base.tp > 1;
  // Recompute: every layer or none (the pipeline engine honours only the uniform method).
  const kinds = plan.layers.map((s) => s.recompute);
  let recompute: RecomputeKind = 'none';
  if (kinds.some((k) => k !== 'none')) {
    recompute = 'full';
    if (!kinds.every((k) => k === 'full')) differences.push(`recompute: Megatron-DeepSpeed recomputes whole layers, all of them; the plan recomputes ${layersText(kinds.filter((k) => k !== 'none').length)} (${kinds.includes('selective') ? 'some selectively' : 'not all'}), exported as full on every layer`);
  }
  const { virtualStages, chunks } = plan.pipeline;
  const even = evenLayerRanges(L, pp);
  const exactSplit = virtualStages === 1 && chunks.every((c, i) => c.start === even[i]!.start && c.end === even[i]!.end);
  if (!exactSplit) {
    differences.push(
      virtualStages > 1
        ? `interleaving: DeepSpeed has no interleaved schedule; ${pp} stages × ${virtualStages} chunks exported as ${pp} even stages`
        : `stage split: DeepSpeed balances layers over stages itself (partition_method type:transformer); exported as ${pp} even stages`,
    );
  }
  const dp = gpusPerStage / base.tp;
  const microBatch = plan.training.globalBatch / plan.training.microBatches / dp;
  const strategy = (r: RecomputeKind): LayerStrategy => ({ tp: base.tp, sequenceParallel: sp, cp: 1, dp, dpType, recompute: r, tpConsecutive: true });
  const exported: Plan =
    differences.length === 0
      ? plan
      : {
          ...plan,
          embedding: strategy('none'),
          layers: plan.layers.map(() => strategy(recompute)),
          pipeline: { degree: pp, schedule: plan.pipeline.schedule === 'gpipe' ? 'gpipe' : '1f1b', virtualStages: 1, chunks: even },
        };
  const precision = plan.training.precision;
  const config: Record<string, unknown> = {
    train_batch_size: plan.training.globalBatch,
    train_micro_batch_size_per_gpu: microBatch,
    gradient_accumulation_steps: plan.training.microBatches,
    gradient_clipping: 1.0,
    zero_optimization: {
      stage: ZERO_STAGE[dpType],
      ...(ZERO_STAGE[dpType] > 0 ? { overlap_comm: true } : {}),
      ...(ZERO_STAGE[dpType] >= 2 ? { contiguous_gradients: true } : {}),
    },
    ...(precision === 'bf16' ? { bf16: { enabled: true } } : {}),
    ...(precision === 'fp16' ? { fp16: { enabled: true, loss_scale: 0 } } : {}),
    ...(plan.training.fp32MainGrads && precision !== 'fp32' ? { communication_data_type: 'fp32' } : {}),
    ...(recompute === 'full' ? { activation_checkpointing: { partition_activations: false, contiguous_memory_optimization: false, cpu_checkpointing: false } } : {}),
  };
  // Megatron-DeepSpeed's flags must agree with the JSON (batch sizes, ZeRO stage).
  const launch = [
    '--deepspeed', '--deepspeed_config', 'ds_config.json',
    '--tensor-model-parallel-size', String(base.tp),
    '--pipeline-model-parallel-size', String(pp),
    ...(pp === 1 ? ['--no-pipeline-parallel'] : []),
    ...(sp ? ['--sequence-parallel'] : []),
    '--zero-stage', String(ZERO_STAGE[dpType]),
    '--micro-batch-size', String(microBatch),
    '--global-batch-size', String(plan.training.globalBatch),
    ...(recompute === 'full' ? ['--checkpoint-activations', '--checkpoint-num-layers', '1'] : []),
    ...(precision === 'bf16' ? ['--bf16'] : precision === 'fp16' ? ['--fp16'] : []),
  ];
  const content = {
    ds_config: config,
    megatron_deepspeed_args: launch,
    ...(differences.length > 0 ? { differences } : {}),
  };
  return exportResult('deepspeed', plan, exported, `${JSON.stringify(content, null, 2)}\n`, 'ds_config.json', differences);
}
