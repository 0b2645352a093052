// Export to Galvatron's runtime JSON (keys and rules: shared/reference/engine-formats.md §4 and
// galvatron-formats.md). Galvatron plans per layer too, so most plans map one to one. What it lacks:
// ZeRO-1, per-layer DP types other than ZeRO-3 against one default, selective recompute, interleaving,
// DP-adjacent rank order, and Megatron SP chosen per layer (one YAML switch).
import { strategyGpus, type LayerStrategy, type RecomputeKind } from '../../strategy/layer-strategy.js';
import { planWorldSize } from '../validate.js';
import type { Plan } from '../schema.js';
import { exportResult, layersText, modal, type ExportResult } from './adapt.js';

const list = (values: (number | boolean)[]) => values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v)).join(',');

export function exportGalvatron(plan: Plan): ExportResult {
  const differences: string[] = [];
  const L = plan.layers.length;
  // Layers not on ZeRO-3 share default_dp_type (ddp or zero2; Galvatron has no ZeRO-1: zero2 is closest,
  // the same communication per iteration as ZeRO-1 and less memory).
  const others = plan.layers.filter((s) => s.dpType !== 'zero3');
  const galvatronType = (t: LayerStrategy['dpType']) => (t === 'zero1' ? 'zero2' : t);
  const defaultType = others.length > 0 ? galvatronType(modal(others, (s) => s.dpType).value.dpType) : 'ddp';
  if (plan.layers.some((s) => s.dpType === 'zero1')) differences.push(`ZeRO-1: Galvatron has none; ${layersText(plan.layers.filter((s) => s.dpType === 'zero1').length)} exported as ZeRO-2`);
  const mismatched = others.filter((s) => galvatronType(s.dpType) !== defaultType).length;
  if (mismatched > 0) differences.push(`DP type: the layers not on ZeRO-3 share one default_dp_type; ${layersText(mismatched)} exported as ${defaultType}`);
  const selective = plan.layers.filter((s) => s.recompute === 'selective').length;
  if (selective > 0) differences.push(`recompute: Galvatron recomputes whole layers only; ${layersText(selective)} with selective recompute exported as full`);
  if (plan.layers.some((s) => !s.tpConsecutive) || !plan.embedding.tpConsecutive) {
    differences.push('rank order: the Galvatron runtime builds TP groups on adjacent ranks (tp_consecutive_flags is read but not used); DP-adjacent layers exported TP-adjacent');
  }
  // Megatron SP is one YAML switch (runtime.train.sequence_parallel) for every layer with TP > 1.
  const tpLayers = plan.layers.filter((s) => s.tp > 1);
  const sp = tpLayers.length > 0 ? modal(tpLayers, (s) => String(s.sequenceParallel)).value.sequenceParallel : true;
  const spMismatch = tpLayers.filter((s) => s.sequenceParallel !== sp).length;
  if (spMismatch > 0) differences.push(`sequence parallelism: one switch for the whole model in Galvatron; ${layersText(spMismatch)} exported with it ${sp ? 'on' : 'off'}`);
  const { degree, virtualStages, chunks } = plan.pipeline;
  let division = chunks.map((c) => c.end - c.start);
  if (virtualStages > 1) {
    // No interleaving: each stage takes as many contiguous layers as its chunks held.
    division = Array.from({ length: degree }, (_, i) => chunks.filter((_, j) => j % degree === i).reduce((n, c) => n + c.end - c.start, 0));
    differences.push(`interleaving: Galvatron has no interleaved 1F1B; ${degree} stages × ${virtualStages} chunks exported as ${degree} contiguous stages of ${division.join(', ')} layers`);
  }
  const strategyOf = (s: LayerStrategy): LayerStrategy => ({
    ...s,
    sequenceParallel: s.tp > 1 ? sp : s.sequenceParallel,
    dpType: s.dpType === 'zero3' ? 'zero3' : defaultType,
    recompute: (s.recompute === 'selective' ? 'full' : s.recompute) as RecomputeKind,
    tpConsecutive: true,
  });
  let start = 0;
  const exportedChunks = division.map((n) => ({ start, end: (start += n) }));
  const embedding: LayerStrategy = { ...plan.embedding, dpType: plan.embedding.dpType === 'zero3' ? 'zero3' : defaultType, tpConsecutive: true, recompute: 'none' };
  const exported: Plan =
    differences.length === 0
      ? plan
      : {
          ...plan,
          embedding,
          layers: plan.layers.map(strategyOf),
          pipeline: { degree, schedule: plan.pipeline.schedule === 'gpipe' ? 'gpipe' : '1f1b', virtualStages: 1, chunks: exportedChunks },
        };
  const gpusPerStage = strategyGpus(plan.embedding);
  const layers = exported.layers;
  const vocabSdp = plan.embedding.dpType === 'zero3' ? 1 : 0;
  const json: Record<string, unknown> = {
    pp_deg: degree,
    tp_sizes_enc: list(layers.map((s) => s.tp)),
    tp_consecutive_flags: list(layers.map(() => 1)),
    dp_types_enc: list(layers.map((s) => s.dpType === 'zero3')),
    use_sp: list(layers.map(() => 0)),
    checkpoint: list(layers.map((s) => s.recompute === 'full')),
    ...(layers.some((s) => s.cp > 1) || plan.embedding.cp > 1 ? { cp_sizes_enc: list(layers.map((s) => s.cp)), vcp: plan.embedding.cp } : {}),
    pp_division: list(division),
    global_bsz: plan.training.globalBatch,
    chunks: plan.training.microBatches,
    pipeline_type: plan.pipeline.schedule === 'gpipe' ? 'gpipe' : 'pipedream_flush',
    default_dp_type: defaultType,
    vtp: plan.embedding.tp,
    vsp: 0,
    // HEAD reads vocab_sdp, runtimes before 3.0 embed_sdp: write both.
    vocab_sdp: vocabSdp,
    embed_sdp: vocabSdp,
    world_size: planWorldSize(plan),
  };
  // §4.3: global_bsz divisible by W / pp / min TP / min CP.
  const minTp = Math.min(...layers.map((s) => s.tp), plan.embedding.tp);
  const minCp = Math.min(...layers.map((s) => s.cp), plan.embedding.cp);
  const unit = gpusPerStage / minTp / minCp;
  if (plan.training.globalBatch % unit !== 0) differences.push(`batch: Galvatron needs global_bsz divisible by ${unit} (world / pp / min TP / min CP); ${plan.training.globalBatch} is not`);
  // Settings the JSON does not carry (runtime YAML, §4.4), as Hydra overrides.
  json['_runtime_overrides'] = [
    'runtime.parallel.galvatron_config_path=<this file>',
    `runtime.parallel.mixed_precision=${plan.training.precision}`,
    `runtime.train.sequence_parallel=${sp}`,
    `runtime.train.seq_length=${plan.training.seqLen}`,
    `runtime.model.num_layers=${L}`,
  ];
  return exportResult('galvatron', plan, exported, `${JSON.stringify(json, null, 2)}\n`, `galvatron_config_${plan.model.name}.json`, differences);
}
