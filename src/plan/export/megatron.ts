// Export to Megatron-LM's pretrain_gpt.py command line (flag names and rules: shared/reference/
// engine-formats.md §1, Megatron-Core 0.20.0). Megatron runs one TP/CP/DP layout and one DP type for the
// whole model and recomputes by granularity and method, not per layer: a per-layer plan becomes its most
// common layout, and the export says what changed and what that costs.
import { strategyGpus, type LayerStrategy, type RecomputeKind } from '../../strategy/layer-strategy.js';
import { planWorldSize } from '../validate.js';
import type { Plan } from '../schema.js';
import { exportResult, layersText, modal, type ExportResult } from './adapt.js';

type Range = { start: number; end: number };

/** Megatron's recompute flags for per-layer choices over the chunks, and the per-layer choices they mean. */
function recomputeFlags(plan: Plan, differences: string[]): { args: string[]; perLayer: RecomputeKind[] } {
  const kinds = plan.layers.map((s) => s.recompute);
  const L = kinds.length;
  const all = (k: RecomputeKind) => kinds.every((x) => x === k);
  if (all('none')) return { args: [], perLayer: kinds };
  if (all('selective')) return { args: ['--recompute-granularity', 'selective'], perLayer: kinds };
  if (all('full')) return { args: ['--recompute-granularity', 'full', '--recompute-method', 'uniform', '--recompute-num-layers', '1'], perLayer: kinds };
  const chunks: Range[] = plan.pipeline.chunks;
  // `block` recomputes the first k layers of every chunk.
  const prefix = (c: Range) => {
    let k = 0;
    while (c.start + k < c.end && kinds[c.start + k] === 'full') k++;
    return kinds.slice(c.start + k, c.end).every((x) => x === 'none') ? k : -1;
  };
  const ks = chunks.map(prefix);
  const exact = ks.every((k) => k === ks[0] && k >= 0);
  let k: number;
  if (exact) k = ks[0]!;
  else if (kinds.includes('full')) {
    // The closest block: as many layers per chunk as the busiest chunk recomputes (never less memory saved).
    k = Math.max(...chunks.map((c) => kinds.slice(c.start, c.end).filter((x) => x !== 'none').length));
    differences.push(`recompute: Megatron recomputes the first k layers of every chunk (--recompute-method block); the plan recomputes ${kinds.filter((x) => x !== 'none').length} of ${L} layers elsewhere, exported as the first ${k} of each chunk`);
  } else {
    differences.push(`recompute: Megatron has no per-layer selective recompute; the plan recomputes ${layersText(kinds.filter((x) => x === 'selective').length)} selectively, exported as selective on every layer`);
    return { args: ['--recompute-granularity', 'selective'], perLayer: kinds.map(() => 'selective') };
  }
  const perLayer = new Array<RecomputeKind>(L).fill('none');
  for (const c of chunks) for (let l = c.start; l < Math.min(c.end, c.start + k); l++) perLayer[l] = 'full';
  return { args: ['--recompute-granularity', 'full', '--recompute-method', 'block', '--recompute-num-layers', String(k)], perLayer };
}

/** The pipeline split: nothing (even), layers per virtual stage (even, interleaved) or a layout string. */
function pipelineFlags(plan: Plan): string[] {
  const { degree, virtualStages, chunks } = plan.pipeline;
  if (degree === 1) return [];
  const sizes = chunks.map((c) => c.end - c.start);
  const even = sizes.every((n) => n === sizes[0]);
  if (even) return virtualStages > 1 ? ['--num-layers-per-virtual-pipeline-stage', String(sizes[0])] : [];
  // Stage j of the layout is chunk j: virtual chunk j // pp on pipeline rank j % pp, as in the plan.
  const layout = sizes.map((n, j) => [...(j === 0 ? ['E'] : []), `t*${n}`, ...(j === sizes.length - 1 ? ['L'] : [])].join(',')).join('|');
  return ['--pipeline-model-parallel-layout', layout];
}

function dpFlags(dpType: LayerStrategy['dpType'], dp: number): string[] {
  if (dp === 1) return [];
  switch (dpType) {
    case 'ddp':
      return ['--overlap-grad-reduce'];
    case 'zero1':
      return ['--use-distributed-optimizer', '--overlap-grad-reduce', '--overlap-param-gather'];
    case 'zero2':
      return ['--use-megatron-fsdp', '--data-parallel-sharding-strategy', 'optim_grads', '--ckpt-format', 'fsdp_dtensor', '--overlap-grad-reduce'];
    case 'zero3':
      return ['--use-megatron-fsdp', '--data-parallel-sharding-strategy', 'optim_grads_params', '--ckpt-format', 'fsdp_dtensor', '--overlap-grad-reduce', '--overlap-param-gather'];
  }
}

function modelFlags(plan: Plan): string[] {
  const m = plan.model;
  // LLaMA-family models: RMSNorm and no biases (how the cost model and the executor build them).
  const llamaLike = m.family === 'llama';
  const args = ['--num-layers', String(m.layers), '--hidden-size', String(m.hidden), '--num-attention-heads', String(m.heads)];
  if (m.kvHeads !== undefined && m.kvHeads !== m.heads) args.push('--group-query-attention', '--num-query-groups', String(m.kvHeads));
  if (m.ffnHidden !== undefined) args.push('--ffn-hidden-size', String(m.ffnHidden));
  if (m.ffnType === 'swiglu') args.push('--swiglu');
  if (llamaLike) args.push('--normalization', 'RMSNorm', '--disable-bias-linear');
  args.push('--position-embedding-type', m.positional === 'rope' ? 'rope' : m.positional === 'none' ? 'none' : 'learned_absolute');
  args.push('--max-position-embeddings', String(m.seqLen), '--seq-length', String(plan.training.seqLen), '--vocab-size', String(m.vocab));
  if (!m.tiedEmbeddings) args.push('--untie-embeddings-and-output-weights');
  return args;
}

export function exportMegatron(plan: Plan): ExportResult {
  const differences: string[] = [];
  const gpusPerStage = strategyGpus(plan.embedding);
  // One layout and DP type for the whole model: the layers' most common one.
  const layout = modal(plan.layers, (s) => `${s.tp}/${s.sequenceParallel && s.tp > 1}/${s.cp}/${s.dpType}/${s.tpConsecutive}`);
  const base = layout.value;
  if (layout.count < plan.layers.length) {
    differences.push(`layout: Megatron runs one TP/SP/CP/DP layout for every layer; ${layersText(plan.layers.length - layout.count)} of ${plan.layers.length} use another, exported as tp ${base.tp}${base.sequenceParallel ? ' + SP' : ''}, cp ${base.cp}, ${base.dpType}`);
  }
  const e = plan.embedding;
  if (e.tp !== base.tp || e.cp !== base.cp || e.dpType !== base.dpType) {
    differences.push(`embedding: Megatron shards the embedding and head like the layers (tp ${base.tp}, ${base.dpType}); the plan has tp ${e.tp}, ${e.dpType}`);
  }
  if (!base.tpConsecutive) differences.push('rank order: Megatron puts TP on adjacent ranks; the plan puts DP there (tpConsecutive false), exported with TP adjacent');
  const sp = base.sequenceParallel && base.tp > 1;
  if (plan.training.tpOverlap && !sp) differences.push('TP overlap: --tp-comm-overlap needs sequence parallelism, which this layout does not use; left out');
  const recompute = recomputeFlags(plan, differences);
  const dp = gpusPerStage / (base.tp * base.cp);
  const strategy = (recomputeKind: RecomputeKind): LayerStrategy => ({ tp: base.tp, sequenceParallel: sp, cp: base.cp, dp, dpType: base.dpType, recompute: recomputeKind, tpConsecutive: true });
  const exported: Plan = differences.length === 0 ? plan : { ...plan, embedding: { ...strategy('none') }, layers: recompute.perLayer.map(strategy) };

  const microBatchSize = plan.training.globalBatch / plan.training.microBatches / dp;
  const args = [
    '--tensor-model-parallel-size', String(base.tp),
    '--pipeline-model-parallel-size', String(plan.pipeline.degree),
    ...(base.cp > 1 ? ['--context-parallel-size', String(base.cp)] : []),
    ...(sp ? ['--sequence-parallel'] : []),
    ...(plan.training.tpOverlap && sp ? ['--tp-comm-overlap'] : []),
    ...pipelineFlags(plan),
    ...recompute.args,
    ...dpFlags(base.dpType, dp),
    '--micro-batch-size', String(microBatchSize),
    '--global-batch-size', String(plan.training.globalBatch),
    ...(plan.training.precision === 'bf16' ? ['--bf16'] : plan.training.precision === 'fp16' ? ['--fp16'] : []),
    ...(plan.training.precision === 'bf16' && !plan.training.fp32MainGrads ? ['--grad-reduce-in-bf16'] : []),
    ...modelFlags(plan),
  ];
  const world = planWorldSize(plan);
  const nodes = Math.max(1, Math.ceil(world / plan.cluster.gpusPerNode));
  const perNode = Math.min(world, plan.cluster.gpusPerNode);
  // Megatron asserts one CUDA connection with TP or CP on pre-Blackwell GPUs, except under Megatron-FSDP.
  const fsdp = base.dpType === 'zero2' || base.dpType === 'zero3';
  const env = (base.tp > 1 || base.cp > 1) && !fsdp ? 'CUDA_DEVICE_MAX_CONNECTIONS=1 ' : '';
  const lines = [
    `# Megatron-LM (pretrain_gpt.py, flag names as of Megatron-Core 0.20.0) for ${plan.model.name}: ${world} GPUs.`,
    '# Add your data, tokenizer, optimizer and schedule arguments.',
    ...differences.map((d) => `# differs from the plan: ${d}`),
    `${env}torchrun --nproc-per-node ${perNode} --nnodes ${nodes} pretrain_gpt.py \\`,
    ...pairs(args).map((pair, i, all) => `  ${pair}${i < all.length - 1 ? ' \\' : ''}`),
  ];
  return exportResult('megatron', plan, exported, `${lines.join('\n')}\n`, 'megatron-args.sh', differences);
}

/** A value as the shell reads it back unchanged (the layout string holds | and *). */
const shellWord = (value: string) => (/^[A-Za-z0-9_.,=:/-]+$/.test(value) ? value : `'${value}'`);

/** Flags with their values on one line each. */
function pairs(args: string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (arg.startsWith('--') || out.length === 0) out.push(arg);
    else out[out.length - 1] += ` ${shellWord(arg)}`;
  }
  return out;
}

/** The flags alone, as the shell would pass them (for tests and --json). */
export function megatronArgs(content: string): string[] {
  return content
    .split('\n')
    .filter((l) => l.startsWith('  --'))
    .flatMap((l) => l.replace(/\\$/, '').trim().split(/\s+/))
    .map((word) => word.replace(/^'(.*)'$/, '$1'));
}
