// `galvatron train`: run a plan for real on PyTorch (python/galvatron_runtime, DESIGN.md §6). The plan is
// checked before any process starts; on one machine torchrun is started here, for several nodes the
// command per node is printed. Ranks report JSON lines; this shows a live line and a summary, or with
// --json one JSON object per step on stdout.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { RunFailure, UserInputError } from '../errors.js';
import type { Plan } from '../plan/schema.js';
import { clusterCommands, DEFAULT_MASTER_PORT, FAST_KERNELS, localTorchrunArgs, runtimeEnv, type Device, type Dtype, type FastKernels, type TrainArgs } from '../runtime/launch.js';
import { ensurePythonEnv, SUPPORTED_TORCH, torchSupported, venvPython } from '../runtime/python-env.js';
import { allocatorBudgetBytes, compareMemory, heldPeakBytes, type MemoryComparison } from '../runtime/memory-report.js';
import { runRecord } from '../runtime/run-record.js';
import { parseRankLine, StepCollector, type MemoryEvent, type StepRecord } from '../runtime/reports.js';
import { readPlanFile } from '../plan/io.js';
import { planWorldSize, validatePlanForExecutor } from '../plan/validate.js';
import { bytes, duration, num, table } from './format.js';
import { nonEmpty, oneOf, positiveInt, positiveNumber } from './parsers.js';
import { createProgress } from './progress.js';

const GIB = 1024 ** 3;

interface TrainFlags {
  plan: string;
  steps: number;
  device: Device | 'auto';
  dtype?: Dtype;
  seed: number;
  lr?: number;
  data: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: boolean;
  nodes: number;
  nprocPerNode?: number;
  masterAddr?: string;
  masterPort: number;
  fastKernels: FastKernels;
  json?: boolean;
}

function nonNegativeInt(flag: string) {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new UserInputError(flag, `must be a whole number ≥ 0, got "${value}"`);
    return n;
  };
}

/** What the installed PyTorch offers: its version and the CUDA devices it sees. */
function probeTorch(): { version: string; cudaDevices: number } {
  const result = spawnSync(venvPython(), ['-c', 'import torch; print(torch.__version__, torch.cuda.device_count() if torch.cuda.is_available() else 0)'], { encoding: 'utf8' });
  if (result.status !== 0) throw new RunFailure(`torch does not import in ${venvPython()}: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  const [version = '', count = '0'] = result.stdout.trim().split(/\s+/);
  return { version, cudaDevices: Number(count) };
}

/** The compute type: float64/float32 on CPU as asked (float32 default); on CUDA the plan's precision (fp16 with dynamic loss scaling). */
function chooseDtype(plan: Plan, device: Device, asked: Dtype | undefined): Dtype {
  if (asked !== undefined) {
    if ((asked === 'bf16' || asked === 'fp16') && device === 'cpu') throw new UserInputError('--dtype', `${asked} with fp32 master weights is for CUDA; use float32 or float64 on CPU`);
    return asked;
  }
  if (device === 'cpu') return 'float32';
  if (plan.training.precision === 'fp16') return 'fp16'; // the runtime scales the loss dynamically (loss_scale.py)
  return plan.training.precision === 'bf16' ? 'bf16' : 'float32';
}

function summary(plan: Plan, planPath: string, records: StepRecord[], ranks: number, device: Device, dtype: Dtype): string {
  const lines = [`trained ${records.length} step(s) of ${planPath} on ${ranks} ${device === 'cuda' ? 'GPU' : 'CPU'} rank(s) (${device === 'cuda' ? 'nccl' : 'gloo'}, ${dtype})`];
  if (records.length === 0) return lines.join('\n');
  const first = records[0]!;
  const last = records[records.length - 1]!;
  lines.push(`loss          ${first.loss.toFixed(4)} (step ${first.step}) → ${last.loss.toFixed(4)} (step ${last.step})`);
  // The first step carries start-up work (allocations, lazy init): left out of the mean when there are more.
  const timed = records.length > 1 ? records.slice(1) : records;
  const meanS = timed.reduce((s, r) => s + r.stepTimeS, 0) / timed.length;
  const predicted = plan.predicted.iterationTimeS;
  const where = `${plan.cluster.nodes * plan.cluster.gpusPerNode} × ${plan.cluster.gpu.name}`;
  const comparable = device === 'cuda' ? `measured / predicted ${num(meanS / predicted, 2)}×` : 'a CPU run: not comparable';
  lines.push(`step time     ${duration(meanS)} measured (mean of ${timed.length} step(s)) · ${duration(predicted)} predicted on ${where} (${comparable})`);
  const peak = Math.max(...records.flatMap((r) => r.peakMemoryBytes));
  lines.push(`peak memory   ${num(peak / GIB, 2)} GiB on the fullest rank (${device === 'cuda' ? 'CUDA allocator peak' : 'process max RSS'}) · ${num(plan.predicted.memoryPerGpuGiB, 2)} GiB predicted per GPU`);
  return lines.join('\n');
}

/** Predicted against measured per component, on the rank with the largest measured peak of each stage. */
function memoryTable(memory: MemoryComparison[], device: Device): string {
  const fullest = new Map<number, MemoryComparison>();
  for (const m of memory) {
    const seen = fullest.get(m.stage);
    if (!seen || m.peakBytes.measured > seen.peakBytes.measured) fullest.set(m.stage, m);
  }
  const size = (count: number | null) => (count === null ? '–' : bytes(count));
  const ratio = (p: { measured: number; predicted: number | null }) => (p.predicted ? `${num(p.measured / p.predicted, 3)}×` : '–');
  const rows: string[][] = [];
  for (const m of [...fullest.values()].sort((a, b) => a.stage - b.stage)) {
    const parts: [string, MemoryComparison['peakBytes']][] = [
      ['model states', m.modelStateBytes],
      ['activations / micro-batch', m.activationBytes],
      ['largest transient', m.transientBytes],
      [device === 'cuda' ? 'peak (allocator)' : 'peak (accounted)', m.peakBytes],
    ];
    for (const [name, p] of parts) rows.push([`stage ${m.stage} (rank ${m.rank})`, name, size(p.predicted), size(p.measured), ratio(p)]);
  }
  return table(['where', 'memory', 'predicted', 'measured', 'measured / predicted'], rows, ['left', 'left', 'right', 'right', 'right']);
}

/** Says on stderr when a rank held more than the plan's budget allows the allocator. */
function warnOverBudget(plan: Plan, memory: MemoryComparison[]): void {
  const budget = allocatorBudgetBytes(plan);
  if (budget === undefined) return;
  const over = memory.filter((m) => heldPeakBytes(m) > budget);
  if (over.length === 0) return;
  const worst = over.reduce((a, b) => (heldPeakBytes(b) > heldPeakBytes(a) ? b : a));
  process.stderr.write(
    `galvatron: warning: ${over.length} rank(s) exceeded the plan's memory budget: rank ${worst.rank} held ${bytes(heldPeakBytes(worst))}, ` +
      `the budget leaves ${bytes(budget)} to PyTorch (${bytes(plan.predicted.memoryBudgetGiB * GIB)} less the ${bytes((plan.predicted.memoryReserveGiB ?? 0) * GIB)} runtime reserve); ` +
      're-plan with a larger --memory-margin or --memory-reserve-gib\n',
  );
}

/** A rank's one-line refusal ("FIELD: problem") as our own: the field first, exit 2. */
function runtimeRefusal(message: string): UserInputError {
  const colon = message.indexOf(': ');
  return colon > 0 ? new UserInputError(message.slice(0, colon), message.slice(colon + 2)) : new UserInputError('train', message);
}

async function runTrain(flags: TrainFlags): Promise<void> {
  const plan = readPlanFile(flags.plan);
  const world = planWorldSize(plan);
  if (flags.nprocPerNode === undefined && world % flags.nodes !== 0) {
    throw new UserInputError('--nodes', `the plan's ${world} ranks do not split evenly over ${flags.nodes} nodes; give --nproc-per-node`);
  }
  const nprocPerNode = flags.nprocPerNode ?? world / flags.nodes;
  validatePlanForExecutor(plan, flags.nodes * nprocPerNode);
  if ((flags.checkpointEvery !== undefined || flags.resume) && flags.checkpointDir === undefined) {
    throw new UserInputError(flags.resume ? '--resume' : '--checkpoint-every', 'needs --checkpoint-dir D (where checkpoints are written and read)');
  }
  // Refused before the run trains, not at its first save.
  if (flags.checkpointDir !== undefined && existsSync(flags.checkpointDir) && !statSync(flags.checkpointDir).isDirectory()) {
    throw new UserInputError('--checkpoint-dir', `${flags.checkpointDir} exists and is not a directory; give a directory (it is created if missing)`);
  }

  const baseArgs = (device: Device, dtype: Dtype): TrainArgs => ({
    planPath: flags.plan,
    steps: flags.steps,
    device,
    dtype,
    seed: flags.seed,
    data: flags.data,
    resume: flags.resume === true,
    fastKernels: flags.fastKernels,
    ...(flags.lr === undefined ? {} : { lr: flags.lr }),
    ...(flags.checkpointDir === undefined ? {} : { checkpointDir: flags.checkpointDir }),
    ...(flags.checkpointEvery === undefined ? {} : { checkpointEvery: flags.checkpointEvery }),
  });

  if (flags.nodes > 1) {
    // A cluster: the same plan runs from one command per node; nothing starts here.
    const device: Device = flags.device === 'auto' ? 'cuda' : flags.device;
    const commands = clusterCommands({ nodes: flags.nodes, nprocPerNode, ...(flags.masterAddr ? { masterAddr: flags.masterAddr } : {}), masterPort: flags.masterPort }, baseArgs(device, chooseDtype(plan, device, flags.dtype)));
    if (flags.json) process.stdout.write(`${JSON.stringify({ nodes: flags.nodes, nprocPerNode, commands })}\n`);
    else process.stdout.write(`${commands.map((c, i) => `# node ${i}${i === 0 ? ' (rendezvous host)' : ''}\n${c}`).join('\n')}\n`);
    return;
  }

  ensurePythonEnv();
  const torch = probeTorch();
  if (!torchSupported(torch.version)) throw new RunFailure(`torch ${torch.version} in .venv is not supported; the executor needs ${SUPPORTED_TORCH.label}`);
  const device: Device = flags.device === 'auto' ? (torch.cudaDevices > 0 ? 'cuda' : 'cpu') : flags.device;
  if (device === 'cuda' && torch.cudaDevices < world) {
    throw new UserInputError('--device', `the plan needs ${world} GPUs on this machine but torch sees ${torch.cudaDevices}; plan for ${Math.max(1, torch.cudaDevices)} GPU(s), use --device cpu, or --nodes to run it on a cluster`);
  }
  const dtype = chooseDtype(plan, device, flags.dtype);
  const args = baseArgs(device, dtype);

  const child = spawn(venvPython(), localTorchrunArgs(world, args), { env: runtimeEnv(device), stdio: ['ignore', 'pipe', 'pipe'] });
  // The ranks' logs pass through as they come. A rank's refusal ("galvatron-runtime: error: FIELD: …", printed
  // once by rank 0 before anything runs) ends the run as our own refusals do: one line, exit 2, without
  // torchrun's report of the failed child that follows it.
  let refusal: string | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (refusal !== undefined) return;
    const match = /^galvatron-runtime: error: (.*)$/.exec(line);
    if (match) refusal = match[1]!;
    else process.stderr.write(`${line}\n`);
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const progress = flags.json ? createProgress('', { write: () => true }) : createProgress('training');
  const collector = new StepCollector(world);
  const records: StepRecord[] = [];
  const memoryEvents: MemoryEvent[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const event = parseRankLine(line);
    if (!event) {
      if (line.trim()) process.stderr.write(`${line}\n`);
      return;
    }
    if (event.event === 'memory') {
      memoryEvents.push(event as MemoryEvent);
      return;
    }
    if (event.event !== 'step') return;
    const record = collector.add(event);
    if (!record) return;
    records.push(record);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(record)}\n`);
    } else {
      progress.status(`step ${record.step + 1}/${flags.steps} · loss ${record.loss.toFixed(4)} · ${duration(record.stepTimeS)}/step`);
    }
  });
  const code = await new Promise<number>((resolve) => child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : 1))));
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  progress.clear();
  if (code !== 0 && refusal !== undefined) throw runtimeRefusal(refusal);
  if (code !== 0) throw new RunFailure(`training stopped: torchrun exited with code ${code} after ${records.length} step(s); the ranks' errors are above`);
  const memory = compareMemory(plan, dtype, memoryEvents);
  if (flags.json) {
    for (const m of memory) process.stdout.write(`${JSON.stringify(m)}\n`);
    process.stdout.write(`${JSON.stringify(runRecord(flags.plan, device, dtype, world, records, memory))}\n`);
  } else {
    process.stdout.write(`${summary(plan, flags.plan, records, world, device, dtype)}\n`);
    if (memory.length > 0) process.stdout.write(`${memoryTable(memory, device)}\n`);
  }
  warnOverBudget(plan, memory);
}

/** A TCP port: 1–65535. */
function tcpPort(value: string): number {
  const port = positiveInt('--master-port')(value);
  if (port > 65535) throw new UserInputError('--master-port', `${value} is not a TCP port; give one from 1 to 65535`);
  return port;
}

/** A host name or address, not empty and without spaces. */
function hostName(value: string): string {
  if (value.trim() === '' || /\s/.test(value)) throw new UserInputError('--master-addr', `"${value}" is not a host name; give node 0's host name or IP address`);
  return value;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .summary('run a plan for real on PyTorch (torchrun; gloo on CPU, NCCL on CUDA)')
    .description(
      'Build the plan\'s model and train it exactly as planned: per-layer tensor/sequence/data parallelism, ZeRO, ' +
        'recomputation and pipeline stages, on PyTorch (python/galvatron_runtime). On one machine the ranks are started ' +
        'here with torchrun; with --nodes > 1 the torchrun command for every node is printed instead. The plan is checked ' +
        `against its model before anything starts. Needs ${SUPPORTED_TORCH.label}; the first run sets up .venv.`,
    )
    .requiredOption('--plan <file>', 'a plan written by `galvatron plan -o` or `galvatron estimate -o` (galvatron.plan/v1)', nonEmpty('--plan'))
    .option('--steps <n>', 'training steps to run', positiveInt('--steps'), 10)
    .addOption(new Option('--device <d>', 'cpu (gloo) | cuda (NCCL) | auto (cuda when torch sees GPUs)').argParser(oneOf('--device', ['auto', 'cpu', 'cuda'] as const)).default('auto'))
    .addOption(new Option('--dtype <t>', 'float64 | float32 | bf16 | fp16 (16-bit compute, fp32 master weights, fp16 with dynamic loss scaling; CUDA) (default: float32 on CPU, the plan\'s precision on CUDA)').argParser(oneOf('--dtype', ['float64', 'float32', 'bf16', 'fp16'] as const)))
    .addOption(
      new Option('--fast-kernels <mode>', 'off: the written-out kernels the CPU exactness tests pin | fused: PyTorch\'s fused RMSNorm and Adam | on: fused + torch.compile of the layers\' norms, RoPE, SwiGLU and bias + residual adds (fused, with a warning, where torch.compile cannot run) | auto: on for CUDA, off for CPU')
        .argParser(oneOf('--fast-kernels', FAST_KERNELS))
        .default('auto'),
    )
    .option('--seed <n>', 'seed of the weights and the data: the same seed gives the same samples whatever the plan', nonNegativeInt('--seed'), 0)
    .option('--lr <x>', 'Adam learning rate (default: GPT-3\'s peak rate for the model\'s size, 6e-4 at 125M and below, 2e-4 at 1.3B)', positiveNumber('--lr', 1, ': Adam moves every weight by about the rate per step, so a rate above 1 diverges'))
    .option('--data <synthetic|file>', 'synthetic tokens, or a text file read as bytes', 'synthetic')
    .option('--checkpoint-dir <dir>', 'write sharded checkpoints here (atomically) and resume from here')
    .option('--checkpoint-every <n>', 'also checkpoint every n steps (always at the end)', positiveInt('--checkpoint-every'))
    .option('--resume', 'continue from the latest checkpoint in --checkpoint-dir')
    .option('--nodes <k>', 'machines; > 1 prints the torchrun command per node instead of starting', positiveInt('--nodes'), 1)
    .option('--nproc-per-node <g>', 'ranks per machine (default: the plan\'s ranks / --nodes)', positiveInt('--nproc-per-node'))
    .option('--master-addr <host>', 'rendezvous host (node 0) for --nodes > 1', hostName)
    .option('--master-port <port>', 'rendezvous port (1–65535)', tcpPort, DEFAULT_MASTER_PORT)
    .option('--json', 'print one JSON object per step on stdout ({step, loss, stepTimeS, peakMemoryBytes[per rank]}, with lossScale and skipped under fp16 loss scaling), then one memory object per rank ({event: "memory", rank, stage, modelStateBytes, activationBytes, transientBytes, peakBytes: {measured, predicted}}), then one run summary ({event: "run", plan, device, dtype, stepTimeS (median after the first step), peakBytes}) that `galvatron calibrate --runs` reads, and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron plan --model examples/tiny-gpt.json --gpus 8 --global-batch 16 -o tiny.json
  $ galvatron train --plan tiny.json --device cpu --steps 5
  $ galvatron train --plan tiny.json --checkpoint-dir ckpt --checkpoint-every 2 && galvatron train --plan tiny.json --checkpoint-dir ckpt --resume --steps 8
  $ galvatron train --plan plan.json --nodes 4 --master-addr 10.0.0.1    # prints one torchrun command per node`,
    )
    .action((flags: TrainFlags) => runTrain(flags));
}
