// `npm run bench:closed-loop`: issue 9's closed loop on 8 CPU ranks. For a small GPT and a small LLaMA:
// profile the executor's layers and this machine's collectives (`galvatron profile --device cpu --ranks 8`),
// plan with that profile (hand-given shapes with `galvatron estimate -o`, the searched plan and a
// memory-tight searched plan with `galvatron plan -o`), train every plan (`galvatron train --device cpu
// --json`) in rounds, and write docs/closed-loop.md: predicted against measured step time and memory.
// Everything runs through the CLI, as a user would run it. Environment: CLOSED_LOOP_ROUNDS (default 3),
// CLOSED_LOOP_STEPS (10), CLOSED_LOOP_DIR (where profiles, plans and runs are kept; default a temporary
// directory), CLOSED_LOOP_PROFILES=dir (reuse <model>.profile.json from there instead of profiling).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import type { Plan } from '../src/plan/schema.js';
import { planInputFromPlan } from '../src/plan/to-cost.js';
import { planSummary } from '../src/cli/plan-format.js';
import { allocatorBudgetBytes } from '../src/runtime/memory-report.js';
import { parseTrainOutput, planRow, renderReport, summarize, type PlanKind, type PlanRow, type TrainOutput } from './closed-loop-report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROUNDS = Number(process.env['CLOSED_LOOP_ROUNDS'] ?? 3);
const STEPS = Number(process.env['CLOSED_LOOP_STEPS'] ?? 10);
/** Steps left out of each run before the median: the first (accounted, allocations) and one more. */
const WARMUP = 2;
const RANKS = 8;
const GLOBAL_BATCH = 16;
const CLUSTER = 'examples/cpu-8-ranks.json';
/** Largest micro-batch the profile measures: no plan here runs more than 16 samples per rank. */
const MAX_MICRO_BATCH = 16;
/** The memory-tight search gets this share of the default searched plan's predicted peak. */
const TIGHT_SHARE = 0.5;

interface ModelCase {
  id: string;
  file: string;
}
const MODELS: ModelCase[] = [
  { id: 'small-gpt', file: 'examples/small-gpt.json' },
  { id: 'small-llama', file: 'examples/small-llama.json' },
];

/** Hand-given shapes, priced with `galvatron estimate` (global batch 16 on 8 ranks). */
const GIVEN: { label: string; args: string[] }[] = [
  { label: 'pure DP', args: ['--micro-batch', '2'] },
  { label: 'ZeRO-3', args: ['--dp-type', 'zero3', '--micro-batch', '2'] },
  { label: 'TP+SP', args: ['--tp', '2', '--sp', '--micro-batch', '4'] },
  { label: 'PP 1F1B', args: ['--pp', '2', '--micro-batch', '1'] },
  { label: '3D', args: ['--tp', '2', '--pp', '2', '--micro-batch', '2'] },
];

/** What the cost model does not price in this setup (8 ranks sharing 2 cores, the executor on gloo). */
const GAPS = [
  'Where the time goes, timed inside the executor for small-gpt pure DP (each rank\'s mean over steps 2–9, 8 ranks, load about 6, 2026-12-07): forward and backward 323–349 ms (the profile prices 289), the DP gradient all-reduce 63–117 ms (priced 65 exposed; the same 13.8 MB all-reduce alone in the profile takes about 45 ms, the rest is waiting for the slowest rank to arrive), the gradient-norm all-reduce 10–39 ms (priced 12, its latency alone), the optimizer 13–28 ms (priced 20).',
  'Waiting for the slowest rank: a collective starts when its last member arrives. Ranks that share 2 cores drift apart by tens of milliseconds within a step, and no term prices that wait; on GPUs, where every rank has its own device, the drift is far smaller.',
  'The gradient collectives\' latency: the executor runs one collective per run of consecutive layers that share a DP group (`data_parallel.py`), after the last micro-batch\'s backward; the model prices one per layer, overlapped with that layer\'s backward.',
  'Pipeline bubbles on shared cores: while a stage waits, the other ranks get its share of the 2 cores and run faster than the profile (taken with every rank busy) says, so pipelined plans come out faster than predicted.',
  'Other work on the machine: the profile and the runs are minutes apart, and the machine\'s load (the column "load") moves step times by 10–50 % between them. Two runs of one plan (the searched plan and its twin among the given ones) differ by up to 12 %.',
];

function galvatron(args: string[], what: string): string {
  const run = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${what}: galvatron ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  return run.stdout;
}

const log = (line: string) => process.stderr.write(`closed-loop: ${line}\n`);

function readPlan(path: string): Plan {
  return JSON.parse(readFileSync(path, 'utf8')) as Plan;
}

interface Case {
  model: string;
  label: string;
  kind: PlanKind;
  planPath: string;
  runs: TrainOutput[];
  /** The 1-minute load average as each run started (this machine is shared). */
  loads: number[];
}

/** Rounds over a model's plans in turn, so that a slow spell of the machine touches all of them alike. */
function train(cases: Case[]): void {
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      log(`round ${round + 1}/${ROUNDS}: training ${c.model} ${c.label}`);
      c.loads.push(loadavg()[0]!);
      const out = galvatron(['train', '--plan', c.planPath, '--device', 'cpu', '--steps', String(STEPS), '--json'], `train ${c.model} ${c.label}`);
      writeFileSync(`${c.planPath.replace(/\.plan\.json$/, '')}.round${round + 1}.jsonl`, out);
      c.runs.push(parseTrainOutput(out));
    }
  }
}

function main(): void {
  const dir = process.env['CLOSED_LOOP_DIR'] ?? mkdtempSync(join(tmpdir(), 'galvatron-closed-loop-'));
  mkdirSync(dir, { recursive: true });
  const reuse = process.env['CLOSED_LOOP_PROFILES'];
  const started = new Date();
  const loadBefore = loadavg();
  log(`working in ${dir}`);
  const cases: Case[] = [];
  const profiles: string[] = [];
  const loads: { profile: string; start: number; end: number }[] = [];
  // One model at a time: its profile, its plans, then its rounds of training, so that the runs follow
  // the profile they are predicted from closely in time.
  for (const m of MODELS) {
    const mine: Case[] = [];
    const profile = reuse ? join(reuse, `${m.id}.profile.json`) : join(dir, `${m.id}.profile.json`);
    if (!reuse || !existsSync(profile)) {
      log(`profiling ${m.id} on ${RANKS} CPU ranks`);
      const start = loadavg()[0]!;
      galvatron(['profile', '--model', m.file, '--device', 'cpu', '--ranks', String(RANKS), '--max-micro-batch', String(MAX_MICRO_BATCH), '-o', profile], `profile ${m.id}`);
      loads.push({ profile: m.id, start, end: loadavg()[0]! });
    }
    profiles.push(profile);
    const common = ['--model', m.file, '--cluster', CLUSTER, '--gpus', String(RANKS), '--global-batch', String(GLOBAL_BATCH), '--precision', 'fp32', '--memory-reserve-gib', '0', '--profile', profile];
    for (const g of GIVEN) {
      const planPath = join(dir, `${m.id}.${g.label.replace(/\W+/g, '-').toLowerCase()}.plan.json`);
      galvatron(['estimate', ...common, ...g.args, '-o', planPath, '--json'], `estimate ${m.id} ${g.label}`);
      mine.push({ model: m.id, label: g.label, kind: 'given', planPath, runs: [], loads: [] });
    }
    const searched = join(dir, `${m.id}.searched.plan.json`);
    galvatron(['plan', ...common, '-o', searched, '--json'], `plan ${m.id}`);
    mine.push({ model: m.id, label: 'searched', kind: 'searched', planPath: searched, runs: [], loads: [] });
    const tightGiB = readPlan(searched).predicted.memoryPerGpuGiB * TIGHT_SHARE;
    const tight = join(dir, `${m.id}.searched-tight.plan.json`);
    galvatron(['plan', ...common, '--memory-gib', tightGiB.toPrecision(4), '-o', tight, '--json'], `plan ${m.id} --memory-gib ${tightGiB}`);
    mine.push({ model: m.id, label: `searched, ${(tightGiB * 1024).toFixed(1)} MiB`, kind: 'searched, memory-tight', planPath: tight, runs: [], loads: [] });
    train(mine);
    cases.push(...mine);
  }
  const rows: PlanRow[] = cases.map((c) => {
    const plan = readPlan(c.planPath);
    return planRow({
      model: c.model,
      label: c.label,
      kind: c.kind,
      shape: planSummary(planInputFromPlan(plan)),
      predictedStepS: plan.predicted.iterationTimeS,
      budgetBytes: allocatorBudgetBytes(plan) ?? plan.predicted.memoryBudgetGiB * 1024 ** 3,
      runs: c.runs,
      warmup: WARMUP,
      loadAverages: c.loads,
    });
  });
  const summary = summarize(rows);
  writeFileSync(join(dir, 'rows.json'), JSON.stringify({ rows, summary }, null, 2));
  const machineOf = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as { machine?: { torchVersion?: string; wallTimeS?: number } }).machine;
  const torch = machineOf(profiles[0]!)?.torchVersion ?? 'unknown';
  const loadAfter = loadavg();
  const minutes = (Date.now() - started.getTime()) / 60e3;
  const report = renderReport(rows, summary, {
    command: 'npm run bench:closed-loop',
    date: started.toISOString().slice(0, 10),
    machine: `${hostname()} (${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; torch ${torch}, gloo, float32)`,
    setup: [
      `${RANKS} CPU ranks (one BLAS thread each) on ${availableParallelism()} cores, cluster file \`${CLUSTER}\`; global batch ${GLOBAL_BATCH}, fp32, no runtime reserve (\`--memory-reserve-gib 0\`).`,
      `Profiles: \`galvatron profile --model <model> --device cpu --ranks ${RANKS} --max-micro-batch ${MAX_MICRO_BATCH}\` (the full profile, micro-batches up to ${MAX_MICRO_BATCH}), ` +
        profiles.map((p) => `${machineOf(p)?.wallTimeS?.toFixed(0) ?? '?'} s`).join(' and ') + '.',
      `Plans: the given shapes with \`galvatron estimate … --profile\`, the searched one with \`galvatron plan … --profile\`, the memory-tight one with \`--memory-gib\` at ${100 * TIGHT_SHARE} % of the searched plan's predicted peak.`,
      `Each plan trained ${ROUNDS} time(s) (rounds over all plans in turn) for ${STEPS} steps with \`galvatron train --device cpu --json\`; the first ${WARMUP} steps of each run are warm-up.`,
      `The machine is shared with other work: load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} at the start and ${loadAfter.map((l) => l.toFixed(1)).join(' / ')} at the end (1/5/15 min); ` +
        `1-minute load while profiling: ${loads.map((l) => `${l.profile} ${l.start.toFixed(1)} → ${l.end.toFixed(1)}`).join(', ') || 'profiles reused'}; ` +
        `the column "load" is the 1-minute load average as each plan's runs started (our own 8 ranks add up to 8). The whole run took ${minutes.toFixed(0)} min.`,
    ],
    gaps: GAPS,
  });
  writeFileAtomic(join(root, 'docs', 'closed-loop.md'), report);
  process.stdout.write(report);
}

main();
