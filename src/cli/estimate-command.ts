// `galvatron estimate`: price one hand-given uniform configuration (DESIGN.md §3), print it for people
// or as one JSON object, and optionally write it as a plan.
import type { Command } from 'commander';
import { estimate, type Estimate } from '../cost/estimate.js';
import type { UniformConfig } from '../cost/uniform-plan.js';
import type { AttentionKernel, ElementwiseKernels, Precision, SelectiveRecompute } from '../cost/types.js';
import { ATTENTION_KERNELS, ELEMENTWISE_KERNELS, PRECISIONS, SELECTIVE_RECOMPUTE } from './choices.js';
import { writePlanFile } from './plan-output.js';
import { planOf } from '../plan/io.js';
import { loadCluster } from '../hardware/load.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { loadModel } from '../model/load.js';
import { loadProfiles } from '../profile/load.js';
import type { ModelSpec } from '../model/spec.js';
import { addMemoryOptions, memoryBudget, type MemoryBudget } from './memory-flags.js';
import { CALIBRATION_HELP, loadCalibrationFile } from '../calibrate/calibration-file.js';
import { DP_TYPES, RECOMPUTE_KINDS, type DpType, type RecomputeKind } from '../strategy/layer-strategy.js';
import { colors, gib, keyValues, layerRanges, ms, num, parameters, percent, sig, table } from './format.js';
import { commandLine, fileList, nonEmpty, oneOf, positiveInt } from './parsers.js';
import { PROFILE_HELP, profileLines, sourceColumn } from './profile-notes.js';

export const SCHEDULES = ['gpipe', '1f1b'] as const;

interface EstimateOptions {
  model: string;
  cluster: string;
  gpus?: number;
  globalBatch: number;
  microBatch: number;
  tp: number;
  pp: number;
  cp: number;
  vpp: number;
  dpType: DpType;
  recompute: RecomputeKind;
  sp?: boolean;
  seq?: number;
  precision?: Precision;
  schedule?: (typeof SCHEDULES)[number];
  attention?: AttentionKernel;
  fp32Grads?: boolean;
  tpOverlap?: boolean;
  kernels?: ElementwiseKernels;
  selectiveRecompute?: SelectiveRecompute;
  profile?: string[];
  calibration?: string;
  memoryGib?: number;
  memoryReserveGib?: number;
  memoryMargin?: number;
  output?: string;
  json?: boolean;
}

/** bf16 where the GPU has it, else fp16 (V100). */
export function defaultPrecision(cluster: ClusterSpec): Precision {
  return cluster.gpu.bf16 ? 'bf16' : 'fp16';
}

function configFrom(opts: EstimateOptions, model: ModelSpec, cluster: ClusterSpec, memory: MemoryBudget): UniformConfig {
  const config: UniformConfig = {
    globalBatch: opts.globalBatch,
    microBatch: opts.microBatch,
    tp: opts.tp,
    pp: opts.pp,
    cp: opts.cp,
    vpp: opts.vpp,
    dpType: opts.dpType,
    recompute: opts.recompute,
    sequenceParallel: opts.sp ?? false,
    precision: opts.precision ?? defaultPrecision(cluster),
    schedule: opts.schedule ?? '1f1b',
    fp32MainGrads: opts.fp32Grads ?? false,
    tpOverlap: opts.tpOverlap ?? false,
  };
  if (opts.attention !== undefined) config.attention = opts.attention;
  if (opts.kernels !== undefined) config.elementwiseKernels = opts.kernels;
  if (opts.selectiveRecompute !== undefined) config.selectiveRecompute = opts.selectiveRecompute;
  config.memoryGiB = memory.budgetGiB;
  if (opts.profile !== undefined) config.profile = loadProfiles(opts.profile, model, cluster.gpusPerNode);
  return config;
}

/** The configuration in one line, as the strategy the cost model actually priced. */
function configLine(result: Estimate): string {
  const { report, input } = result;
  const s = input.strategies[0]!;
  const c = report.config;
  const parts = [
    `tp ${s.tp}${s.sequenceParallel ? ' + SP' : ''}`,
    `pp ${input.pipeline.degree}${input.pipeline.virtualStages > 1 ? ` × vpp ${input.pipeline.virtualStages}` : ''}`,
    ...(s.cp > 1 ? [`cp ${s.cp}`] : []),
    `dp ${s.dp} (${s.dpType})`,
    `recompute ${s.recompute}`,
    `${input.setup.precision}${input.setup.fp32MainGrads ? ' (fp32 main grads)' : ''}`,
    `${c.attention} attention`,
    ...(input.setup.elementwiseKernels === 'eager' ? ['eager kernels'] : []),
    ...(s.recompute === 'selective' && input.setup.selectiveRecompute === 'op-level' ? ['op-level selective recompute'] : []),
    input.pipeline.schedule,
  ];
  return parts.join(' · ');
}

function memoryLine(result: Estimate): string {
  const { report } = result;
  const largest = report.stages.reduce((a, b) => (b.memoryGiB > a.memoryGiB ? b : a));
  const stageNote = report.stages.length > 1 ? ` (stage ${largest.index})` : '';
  const used = `${gib(report.memoryPerGpuGiB)} GiB per GPU${stageNote} of ${gib(report.memoryBudgetGiB)} GiB`;
  if (report.fits) return `${used} — ${colors.green('fits')}`;
  const over = report.memoryPerGpuGiB - report.memoryBudgetGiB;
  return `${used} — ${colors.red(colors.bold('does not fit'))}: needs ${gib(report.memoryPerGpuGiB)} GiB, ${gib(over)} GiB more than the budget`;
}

/** Non-zero terms, forward ones first, then backward, then the per-iteration ones (stable otherwise). */
function breakdownRows(breakdown: Record<string, number>): [string, number][] {
  const phase = (name: string) => (name.startsWith('forward.') ? 0 : name.startsWith('backward.') ? 1 : 2);
  return Object.entries(breakdown)
    .filter(([, seconds]) => seconds !== 0)
    .map((entry, i) => ({ entry, i }))
    .sort((a, b) => phase(a.entry[0]) - phase(b.entry[0]) || a.i - b.i)
    .map(({ entry }) => entry);
}

/** What a person reads: summary, per-stage table, breakdown. */
export function renderEstimate(result: Estimate): string {
  const { report, input } = result;
  const gpuName = input.cluster.gpu.name;
  const lines: string[] = [];
  lines.push(`${colors.bold(report.model)} on ${report.gpus} × ${gpuName} ${colors.dim(`(${report.cluster})`)}`);
  lines.push('');
  lines.push(
    keyValues([
      ['configuration', configLine(result)],
      [
        'batch',
        `${num(report.config.globalBatch)} samples = ${report.config.microBatches} micro-batches × ${report.config.microBatch} × dp ${report.config.dp} · seq ${num(input.setup.seqLen)}`,
      ],
      ['iteration', `${ms(report.iterationTimeS)} ms`],
      ['throughput', `${sig(report.samplesPerS)} samples/s · ${sig(report.tokensPerSPerGpu)} tokens/s per GPU`],
      ['compute', `${sig(report.tflopsPerGpu)} TFLOP/s per GPU (model FLOPs) · MFU ${percent(report.mfu)}`],
      ['parameters', parameters(report.parameters)],
      ['memory', memoryLine(result)],
    ]),
  );

  const budget = report.memoryBudgetGiB;
  lines.push('');
  lines.push(colors.bold('Pipeline stages') + colors.dim(' (times per micro-batch; memory per GPU)'));
  lines.push(
    table(
      ['stage', 'layers', 'in flight', 'fwd ms', 'bwd ms', 'grad sync ms', 'memory GiB', 'states', 'activations', 'other'],
      report.stages.map((s) => {
        const total = gib(s.memoryGiB);
        return [
          String(s.index),
          layerRanges(s.layers),
          String(s.inFlightMicroBatches),
          ms(s.forwardS),
          ms(s.backwardS),
          ms(s.gradientSyncS),
          s.memoryGiB > budget ? colors.red(total) : total,
          gib(s.memory.modelStatesGiB),
          gib(s.memory.activationsGiB),
          gib(s.memory.transientGiB + s.memory.fixedGiB),
        ];
      }),
      ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  );

  const terms = breakdownRows(report.breakdown);
  const sum = terms.reduce((a, [, seconds]) => a + seconds, 0);
  lines.push('');
  lines.push(colors.bold('Iteration breakdown') + colors.dim(' (along the slowest stage, all micro-batches)'));
  const source = sourceColumn(report.config.profiled ? report.source : undefined);
  lines.push(
    table(
      ['term', 'ms', '% of iteration', ...source.header],
      [
        ...terms.map(([name, seconds]) => [name, ms(seconds), percent(seconds / report.iterationTimeS), ...source.cell(name)]),
        [colors.bold('total'), colors.bold(ms(sum)), colors.bold(percent(sum / report.iterationTimeS)), ...source.cell()],
      ],
      ['left', 'right', 'right', ...source.align],
    ),
  );
  lines.push(...profileLines(report.profileNotes));
  if (!report.fits) {
    lines.push('');
    lines.push(
      colors.red(
        `Needs ${gib(report.memoryPerGpuGiB)} GiB per GPU but the budget is ${gib(budget)} GiB: try --recompute full, --dp-type zero3, a larger --tp or --pp, or a smaller --micro-batch.`,
      ),
    );
  }
  return lines.join('\n');
}

function runEstimate(opts: EstimateOptions): void {
  const model = loadModel(opts.model, opts.seq === undefined ? {} : { seqLen: opts.seq });
  const cluster = loadCluster(opts.cluster, opts.gpus);
  const memory = memoryBudget(opts, cluster, opts.calibration === undefined ? undefined : loadCalibrationFile(opts.calibration));
  const result = estimate(model, cluster, configFrom(opts, model, cluster, memory), memory.constants);
  // The plan first: if it cannot be written, stdout stays empty and the exit code says why.
  if (opts.output !== undefined) writePlanFile(opts.output, planOf(model, result.input, result.cost, commandLine(process.argv.slice(2)), memory.deviceGiB));
  if (opts.json) process.stdout.write(`${JSON.stringify(result.report)}\n`);
  else process.stdout.write(`${renderEstimate(result)}\n`);
}

export function registerEstimate(program: Command): void {
  const command = program
    .command('estimate')
    .summary('price one hand-given configuration (no search)')
    .description(
      'Price one hand-given configuration with the cost model, without search: the same strategy on every layer, ' +
        'layers split evenly over the pipeline stages, DP degree = GPUs / (tp·pp·cp).',
    )
    .requiredOption('--model <preset|file>', 'model preset id (`galvatron models`) or a ModelSpec / HuggingFace config.json file', nonEmpty('--model'))
    .requiredOption('--cluster <preset|file>', 'cluster preset id (`galvatron clusters`) or a ClusterSpec JSON file', nonEmpty('--cluster'))
    .option('--gpus <n>', "total GPUs, in nodes of the cluster's size (default: the cluster's own)", positiveInt('--gpus'));
  addMemoryOptions(command)
    .requiredOption('--global-batch <samples>', 'samples per iteration over all data-parallel ranks', positiveInt('--global-batch'))
    .option('--micro-batch <samples>', 'samples per micro-batch on one data-parallel rank', positiveInt('--micro-batch'), 1)
    .option('--tp <t>', 'tensor-parallel degree (divides the attention heads)', positiveInt('--tp'), 1)
    .option('--pp <p>', 'pipeline-parallel degree (stages; layers split evenly)', positiveInt('--pp'), 1)
    .option('--cp <c>', 'context-parallel degree (splits the sequence)', positiveInt('--cp'), 1)
    .option('--vpp <v>', 'model chunks per GPU; > 1 means interleaved 1F1B', positiveInt('--vpp'), 1)
    .option('--dp-type <type>', `data parallelism: ${DP_TYPES.join('|')} (zero3 = FSDP)`, oneOf('--dp-type', DP_TYPES), 'ddp')
    .option('--recompute <kind>', `activation recomputation: ${RECOMPUTE_KINDS.join('|')}`, oneOf('--recompute', RECOMPUTE_KINDS), 'none')
    .option('--sp', "Megatron sequence parallelism on the TP group (no effect with tp 1)")
    .option('--seq <tokens>', "sequence length (default: the model's own)", positiveInt('--seq'))
    .option('--precision <p>', `${PRECISIONS.join('|')} (default: bf16, or fp16 on GPUs without bf16 such as V100)`, oneOf('--precision', PRECISIONS))
    .option('--schedule <s>', `pipeline schedule: ${SCHEDULES.join('|')} (default: 1f1b)`, oneOf('--schedule', SCHEDULES))
    .option('--attention <kernel>', `${ATTENTION_KERNELS.join('|')} (default: flash for bf16 on Ampere and newer, else unfused)`, oneOf('--attention', ATTENTION_KERNELS))
    .option('--fp32-grads', 'keep fp32 main gradients (Megatron --accumulate-allreduce-grads-in-fp32)')
    .option('--tp-overlap', 'overlap forward TP collectives with GEMMs (Megatron-Core --tp-comm-overlap)')
    .option('--kernels <kind>', `memory-bound kernels of the engine: ${ELEMENTWISE_KERNELS.join('|')} (eager = PyTorch ops without torch.compile) (default: fused)`, oneOf('--kernels', ELEMENTWISE_KERNELS))
    .option('--selective-recompute <policy>', `what --recompute selective re-runs: ${SELECTIVE_RECOMPUTE.join('|')} (op-level = torchtitan's policy) (default: attention-core)`, oneOf('--selective-recompute', SELECTIVE_RECOMPUTE))
    .option('--profile <file>', PROFILE_HELP, fileList('--profile'))
    .option('--calibration <file>', CALIBRATION_HELP, nonEmpty('--calibration'))
    .option('-o, --output <file>', 'also write the configuration as a plan (galvatron.plan/v1) to this file')
    .option('--json', 'print one JSON object (the report) on stdout and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  # Megatron-LM's GPT-3 175B run (Narayanan et al. 2021): 1024 A100s, tp 8, pp 8, full recompute
  $ galvatron estimate --model gpt3-175b --cluster dgx-a100-80g --gpus 1024 --global-batch 1536 --tp 8 --pp 8 --recompute full
  # LLaMA-3 8B on one DGX H100 with ZeRO-2, as JSON, and saved as a plan
  $ galvatron estimate --model llama3-8b --cluster dgx-h100 --global-batch 64 --micro-batch 2 --tp 2 --dp-type zero2 --json -o plan.json`,
    )
    .action((opts: EstimateOptions) => runEstimate(opts));
}
