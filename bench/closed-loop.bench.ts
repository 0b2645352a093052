// `npm run bench:closed-loop`: issue 9's closed loop on 8 CPU ranks. For a small GPT and a small LLaMA:
// profile the executor's layers and this machine's collectives (`galvatron profile --device cpu --ranks 8`),
// plan with that profile (hand-given shapes with `galvatron estimate -o`, the searched plan and a
// memory-tight searched plan with `galvatron plan -o`), train every plan (`galvatron train --device cpu
// --json`) in rounds, and write docs/closed-loop.md: predicted against measured step time and memory.
// Everything runs through the CLI, as a user would run it. Environment: CLOSED_LOOP_ROUNDS (default 2),
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
const ROUNDS = Number(process.env['CLOSED_LOOP_ROUNDS'] ?? 2);
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
  for (const m of MODELS) {
    const profile = reuse ? join(reuse, `${m.id}.profile.json`) : join(dir, `${m.id}.profile.json`);
    if (!reuse || !existsSync(profile)) {
      log(`profiling ${m.id} on ${RANKS} CPU ranks`);
      galvatron(['profile', '--model', m.file, '--device', 'cpu', '--ranks', String(RANKS), '--max-micro-batch', String(MAX_MICRO_BATCH), '-o', profile], `profile ${m.id}`);
    }
    profiles.push(profile);
    const common = ['--model', m.file, '--cluster', CLUSTER, '--gpus', String(RANKS), '--global-batch', String(GLOBAL_BATCH), '--precision', 'fp32', '--memory-reserve-gib', '0', '--profile', profile];
    for (const g of GIVEN) {
      const planPath = join(dir, `${m.id}.${g.label.replace(/\W+/g, '-').toLowerCase()}.plan.json`);
      galvatron(['estimate', ...common, ...g.args, '-o', planPath, '--json'], `estimate ${m.id} ${g.label}`);
      cases.push({ model: m.id, label: g.label, kind: 'given', planPath, runs: [] });
    }
    const searched = join(dir, `${m.id}.searched.plan.json`);
    galvatron(['plan', ...common, '-o', searched, '--json'], `plan ${m.id}`);
    cases.push({ model: m.id, label: 'searched', kind: 'searched', planPath: searched, runs: [] });
    const tightGiB = readPlan(searched).predicted.memoryPerGpuGiB * TIGHT_SHARE;
    const tight = join(dir, `${m.id}.searched-tight.plan.json`);
    galvatron(['plan', ...common, '--memory-gib', tightGiB.toPrecision(4), '-o', tight, '--json'], `plan ${m.id} --memory-gib ${tightGiB}`);
    cases.push({ model: m.id, label: `searched, ${(tightGiB * 1024).toFixed(1)} MiB`, kind: 'searched, memory-tight', planPath: tight, runs: [] });
  }
  // Rounds over every plan in turn, so that a slow spell of the machine touches all plans alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      log(`round ${round + 1}/${ROUNDS}: training ${c.model} ${c.label}`);
      const out = galvatron(['train', '--plan', c.planPath, '--device', 'cpu', '--steps', String(STEPS), '--json'], `train ${c.model} ${c.label}`);
      writeFileSync(`${c.planPath.replace(/\.plan\.json$/, '')}.round${round + 1}.jsonl`, out);
      c.runs.push(parseTrainOutput(out));
    }
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
      `The machine is shared: load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} at the start and ${loadAfter.map((l) => l.toFixed(1)).join(' / ')} at the end (1/5/15 min); the whole run took ${minutes.toFixed(0)} min.`,
    ],
  });
  writeFileAtomic(join(root, 'docs', 'closed-loop.md'), report);
  process.stdout.write(report);
}

main();
