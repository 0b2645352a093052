// `galvatron profile`: measure this machine with the executor's own layers (python/galvatron_runtime/
// profiler.py under torchrun): layer, embedding and head times over micro-batch sizes, TP degrees, SP
// and recompute; memory per layer; collectives fitted to α–β; the overlap slow-down λ. Writes a
// galvatron.profile/v2 file (docs/profile.md) that `plan`, `estimate` and `baselines` take as --profile.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { RunFailure, UserInputError } from '../errors.js';
import { writeOutputFile } from '../io/output-file.js';
import { loadModel } from '../model/load.js';
import { assembleProfile, parseProfilerLine, type ProfilerEvent } from '../profile/assemble.js';
import { PROFILE_FORMAT, ProfileV2Schema, variantKey, type Profile } from '../profile/schema.js';
import { runtimeEnv, type Device, type Dtype } from '../runtime/launch.js';
import { checkProfilable, executorLayerType, profileJob, profilerTorchrunArgs } from '../runtime/profile-job.js';
import { ensurePythonEnv, SUPPORTED_TORCH, torchSupported, venvPython } from '../runtime/python-env.js';
import { colors, duration, keyValues, num, sig, table } from './format.js';
import { nonEmpty, oneOf, positiveInt } from './parsers.js';
import { createProgress } from './progress.js';

export const DEFAULT_PROFILE_PATH = 'profile.json';
const MAX_DEFAULT_CPU_RANKS = 8;

interface ProfileFlags {
  model: string;
  device: Device | 'auto';
  ranks?: number;
  dtype?: Dtype;
  output: string;
  quick?: boolean;
  maxMicroBatch?: number;
  seq?: number;
  json?: boolean;
}

function cudaDevices(): { version: string; count: number } {
  const result = spawnSync(venvPython(), ['-c', 'import torch; print(torch.__version__, torch.cuda.device_count() if torch.cuda.is_available() else 0)'], { encoding: 'utf8' });
  if (result.status !== 0) throw new RunFailure(`torch does not import in ${venvPython()}: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  const [version = '', count = '0'] = result.stdout.trim().split(/\s+/);
  return { version, count: Number(count) };
}

/** Runs the profiler under torchrun; returns its events, drawing progress from them. */
async function runProfiler(ranks: number, jobPath: string, device: Device, onEvent: (e: ProfilerEvent) => void): Promise<ProfilerEvent[]> {
  const child = spawn(venvPython(), profilerTorchrunArgs(ranks, jobPath), { env: runtimeEnv(device), stdio: ['ignore', 'pipe', 'inherit'] });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const events: ProfilerEvent[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseProfilerLine(line);
    if (!event) {
      if (line.trim()) process.stderr.write(`${line}\n`);
      return;
    }
    events.push(event);
    onEvent(event);
  });
  const code = await new Promise<number>((resolve) => child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : 1))));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  if (code !== 0) throw new RunFailure(`profiling stopped: torchrun exited with code ${code}; the ranks' errors are above`);
  return events;
}

const msText = (s: number) => num(s * 1e3, s * 1e3 < 1 ? 3 : 2);

/** What a person reads after a run: where it ran, the fits per variant, the collectives, λ. */
export function renderProfile(profile: Profile, path: string): string {
  const lines: string[] = [];
  const m = profile.machine;
  const where = m ? `${m.ranks} ${m.device === 'cuda' ? 'GPU' : 'CPU'} rank(s) of ${m.hostname} (${m.deviceName}; torch ${m.torchVersion}, ${m.backend ?? 'no backend'}, ${m.dtype})` : 'unknown machine';
  lines.push(`${colors.bold(`profiled ${profile.model?.name ?? 'model'}`)} on ${where}${m?.wallTimeS !== undefined ? ` in ${duration(m.wallTimeS)}` : ''}`);
  lines.push(colors.dim(`wrote ${path} (${PROFILE_FORMAT})`));
  const rows: string[][] = [];
  const unitRows = (name: string, unit: Profile['head']) => {
    for (const v of unit?.variants ?? []) {
      rows.push([
        name,
        variantKey(v),
        v.points.map((p) => p.microBatch).join(','),
        msText(v.fit.forward.fixedS),
        msText(v.fit.forward.perSampleS),
        msText(v.fit.backward.fixedS),
        msText(v.fit.backward.perSampleS),
        v.memory ? num(v.memory.activationBytesPerSample / 1024, 1) : '—',
      ]);
    }
  };
  for (const [id, unit] of Object.entries(profile.layerTypes)) unitRows(`${id} (seq ${unit.seqLen})`, unit);
  unitRows('embedding', profile.embedding);
  unitRows('head', profile.head);
  lines.push('');
  lines.push(colors.bold('Compute') + colors.dim(' (per micro-batch on one rank: time = fixed + per-sample × samples)'));
  lines.push(
    table(
      ['unit', 'variant', 'micro-batches', 'fwd fixed ms', 'fwd ms/sample', 'bwd fixed ms', 'bwd ms/sample', 'act. KiB/sample'],
      rows,
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
    ),
  );
  if (profile.collectives.length > 0) {
    lines.push('');
    lines.push(colors.bold('Collectives') + colors.dim(' (α–β fit, bus-bandwidth convention)'));
    lines.push(
      table(
        ['collective', 'ranks', 'sizes', 'α µs', 'β GB/s'],
        profile.collectives.map((c) => [c.kind + (c.emulated ? ' (emulated)' : ''), String(c.groupSize), String(c.points.length), sig(c.alphaUs), sig(c.busBandwidthGBps)]),
        ['left', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  const link = profile.intraNode;
  const facts: [string, string][] = [];
  if (link) facts.push(['link', `${sig(link.busBandwidthGBps)} GB/s all-reduce bus bandwidth, ${link.p2pGBps === undefined ? '—' : sig(link.p2pGBps)} GB/s p2p, ${link.latencyUs === undefined ? '—' : sig(link.latencyUs)} µs per step`]);
  if (profile.overlapSlowdown !== undefined && profile.overlap) {
    const o = profile.overlap;
    facts.push(['overlap λ', `${num(profile.overlapSlowdown, 3)} (GEMMs ${msText(o.computeS)} ms, all-reduce ${msText(o.commS)} ms, both ${msText(o.overlappedS)} ms)`]);
  }
  if (profile.optimizer) {
    const o = profile.optimizer;
    facts.push(['optimizer', `${msText(o.stepS)} ms for ${num(o.parameters)} parameters per rank (${num((o.stepS / o.parameters) * 1e9, 2)} ns per parameter)`]);
  }
  if (facts.length > 0) lines.push('', keyValues(facts));
  return lines.join('\n');
}

async function runProfile(flags: ProfileFlags): Promise<void> {
  const model = loadModel(flags.model, flags.seq === undefined ? {} : { seqLen: flags.seq });
  checkProfilable(model);
  if (flags.device === 'cpu' && flags.dtype === 'bf16') throw new UserInputError('--dtype', 'bf16 is for CUDA; use float32 or float64 on CPU');
  ensurePythonEnv();
  const torch = cudaDevices();
  if (!torchSupported(torch.version)) throw new RunFailure(`torch ${torch.version} in .venv is not supported; the profiler needs ${SUPPORTED_TORCH.label}`);
  const device: Device = flags.device === 'auto' ? (torch.count > 0 ? 'cuda' : 'cpu') : flags.device;
  const ranks = flags.ranks ?? (device === 'cuda' ? Math.max(1, torch.count) : Math.max(1, Math.min(MAX_DEFAULT_CPU_RANKS, availableParallelism())));
  if (device === 'cuda' && torch.count === 0) throw new UserInputError('--device', 'torch sees no CUDA device on this machine; use --device cpu');
  if (device === 'cuda' && torch.count < ranks) {
    throw new UserInputError('--ranks', `${ranks} GPU ranks asked but torch sees ${torch.count} GPU(s); use --ranks ${Math.max(1, torch.count)} or --device cpu`);
  }
  const dtype: Dtype = flags.dtype ?? (device === 'cuda' ? 'bf16' : 'float32');
  const job = profileJob({ model, device, dtype, ranks, quick: flags.quick === true, ...(flags.maxMicroBatch === undefined ? {} : { maxMicroBatch: flags.maxMicroBatch }) });
  const date = new Date().toISOString();

  const dir = mkdtempSync(join(tmpdir(), 'galvatron-profile-'));
  const jobPath = join(dir, 'job.json');
  writeFileSync(jobPath, JSON.stringify(job));
  const progress = flags.json ? createProgress('', { write: () => true }) : createProgress('profiling');
  let events: ProfilerEvent[];
  try {
    events = await runProfiler(ranks, jobPath, device, (e) => {
      if (e.event === 'progress') progress.update(e.done, e.total, `profiling: ${e.what}`);
      if (e.event === 'skip') {
        progress.clear();
        process.stderr.write(`galvatron: warning: ${e.what} not measured (${e.reason})\n`);
      }
    });
  } finally {
    progress.clear();
    rmSync(dir, { recursive: true, force: true });
  }
  const assembled = assembleProfile(events, { model, layerTypeId: executorLayerType(model), dtype, date, quick: flags.quick === true });
  const parsed = ProfileV2Schema.safeParse(assembled);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the measured profile does not match ${PROFILE_FORMAT} at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}; nothing written (please report this bug)`);
  }
  writeOutputFile('--output', flags.output, `${JSON.stringify(parsed.data, null, 2)}\n`);
  if (flags.json) process.stdout.write(`${JSON.stringify(parsed.data)}\n`);
  else process.stdout.write(`${renderProfile(parsed.data, flags.output)}\n`);
}

export function registerProfile(program: Command): void {
  program
    .command('profile')
    .summary('measure this machine with the executor\'s own layers (times, memory, collectives, overlap)')
    .description(
      'Run the executor\'s own layers (python/galvatron_runtime, under torchrun) for a model and measure: forward and backward ' +
        'time of its layer, embedding and head over micro-batch sizes 1, 2, 4, …, for every TP degree the ranks allow, with and ' +
        'without sequence parallelism and recomputation, fitted to a fixed cost per micro-batch plus a cost per sample; the memory ' +
        'each unit holds (executor accounting); all-reduce, all-gather, reduce-scatter, all-to-all and p2p from 1 KiB to 256 MiB, ' +
        'fitted to α–β; and the slow-down λ of compute and communication that overlap. Writes a galvatron.profile/v2 file for ' +
        '--profile of plan, estimate and baselines.',
    )
    .requiredOption('--model <preset|file>', 'model preset id (`galvatron models`) or a ModelSpec / HuggingFace config.json file (gpt, llama or bert family)', nonEmpty('--model'))
    .addOption(new Option('--device <d>', 'cpu (gloo) | cuda (NCCL) | auto (cuda when torch sees GPUs)').argParser(oneOf('--device', ['auto', 'cpu', 'cuda'] as const)).default('auto'))
    .option('--ranks <n>', `ranks to start (default: every GPU on cuda; on cpu the cores, at most ${MAX_DEFAULT_CPU_RANKS})`, positiveInt('--ranks'))
    .addOption(new Option('--dtype <t>', 'float32 | float64 | bf16 (CUDA) (default: float32 on CPU, bf16 on CUDA, as `galvatron train`)').argParser(oneOf('--dtype', ['float64', 'float32', 'bf16'] as const)))
    .option('--seq <tokens>', "sequence length (default: the model's own)", positiveInt('--seq'))
    .option('--quick', 'fewer points: micro-batches up to 8, collectives up to 4 MiB (4 sizes), one warm-up run, SP only without recompute')
    .option('--max-micro-batch <n>', 'largest micro-batch size to measure (default: 32, or 8 with --quick, fewer for long sequences)', positiveInt('--max-micro-batch'))
    .option('-o, --output <file>', 'where to write the profile (written atomically)', DEFAULT_PROFILE_PATH)
    .option('--json', 'print the profile as one JSON object on stdout (and no progress line)')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron profile --model examples/tiny-gpt.json --device cpu --ranks 2 --quick -o tiny-profile.json
  $ galvatron plan --model examples/tiny-gpt.json --gpus 2 --global-batch 8 --profile tiny-profile.json
  $ galvatron profile --model gpt3-1.3b --device cuda -o h200.json`,
    )
    .action((flags: ProfileFlags) => runProfile(flags));
}
