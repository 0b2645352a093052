// Export to torchtitan (names and rules: shared/reference/engine-formats.md §3). Its current form is a Python
// function returning `Trainer.Config` (torchtitan b5bcd76c, 2026-08-21); `--torchtitan-format toml` writes the
// TOML it read until 2026-02-23 (commit 238fa995). torchtitan runs one TP/CP/FSDP layout and one activation
// checkpointing policy for every block, has no ZeRO-1 and no fp16 mixed precision, and counts batches in
// tokens (HEAD) or samples (TOML era). A per-layer plan becomes its most common layout; each change is said and
// priced.
import { strategyGpus, type LayerStrategy, type RecomputeKind } from '../../strategy/layer-strategy.js';
import { MODEL_PRESETS } from '../../model/presets.js';
import { planWorldSize } from '../validate.js';
import type { Plan } from '../schema.js';
import { exportResult, layersText, modal, type ExportResult } from './adapt.js';

export const TORCHTITAN_FORMATS = ['python', 'toml'] as const;
export type TorchtitanFormat = (typeof TORCHTITAN_FORMATS)[number];

/** A config value as both forms write it. */
type Value = number | string | boolean | string[] | string[][] | { call: string };
/** section → key → value, in the order they are written. */
export type TorchtitanSettings = Record<string, Record<string, Value>>;

/** torchtitan's llama3 flavors and the presets of the same shape. */
const LLAMA3_FLAVORS: Record<string, string> = { 'llama3-8b': '8B', 'llama3-70b': '70B', 'llama3.1-405b': '405B' };

function llama3Flavor(model: Plan['model']): string | undefined {
  for (const [presetId, flavor] of Object.entries(LLAMA3_FLAVORS)) {
    const p = MODEL_PRESETS[presetId]!;
    const same = p.layers === model.layers && p.hidden === model.hidden && p.heads === model.heads && (p.kvHeads ?? p.heads) === (model.kvHeads ?? model.heads) && p.ffnHidden === model.ffnHidden && p.vocab === model.vocab && model.family === 'llama';
    if (same) return flavor;
  }
  return undefined;
}

const PP_SCHEDULES: Record<Plan['pipeline']['schedule'], string> = { gpipe: 'GPipe', '1f1b': '1F1B', 'interleaved-1f1b': 'Interleaved1F1B' };

/** The module names of each pipeline chunk, embedding on the first and norm + head on the last. */
function chunkModules(plan: Plan, headName: string): string[][] {
  const chunks = plan.pipeline.chunks;
  return chunks.map((c, j) => [
    ...(j === 0 ? ['tok_embeddings'] : []),
    ...Array.from({ length: c.end - c.start }, (_, i) => `layers.${c.start + i}`),
    ...(j === chunks.length - 1 ? ['norm', headName] : []),
  ]);
}

/** One activation-checkpointing policy for every block: the plan's when uniform, else the one that saves at least as much memory. */
function recomputePolicy(plan: Plan, differences: string[]): RecomputeKind {
  const kinds = plan.layers.map((s) => s.recompute);
  const counts = (k: RecomputeKind) => kinds.filter((x) => x === k).length;
  if (kinds.every((k) => k === kinds[0])) return kinds[0]!;
  const policy: RecomputeKind = kinds.includes('full') ? 'full' : 'selective';
  const parts = [counts('full') > 0 ? `${layersText(counts('full'))} fully` : '', counts('selective') > 0 ? `${layersText(counts('selective'))} selectively` : ''].filter(Boolean);
  differences.push(`recompute: torchtitan applies one activation checkpointing policy to every block; the plan recomputes ${parts.join(' and ')} (of ${kinds.length}), exported as ${policy} on every layer`);
  return policy;
}

interface Adapted {
  exported: Plan;
  differences: string[];
  base: LayerStrategy;
  dp: number;
  recompute: RecomputeKind;
  compile: boolean;
}

/** The closest plan torchtitan runs, and every way it differs from `plan`. */
function adapt(plan: Plan, format: TorchtitanFormat): Adapted {
  const differences: string[] = [];
  const L = plan.layers.length;
  const flavor = llama3Flavor(plan.model);
  if (flavor === undefined) {
    differences.push(`model: torchtitan's llama3 registry has no flavor of this shape (${plan.model.name}: ${plan.model.layers} layers, hidden ${plan.model.hidden}, ${plan.model.heads} heads, vocab ${plan.model.vocab}); register a model spec of this shape and name it in place of "${plan.model.name}"`);
  }
  const layout = modal(plan.layers, (s) => `${s.tp}/${s.sequenceParallel && s.tp > 1}/${s.cp}/${s.dpType}/${s.tpConsecutive}`);
  let base = layout.value;
  if (layout.count < L) differences.push(`layout: torchtitan runs one TP/SP/CP/FSDP layout for every layer; ${layersText(L - layout.count)} of ${L} use another, exported as tp ${base.tp}${base.sequenceParallel && base.tp > 1 ? ' + SP' : ''}, cp ${base.cp}, ${base.dpType}`);
  const e = plan.embedding;
  if (e.tp !== base.tp || e.cp !== base.cp || e.dpType !== base.dpType) differences.push(`embedding: torchtitan shards the embedding and head like the layers (tp ${base.tp}, ${base.dpType}); the plan has tp ${e.tp}, ${e.dpType}`);
  if (!base.tpConsecutive) differences.push('rank order: torchtitan\'s device mesh puts TP on adjacent ranks; the plan puts DP there (tpConsecutive false), exported with TP adjacent');
  let dpType = base.dpType;
  const dp = strategyGpus(plan.embedding) / (base.tp * base.cp);
  if (dpType === 'zero1' && dp > 1) {
    differences.push('ZeRO-1: torchtitan has no sharded-optimizer-only mode; exported as FSDP keeping parameters gathered between forward and backward (fsdp_reshard_after_forward "never", ZeRO-2)');
    dpType = 'zero2';
  }
  let sp = base.sequenceParallel && base.tp > 1;
  if (format === 'toml' && base.tp > 1 && !sp) {
    differences.push('sequence parallelism: torchtitan before 2026-03-29 (the TOML era) always runs SP with TP; exported with SP');
    sp = true;
  }
  base = { ...base, sequenceParallel: sp, dpType, tpConsecutive: true };

  const recompute = recomputePolicy(plan, differences);
  const training = { ...plan.training };
  if (recompute === 'selective' && training.selectiveRecompute !== 'op-level') {
    differences.push('selective recompute: torchtitan\'s selective policy is per op (every other matmul and the memory-bound ops, never attention), not Megatron\'s attention core; exported as op-level');
    training.selectiveRecompute = 'op-level';
  }
  if (training.precision === 'fp16') {
    differences.push('precision: torchtitan\'s mixed precision is bf16 or fp32, not fp16; exported as bf16');
    training.precision = 'bf16';
  }
  if (training.attention === 'unfused') {
    differences.push('attention: torchtitan runs PyTorch\'s scaled_dot_product_attention (flash); exported with flash attention');
    training.attention = 'flash';
  }
  if (dpType === 'ddp' && dp > 1 && training.precision !== 'fp32' && !training.fp32MainGrads) {
    differences.push('gradient reduction: torchtitan\'s DDP autocasts fp32 parameters, so it reduces fp32 gradients; exported with fp32 gradient reduction');
    training.fp32MainGrads = true;
  }
  if (training.tpOverlap && !sp) {
    differences.push('TP overlap: torchtitan\'s async TP needs sequence parallelism, which this layout does not use; left out');
    training.tpOverlap = false;
  }
  // torch.compile is torchtitan's way to fuse the elementwise ops, and async TP needs it.
  const compile = training.elementwiseKernels !== 'eager' || training.tpOverlap;
  if (training.elementwiseKernels === 'eager' && compile) {
    differences.push('kernels: async TP needs torch.compile, which also fuses the elementwise ops; exported compiled');
    training.elementwiseKernels = 'fused';
  }

  const strategy = (r: RecomputeKind): LayerStrategy => ({ ...base, dp, recompute: r });
  const exported: Plan = differences.length === 0 ? plan : { ...plan, training, embedding: strategy('none'), layers: plan.layers.map(() => strategy(recompute)) };
  return { exported, differences, base, dp, recompute, compile };
}

/** What torchtitan reads, section by section, in the given form. */
export function torchtitanSettings(plan: Plan, format: TorchtitanFormat): { settings: TorchtitanSettings; adapted: Adapted } {
  const adapted = adapt(plan, format);
  const { base, dp, recompute, compile } = adapted;
  const t = adapted.exported.training;
  const pp = plan.pipeline.degree;
  const m = plan.training.microBatches;
  const microBatchSamples = plan.training.globalBatch / m / dp;
  const head = format === 'python' ? 'lm_head' : 'output';
  const flavor = llama3Flavor(plan.model) ?? plan.model.name;
  const fsdp = base.dpType === 'zero2' || base.dpType === 'zero3';

  const parallelism: Record<string, Value> = {
    data_parallel_replicate_degree: fsdp ? 1 : dp,
    // −1 would take every remaining rank; written out so the product of degrees is the world size.
    data_parallel_shard_degree: fsdp ? dp : 1,
    ...(fsdp ? { fsdp_reshard_after_forward: base.dpType === 'zero3' ? 'always' : 'never' } : {}),
    tensor_parallel_degree: base.tp,
    ...(format === 'python' && base.tp > 1 ? { enable_sequence_parallel: base.sequenceParallel } : {}),
    ...(format === 'toml' && t.tpOverlap ? { enable_async_tensor_parallel: true } : {}),
    context_parallel_degree: base.cp,
    pipeline_parallel_degree: pp,
    ...(pp > 1
      ? {
          pipeline_parallel_schedule: PP_SCHEDULES[plan.pipeline.schedule],
          module_fqns_per_model_part: chunkModules(plan, head),
          ...(format === 'python' ? { num_pp_microbatches: m } : { pipeline_parallel_microbatch_size: microBatchSamples }),
        }
      : {}),
  };
  const mixedPrecision = { mixed_precision_param: t.precision === 'fp32' ? 'float32' : 'bfloat16', mixed_precision_reduce: t.precision === 'fp32' || t.fp32MainGrads ? 'float32' : 'bfloat16' };
  const seqLen = plan.training.seqLen;
  const training: Record<string, Value> =
    format === 'python'
      ? {
          num_tokens_per_microbatch_per_dp_rank: microBatchSamples * seqLen,
          num_tokens_per_train_step: plan.training.globalBatch * seqLen,
          max_context_length: seqLen,
          ...mixedPrecision,
          // CUDA graphs (on by default) refuse pipeline parallelism.
          ...(pp > 1 ? { disable_cuda_graphs: true } : {}),
        }
      : { local_batch_size: pp > 1 ? microBatchSamples * m : microBatchSamples, global_batch_size: plan.training.globalBatch, seq_len: seqLen, ...mixedPrecision };
  const compileSection: Record<string, Value> = compile
    ? { enable: true, components: ['model', 'loss'], ...(format === 'python' && t.tpOverlap ? { enable_async_tensor_parallel: true } : {}) }
    : { enable: false };

  const settings: TorchtitanSettings =
    format === 'python'
      ? {
          config: {
            model_spec: { call: `model_registry(${JSON.stringify(flavor)})` },
            activation_checkpoint: { call: recompute === 'full' ? 'FullAC.Config()' : recompute === 'selective' ? 'SelectiveAC.Config()' : 'None' },
          },
          parallelism,
          training,
          compile: compileSection,
        }
      : {
          model: { name: 'llama3', flavor },
          parallelism,
          training,
          activation_checkpoint: { mode: recompute, ...(recompute === 'selective' ? { selective_ac_option: 'op' } : {}) },
          compile: compileSection,
        };
  return { settings, adapted };
}

const pythonValue = (v: Value): string => {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  // A JSON array of strings reads the same in Python.
  if (Array.isArray(v)) return JSON.stringify(v);
  return v.call;
};

const tomlValue = (v: Value): string => {
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return JSON.stringify(v);
  throw new Error(`no TOML form for ${v.call}`);
};

function header(plan: Plan, format: TorchtitanFormat, differences: string[]): string[] {
  const world = planWorldSize(plan);
  const nodes = Math.max(1, Math.ceil(world / plan.cluster.gpusPerNode));
  const perNode = Math.min(world, plan.cluster.gpusPerNode);
  const torchrun = `torchrun --nnodes ${nodes} --nproc-per-node ${perNode} -m torchtitan.train`;
  const lines =
    format === 'python'
      ? [
          `# torchtitan config for ${plan.model.name} on ${world} GPUs (Python form, names as of torchtitan b5bcd76c, 2026-08-21).`,
          '# Save as galvatron_plan.py on PYTHONPATH, then run',
          ...(nodes === 1 ? [`#   NGPU=${world} MODULE=galvatron_plan CONFIG=galvatron_plan ./run_train.sh`] : []),
          `#   ${torchrun} --module galvatron_plan --config galvatron_plan`,
        ]
      : [
          `# torchtitan config for ${plan.model.name} on ${world} GPUs (TOML form, read by torchtitan up to 238fa995, 2026-02-23).`,
          `# Run: ${torchrun} --job.config_file galvatron_plan.toml`,
        ];
  return [...lines, '# Add your data, tokenizer, optimizer and schedule settings.', ...differences.map((d) => `# differs from the plan: ${d}`)];
}

function renderPython(plan: Plan, settings: TorchtitanSettings, differences: string[]): string {
  const { config, ...sections } = settings;
  const acCall = (config!.activation_checkpoint as { call: string }).call;
  const imports = [
    ...(/^(Full|Selective)AC/.test(acCall) ? [`from torchtitan.distributed.activation_checkpoint import ${acCall.replace(/\..*/, '')}`] : []),
    'from torchtitan.models.llama3 import model_registry',
    'from torchtitan.trainer import Trainer',
  ];
  const body = [
    'config = Trainer.Config()',
    ...Object.entries(config!).map(([key, v]) => `config.${key} = ${pythonValue(v)}`),
    ...Object.entries(sections).flatMap(([section, keys]) => Object.entries(keys).map(([key, v]) => `config.${section}.${key} = ${pythonValue(v)}`)),
    'return config',
  ];
  return [...header(plan, 'python', differences), ...imports, '', '', 'def galvatron_plan() -> Trainer.Config:', ...body.map((l) => `    ${l}`), ''].join('\n');
}

function renderToml(plan: Plan, settings: TorchtitanSettings, differences: string[]): string {
  const sections = Object.entries(settings).map(([section, keys]) => [`[${section}]`, ...Object.entries(keys).map(([key, v]) => `${key} = ${tomlValue(v)}`)].join('\n'));
  return `${header(plan, 'toml', differences).join('\n')}\n\n${sections.join('\n\n')}\n`;
}

export function exportTorchtitan(plan: Plan, format: TorchtitanFormat = 'python'): ExportResult {
  const { settings, adapted } = torchtitanSettings(plan, format);
  const content = format === 'python' ? renderPython(plan, settings, adapted.differences) : renderToml(plan, settings, adapted.differences);
  return exportResult('torchtitan', plan, adapted.exported, content, format === 'python' ? 'galvatron_plan.py' : 'galvatron_plan.toml', adapted.differences);
}
