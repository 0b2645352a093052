// Golden tests of `galvatron export` on three plans (uniform 3D, ZeRO-3 only, per-layer heterogeneous),
// field by field against the argument names shared/reference/engine-formats.md documents for each
// target (Megatron-LM §1, DeepSpeed §2, torchtitan §3, Galvatron §4): what is written, what is said to differ, and the re-priced plan.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPlan } from '../../src/plan/export/index.js';
import { megatronArgs } from '../../src/plan/export/megatron.js';
import { PlanSchema, type Plan } from '../../src/plan/schema.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { parse as parseToml } from 'smol-toml';
import { MODEL_PRESETS } from '../../src/model/presets.js';
import { ModelSpecSchema } from '../../src/model/spec.js';
import { runCli } from '../cli/helpers.js';

const base = PlanSchema.parse(JSON.parse(readFileSync(new URL('../../../test/fixtures/plan-validation/base-plan.json', import.meta.url), 'utf8')));
const s = (tp: number, dp: number, dpType: 'ddp' | 'zero1' | 'zero2' | 'zero3', recompute: 'none' | 'selective' | 'full' = 'none') => ({ tp, sequenceParallel: false, cp: 1, dp, dpType, recompute, tpConsecutive: true });

// Tiny GPT (4 layers, h 64, 8 heads, vocab 256, seq 32) on 8 ranks, global batch 8.
const uniform3d: Plan = base; // tp 2 · pp 2 · dp 2, DDP, 2 micro-batches
const zero3Only: Plan = {
  ...base,
  training: { ...base.training, microBatches: 1 },
  pipeline: { degree: 1, schedule: '1f1b', virtualStages: 1, chunks: [{ start: 0, end: 4 }] },
  embedding: s(1, 8, 'zero3'),
  layers: [0, 1, 2, 3].map(() => s(1, 8, 'zero3')),
};
const heterogeneous: Plan = { ...base, layers: [s(2, 2, 'ddp', 'full'), s(2, 2, 'ddp'), s(1, 4, 'zero3', 'full'), s(2, 2, 'ddp', 'selective')] };

const MODEL_ARGS = ['--num-layers', '4', '--hidden-size', '64', '--num-attention-heads', '8', '--ffn-hidden-size', '256', '--position-embedding-type', 'learned_absolute', '--max-position-embeddings', '32', '--seq-length', '32', '--vocab-size', '256'];

describe('export: the three plans are valid plans', () => {
  it('each passes the plan validator', () => {
    for (const plan of [uniform3d, zero3Only, heterogeneous]) validatePlanForExecutor(plan, 8);
  });
});

describe('export to Megatron-LM', () => {
  it('uniform 3D: exact, every flag by its documented name', () => {
    const r = exportPlan(uniform3d, 'megatron');
    assert.deepEqual(r.differences, []);
    assert.deepEqual(megatronArgs(r.content), [
      '--tensor-model-parallel-size', '2', '--pipeline-model-parallel-size', '2', '--overlap-grad-reduce',
      '--micro-batch-size', '2', '--global-batch-size', '8', '--bf16', '--grad-reduce-in-bf16', ...MODEL_ARGS,
    ]);
    assert.match(r.content, /^CUDA_DEVICE_MAX_CONNECTIONS=1 torchrun --nproc-per-node 8 --nnodes 1 pretrain_gpt\.py \\$/m);
    assert.equal(r.exportedIterationS, r.planIterationS);
  });

  it('ZeRO-3 only: Megatron-FSDP with full sharding, no CUDA connection limit', () => {
    const r = exportPlan(zero3Only, 'megatron');
    assert.deepEqual(r.differences, []);
    assert.deepEqual(megatronArgs(r.content), [
      '--tensor-model-parallel-size', '1', '--pipeline-model-parallel-size', '1',
      '--use-megatron-fsdp', '--data-parallel-sharding-strategy', 'optim_grads_params', '--ckpt-format', 'fsdp_dtensor', '--overlap-grad-reduce', '--overlap-param-gather',
      '--micro-batch-size', '1', '--global-batch-size', '8', '--bf16', '--grad-reduce-in-bf16', ...MODEL_ARGS,
    ]);
    assert.doesNotMatch(r.content, /CUDA_DEVICE_MAX_CONNECTIONS/);
  });

  it('per-layer: the most common layout, block recompute covering the busiest chunk, each change said and priced', () => {
    const r = exportPlan(heterogeneous, 'megatron');
    assert.equal(r.differences.length, 2);
    assert.match(r.differences[0]!, /^layout: .*1 layer of 4 use another, exported as tp 2, cp 1, ddp$/);
    assert.match(r.differences[1]!, /^recompute: .*exported as the first 2 of each chunk$/);
    const args = megatronArgs(r.content);
    assert.deepEqual(args.slice(0, 10), ['--tensor-model-parallel-size', '2', '--pipeline-model-parallel-size', '2', '--recompute-granularity', 'full', '--recompute-method', 'block', '--recompute-num-layers', '2']);
    assert.deepEqual(r.exported.layers, [0, 1, 2, 3].map(() => s(2, 2, 'ddp', 'full')));
    assert.notEqual(r.exportedIterationS, r.planIterationS);
    assert.ok(r.content.includes('# differs from the plan: layout:'));
  });

  it('uneven or interleaved chunks: a layout string, one entry per chunk in the plan order', () => {
    const interleaved: Plan = {
      ...base,
      pipeline: { degree: 2, schedule: 'interleaved-1f1b', virtualStages: 2, chunks: [{ start: 0, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 3 }, { start: 3, end: 4 }] },
    };
    assert.deepEqual(megatronArgs(exportPlan(interleaved, 'megatron').content).slice(4, 6), ['--num-layers-per-virtual-pipeline-stage', '1']);
    const uneven: Plan = { ...base, pipeline: { ...base.pipeline, chunks: [{ start: 0, end: 1 }, { start: 1, end: 4 }] } };
    const r = exportPlan(uneven, 'megatron');
    assert.deepEqual(megatronArgs(r.content).slice(4, 6), ['--pipeline-model-parallel-layout', 'E,t*1|t*3,L']);
    assert.match(r.content, /--pipeline-model-parallel-layout 'E,t\*1\|t\*3,L'/);
  });
});

describe('export to Galvatron', () => {
  const json = (plan: Plan) => {
    const r = exportPlan(plan, 'galvatron');
    return { r, j: JSON.parse(r.content) as Record<string, unknown> };
  };

  it('uniform 3D: exact, every key the runtime reads', () => {
    const { r, j } = json(uniform3d);
    assert.deepEqual(r.differences, []);
    assert.deepEqual(
      { ...j, _runtime_overrides: undefined },
      {
        pp_deg: 2, tp_sizes_enc: '2,2,2,2', tp_consecutive_flags: '1,1,1,1', dp_types_enc: '0,0,0,0', use_sp: '0,0,0,0', checkpoint: '0,0,0,0',
        pp_division: '2,2', global_bsz: 8, chunks: 2, pipeline_type: 'pipedream_flush', default_dp_type: 'ddp', vtp: 2, vsp: 0, vocab_sdp: 0, embed_sdp: 0, world_size: 8,
        _runtime_overrides: undefined,
      },
    );
    assert.ok((j._runtime_overrides as string[]).includes('runtime.parallel.mixed_precision=bf16'));
    assert.ok((j._runtime_overrides as string[]).includes('runtime.train.sequence_parallel=false'));
  });

  it('ZeRO-3 only: dp_types_enc all 1, and vocab_sdp written with embed_sdp', () => {
    const { r, j } = json(zero3Only);
    assert.deepEqual(r.differences, []);
    assert.equal(j.dp_types_enc, '1,1,1,1');
    assert.equal(j.vocab_sdp, 1);
    assert.equal(j.embed_sdp, 1);
    assert.equal(j.pp_division, '4');
    assert.equal(j.vtp, 1);
  });

  it('per-layer: per-layer TP, ZeRO-3 and recompute kept; selective recompute becomes full, said and priced', () => {
    const { r, j } = json(heterogeneous);
    assert.equal(j.tp_sizes_enc, '2,2,1,2');
    assert.equal(j.dp_types_enc, '0,0,1,0');
    assert.equal(j.checkpoint, '1,0,1,1');
    assert.equal(j.default_dp_type, 'ddp');
    assert.deepEqual(r.differences, ['recompute: Galvatron recomputes whole layers only; 1 layer with selective recompute exported as full']);
    assert.equal(r.exported.layers[3]!.recompute, 'full');
    assert.ok(r.exportedIterationS > r.planIterationS);
  });

  it('interleaving and ZeRO-1 have no Galvatron form: contiguous stages and ZeRO-2, each said', () => {
    const plan: Plan = {
      ...base,
      pipeline: { degree: 2, schedule: 'interleaved-1f1b', virtualStages: 2, chunks: [{ start: 0, end: 1 }, { start: 1, end: 2 }, { start: 2, end: 3 }, { start: 3, end: 4 }] },
      layers: [0, 1, 2, 3].map(() => s(2, 2, 'zero1')),
    };
    const { r, j } = json(plan);
    assert.equal(j.pp_division, '2,2');
    assert.equal(j.default_dp_type, 'zero2');
    assert.equal(r.differences.length, 2);
    assert.deepEqual(r.exported.pipeline.chunks, [{ start: 0, end: 2 }, { start: 2, end: 4 }]);
  });
});

describe('export to DeepSpeed', () => {
  const ds = (plan: Plan) => {
    const r = exportPlan(plan, 'deepspeed');
    return { r, c: JSON.parse(r.content) as { ds_config: Record<string, unknown>; megatron_deepspeed_args: string[] } };
  };

  it('uniform 3D: the JSON keys and the Megatron-DeepSpeed flags agree (batch identity, ZeRO stage)', () => {
    const { r, c } = ds(uniform3d);
    assert.deepEqual(r.differences, []);
    assert.deepEqual(c.ds_config, { train_batch_size: 8, train_micro_batch_size_per_gpu: 2, gradient_accumulation_steps: 2, gradient_clipping: 1, zero_optimization: { stage: 0 }, bf16: { enabled: true } });
    assert.deepEqual(c.megatron_deepspeed_args, ['--deepspeed', '--deepspeed_config', 'ds_config.json', '--tensor-model-parallel-size', '2', '--pipeline-model-parallel-size', '2', '--zero-stage', '0', '--micro-batch-size', '2', '--global-batch-size', '8', '--bf16']);
    // DeepSpeed asserts train_batch_size = micro × accumulation × DP, with DP = 8 ranks / (tp · pp).
    const flag = (name: string) => Number(c.megatron_deepspeed_args[c.megatron_deepspeed_args.indexOf(name) + 1]);
    const dp = 8 / (flag('--tensor-model-parallel-size') * flag('--pipeline-model-parallel-size'));
    assert.equal(c.ds_config.train_batch_size, (c.ds_config.train_micro_batch_size_per_gpu as number) * (c.ds_config.gradient_accumulation_steps as number) * dp);
  });

  it('ZeRO-3 only: stage 3 with overlap and contiguous gradients, no pipeline engine', () => {
    const { r, c } = ds(zero3Only);
    assert.deepEqual(r.differences, []);
    assert.deepEqual(c.ds_config.zero_optimization, { stage: 3, overlap_comm: true, contiguous_gradients: true });
    assert.equal(c.ds_config.train_micro_batch_size_per_gpu, 1);
    assert.ok(c.megatron_deepspeed_args.includes('--no-pipeline-parallel'));
    assert.deepEqual(c.megatron_deepspeed_args.slice(c.megatron_deepspeed_args.indexOf('--zero-stage'), c.megatron_deepspeed_args.indexOf('--zero-stage') + 2), ['--zero-stage', '3']);
  });

  it('per-layer: one layout, recompute on every layer, each change said and priced', () => {
    const { r, c } = ds(heterogeneous);
    assert.equal(r.differences.length, 2);
    assert.match(r.differences[0]!, /^layout: /);
    assert.match(r.differences[1]!, /^recompute: .*exported as full on every layer$/);
    assert.deepEqual(c.ds_config.activation_checkpointing, { partition_activations: false, contiguous_memory_optimization: false, cpu_checkpointing: false });
    assert.ok(c.megatron_deepspeed_args.join(' ').includes('--checkpoint-activations --checkpoint-num-layers 1'));
    assert.deepEqual(r.exported.layers, [0, 1, 2, 3].map(() => s(2, 2, 'ddp', 'full')));
  });

  it('ZeRO-2 or 3 with a pipeline becomes ZeRO-1, said', () => {
    const plan: Plan = { ...base, embedding: s(2, 2, 'zero3'), layers: [0, 1, 2, 3].map(() => s(2, 2, 'zero3')) };
    const { r, c } = ds(plan);
    assert.deepEqual(c.ds_config.zero_optimization, { stage: 1, overlap_comm: true });
    assert.match(r.differences.join('\n'), /pipeline engine allows stage 0 or 1 only; zero3 exported as ZeRO-1/);
  });
});

describe('export to torchtitan', () => {
  // The same three plans on a model of torchtitan's llama3 "8B" shape (32 layers), with the settings torchtitan
  // runs natively (flash attention, fp32 gradient reduction under DDP, SP with TP), so that only what the
  // layout itself cannot express differs.
  const llama = ModelSpecSchema.parse(MODEL_PRESETS['llama3-8b']);
  const L = llama.layers;
  const t = (tp: number, dp: number, dpType: 'ddp' | 'zero1' | 'zero2' | 'zero3', recompute: 'none' | 'selective' | 'full' = 'none') => ({ ...s(tp, dp, dpType, recompute), sequenceParallel: tp > 1 });
  const training = { ...base.training, seqLen: 4096, attention: 'flash' as const, fp32MainGrads: true, selectiveRecompute: 'op-level' as const };
  const llamaBase: Plan = { ...base, model: llama, training, pipeline: { ...base.pipeline, chunks: [{ start: 0, end: L / 2 }, { start: L / 2, end: L }] }, embedding: t(2, 2, 'ddp'), layers: Array.from({ length: L }, () => t(2, 2, 'ddp')) };
  const ttUniform3d = llamaBase;
  const ttZero3Only: Plan = { ...llamaBase, training: { ...training, microBatches: 1, fp32MainGrads: false }, pipeline: { degree: 1, schedule: '1f1b', virtualStages: 1, chunks: [{ start: 0, end: L }] }, embedding: t(1, 8, 'zero3'), layers: Array.from({ length: L }, () => t(1, 8, 'zero3')) };
  const ttHeterogeneous: Plan = { ...llamaBase, layers: Array.from({ length: L }, (_, i) => (i % 4 === 0 ? t(1, 4, 'zero3', 'full') : t(2, 2, 'ddp', i % 4 === 1 ? 'selective' : 'none'))) };

  /** `config.section.key = value` lines of the Python form, values read back as JSON (True/False/None mapped). */
  const pythonSettings = (content: string) => {
    const out: Record<string, unknown> = {};
    for (const m of content.matchAll(/^ {4}config\.([\w.]+) = (.+)$/gm)) {
      const v = m[2]!;
      out[m[1]!] = v === 'True' ? true : v === 'False' ? false : v === 'None' ? null : /^[\w.]+\(.*\)$/.test(v) ? v : JSON.parse(v);
    }
    return out;
  };

  it('the plans are valid plans', () => {
    for (const plan of [ttUniform3d, ttZero3Only, ttHeterogeneous]) validatePlanForExecutor(plan, 8);
  });

  it('uniform 3D, Python form: exact, every key by its documented name, the batch identity holds', () => {
    const r = exportPlan(ttUniform3d, 'torchtitan');
    assert.deepEqual(r.differences, []);
    assert.equal(r.fileName, 'galvatron_plan.py');
    const c = pythonSettings(r.content);
    const stage = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `layers.${from + i}`);
    assert.deepEqual(c, {
      model_spec: 'model_registry("8B")',
      activation_checkpoint: null,
      'parallelism.data_parallel_replicate_degree': 2,
      'parallelism.data_parallel_shard_degree': 1,
      'parallelism.tensor_parallel_degree': 2,
      'parallelism.enable_sequence_parallel': true,
      'parallelism.context_parallel_degree': 1,
      'parallelism.pipeline_parallel_degree': 2,
      'parallelism.pipeline_parallel_schedule': '1F1B',
      'parallelism.module_fqns_per_model_part': [['tok_embeddings', ...stage(0, 16)], [...stage(16, 32), 'norm', 'lm_head']],
      'parallelism.num_pp_microbatches': 2,
      'training.num_tokens_per_microbatch_per_dp_rank': 2 * 4096,
      'training.num_tokens_per_train_step': 8 * 4096,
      'training.max_context_length': 4096,
      'training.mixed_precision_param': 'bfloat16',
      'training.mixed_precision_reduce': 'float32',
      'training.disable_cuda_graphs': true,
      'compile.enable': true,
      'compile.components': ['model', 'loss'],
    });
    // §3.4: tokens per step = tokens per micro-batch × PP micro-batches × (replicate · shard) × accumulation (1 here).
    const dp = (c['parallelism.data_parallel_replicate_degree'] as number) * (c['parallelism.data_parallel_shard_degree'] as number);
    assert.equal(c['training.num_tokens_per_train_step'], (c['training.num_tokens_per_microbatch_per_dp_rank'] as number) * (c['parallelism.num_pp_microbatches'] as number) * dp);
    // §3.6 rule 1: the degrees multiply to the world size.
    assert.equal(dp * (c['parallelism.tensor_parallel_degree'] as number) * (c['parallelism.context_parallel_degree'] as number) * (c['parallelism.pipeline_parallel_degree'] as number), 8);
    assert.match(r.content, /^def galvatron_plan\(\) -> Trainer\.Config:$/m);
    assert.match(r.content, /^# {3}NGPU=8 MODULE=galvatron_plan CONFIG=galvatron_plan \.\/run_train\.sh$/m);
    assert.equal(r.exportedIterationS, r.planIterationS);
  });

  it('uniform 3D, TOML form: the same plan in the sections and sample counts torchtitan read before 2026-02-23', () => {
    const r = exportPlan(ttUniform3d, 'torchtitan', { torchtitanFormat: 'toml' });
    assert.deepEqual(r.differences, []);
    assert.equal(r.fileName, 'galvatron_plan.toml');
    const toml = JSON.parse(JSON.stringify(parseToml(r.content))) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(toml), ['model', 'parallelism', 'training', 'activation_checkpoint', 'compile']);
    assert.deepEqual(toml.model, { name: 'llama3', flavor: '8B' });
    assert.equal(toml.parallelism!.tensor_parallel_degree, 2);
    assert.equal(toml.parallelism!.enable_sequence_parallel, undefined);
    assert.equal(toml.parallelism!.pipeline_parallel_microbatch_size, 2);
    assert.deepEqual((toml.parallelism!.module_fqns_per_model_part as string[][])[1]!.slice(-2), ['norm', 'output']);
    // Old identity: global_batch_size = local_batch_size × dp × accumulation (1 with PP: the micro-batches are PP's).
    assert.deepEqual(toml.training, { local_batch_size: 4, global_batch_size: 8, seq_len: 4096, mixed_precision_param: 'bfloat16', mixed_precision_reduce: 'float32' });
    assert.deepEqual(toml.activation_checkpoint, { mode: 'none' });
  });

  it('ZeRO-3 only: FSDP over every rank, resharded after forward, no pipeline keys', () => {
    const r = exportPlan(ttZero3Only, 'torchtitan');
    assert.deepEqual(r.differences, []);
    const c = pythonSettings(r.content);
    assert.equal(c['parallelism.data_parallel_replicate_degree'], 1);
    assert.equal(c['parallelism.data_parallel_shard_degree'], 8);
    assert.equal(c['parallelism.fsdp_reshard_after_forward'], 'always');
    assert.equal(c['parallelism.tensor_parallel_degree'], 1);
    assert.equal(c['parallelism.enable_sequence_parallel'], undefined);
    assert.equal(c['parallelism.num_pp_microbatches'], undefined);
    assert.equal(c['training.num_tokens_per_microbatch_per_dp_rank'], 4096);
    assert.equal(c['training.mixed_precision_reduce'], 'bfloat16');
    assert.equal(c['training.disable_cuda_graphs'], undefined);
    assert.match(r.content, /^# {3}NGPU=8 MODULE=galvatron_plan CONFIG=galvatron_plan/m);
  });

  it('per-layer: one layout and one checkpointing policy, each change said and priced', () => {
    const r = exportPlan(ttHeterogeneous, 'torchtitan');
    assert.equal(r.differences.length, 2);
    assert.match(r.differences[0]!, /^layout: .*8 layers of 32 use another, exported as tp 2 \+ SP, cp 1, ddp$/);
    assert.match(r.differences[1]!, /^recompute: .*the plan recomputes 8 layers fully and 8 layers selectively \(of 32\), exported as full on every layer$/);
    assert.equal(pythonSettings(r.content).activation_checkpoint, 'FullAC.Config()');
    assert.match(r.content, /^from torchtitan\.distributed\.activation_checkpoint import FullAC$/m);
    assert.deepEqual(r.exported.layers, Array.from({ length: L }, () => t(2, 2, 'ddp', 'full')));
    assert.ok(r.exportedIterationS > r.planIterationS);
  });

  it('what torchtitan has no form for: ZeRO-1, fp16, Megatron\'s selective recompute, a model outside its registry', () => {
    const plan: Plan = { ...base, training: { ...base.training, precision: 'fp16' }, embedding: s(2, 2, 'zero1'), layers: [0, 1, 2, 3].map(() => s(2, 2, 'zero1', 'selective')) };
    const r = exportPlan(plan, 'torchtitan');
    const said = r.differences.map((d) => d.slice(0, d.indexOf(':')));
    assert.deepEqual(said, ['model', 'ZeRO-1', 'selective recompute', 'precision', 'attention']);
    assert.equal(r.exported.training.precision, 'bf16');
    assert.equal(r.exported.training.selectiveRecompute, 'op-level');
    assert.equal(r.exported.layers[0]!.dpType, 'zero2');
    assert.equal(pythonSettings(r.content)['parallelism.fsdp_reshard_after_forward'], 'never');
    // The TOML era ran SP whenever TP was on.
    assert.ok(exportPlan(plan, 'torchtitan', { torchtitanFormat: 'toml' }).differences.some((d) => d.startsWith('sequence parallelism:')));
  });

  it('interleaved: one FQN list per chunk in plan order, the multi-stage schedule', () => {
    const chunks = [0, 1, 2, 3].map((j) => ({ start: j * 8, end: (j + 1) * 8 }));
    const plan: Plan = { ...ttUniform3d, pipeline: { degree: 2, schedule: 'interleaved-1f1b', virtualStages: 2, chunks } };
    const c = pythonSettings(exportPlan(plan, 'torchtitan').content);
    assert.equal(c['parallelism.pipeline_parallel_schedule'], 'Interleaved1F1B');
    const parts = c['parallelism.module_fqns_per_model_part'] as string[][];
    assert.equal(parts.length, 4);
    assert.deepEqual(parts.map((p) => p.filter((n) => n.startsWith('layers.')).length), [8, 8, 8, 8]);
    assert.equal(parts[2]![0], 'layers.16');
  });
});

describe('galvatron export (the command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-export-'));
  const planPath = join(dir, 'plan.json');
  writeFileSync(planPath, JSON.stringify(heterogeneous));

  it('prints the configuration on stdout and the differences with both predicted times on stderr', async () => {
    const run = await runCli(['export', planPath, '--to', 'megatron'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /pretrain_gpt\.py \\/);
    assert.match(run.stderr, /^galvatron: 2 difference\(s\) from the plan; predicted [\d,.]+ ms as exported against [\d,.]+ ms as planned\n$/);
  });

  it('-o writes the file whole; --json says the same as one object', async () => {
    const out = join(dir, 'galvatron.json');
    const run = await runCli(['export', planPath, '--to', 'galvatron', '-o', out, '--json'], dir);
    assert.equal(run.code, 0, run.stderr);
    const record = JSON.parse(run.stdout) as { content: string; differences: string[] };
    assert.equal(readFileSync(out, 'utf8'), record.content);
    assert.equal(record.differences.length, 1);
  });

  it('an unknown target or form, or a bad plan, exits 2 with one line naming the field', async () => {
    const unknown = await runCli(['export', planPath, '--to', 'torchtitan', '--torchtitan-format', 'yaml'], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--torchtitan-format/);
    const badPath = join(dir, 'bad.json');
    writeFileSync(badPath, JSON.stringify({ ...heterogeneous, format: 'galvatron.plan/v0' }));
    const bad = await runCli(['export', badPath, '--to', 'megatron'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^galvatron: plan\.format: /);
  });
});
