// `npm run bench`: runs every benchmark and writes its Markdown report under docs/.
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { runCostModelBench } from './cost-model.bench.js';
import { spawnSync } from 'node:child_process';
import { runCommand, runPlanCommandBench } from './plan-command.bench.js';
import { SEARCH_CASES, type SearchBenchRow } from './search.bench.js';
import { runStageDpBench } from './stage-dp.bench.js';
import { writeUiBench } from './ui.bench.js';

const root = new URL('../../', import.meta.url);
/** Wall-time cap per search case and per command (seconds); BENCH_CASE_LIMIT_S overrides. */
const CASE_LIMIT_S = Number(process.env['BENCH_CASE_LIMIT_S'] ?? 120);
const write = (name: string, lines: string[]) => {
  writeFileAtomic(fileURLToPath(new URL(`docs/${name}`, root)), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
};

const costRows = runCostModelBench();
const base = costRows[0]!;
write('cost-benchmark.md', [
  '# Cost-model benchmark',
  '',
  'Written by `npm run bench`. Time to price one whole uniform plan (every layer, embedding, head, pipeline) with `pricePlan`,',
  'measured in one run on this machine; the last column is the cost per layer relative to the first row.',
  '',
  '| model | GPUs | layers | µs per plan | µs per layer | per-layer cost vs first row |',
  '|---|---|---|---|---|---|',
  ...costRows.map((r) => `| ${r.model} | ${r.gpus} | ${r.layers} | ${r.microsecondsPerPlan.toFixed(1)} | ${r.microsecondsPerLayer.toFixed(2)} | ${(r.microsecondsPerLayer / base.microsecondsPerLayer).toFixed(2)}× |`),
]);

// What users wait for first: the whole command, each case with its variants.
const sec = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(2));
const commandRows: string[] = [];
for (const c of SEARCH_CASES) {
  for (const { variant, run } of runPlanCommandBench(c, CASE_LIMIT_S)) {
    const rest = run.wallS !== undefined && run.searchS !== undefined ? run.wallS - run.searchS : undefined;
    commandRows.push(
      `| ${c.model} | ${c.cluster} | ${c.gpus} | ${c.globalBatch}${c.precision ? ` ${c.precision}` : ''} | ${variant} | ${run.error ? `> ${CASE_LIMIT_S} or failed: ${run.error}` : sec(run.wallS)} | ${sec(run.searchS)} | ${sec(rest)} | ${run.shape} | ${run.iterationS === undefined ? '–' : (run.iterationS * 1000).toFixed(0)} | ${run.exact === undefined ? '–' : run.exact ? 'yes' : 'no'} |`,
    );
    console.log(commandRows[commandRows.length - 1]);
  }
}
// Megatron's hand-tuned interleaved configuration for GPT-3 175B on 64 A100s, priced by our model.
const handTuned = runCommand(['estimate', '--model', 'gpt3-175b', '--cluster', 'dgx-a100-80g', '--gpus', '64', '--global-batch', '64', '--precision', 'fp16', '--tp', '8', '--pp', '8', '--vpp', '3', '--micro-batch', '1', '--recompute', 'selective', '--sp'], CASE_LIMIT_S);
const commandSection = [
  '## Whole command (what a user waits for)',
  '',
  'Wall time of the whole `galvatron plan … --json` process, start to exit (loading, search, baselines, output), one run',
  'each, next to the search\'s own time as the command reports it; "rest" is loading, baselines and output. Default flags',
  'interleave up to 3 chunks per GPU; `--max-vpp 1` leaves interleaving out, `--workers 2` solves tasks on 2 threads.',
  'Targets (issue 11): ≤ 1 s for GPT-3 13B on 64 GPUs, ≤ 5 s for GPT-3 175B on 1024 GPUs and on 64 GPUs (batch 64, fp16),',
  `≤ 60 s for LLaMA-3.1 405B on 16384 H100s. Each command is stopped after ${CASE_LIMIT_S} s.`,
  '',
  '| model | cluster | GPUs | global batch | flags | whole command s | search s | rest s | plan | iteration ms | exact |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...commandRows,
  '',
  `Megatron's hand-tuned interleaved configuration for GPT-3 175B on 64 A100s (\`--tp 8 --pp 8 --vpp 3 --micro-batch 1 --recompute selective --sp\`, fp16, batch 64), priced by \`galvatron estimate\`: ${handTuned.iterationS === undefined ? `failed (${handTuned.error})` : `${(handTuned.iterationS * 1000).toFixed(0)} ms`}.`,
  '',
];

const stage = [runStageDpBench(8, 8, 15), runStageDpBench(24, 40, 3), runStageDpBench(40, 60, 3)];
const header = [
  '# Search benchmark',
  '',
  'Written by `npm run bench` on this machine (2 cores), one run; ratios are within that run.',
  '',
  ...commandSection,
  '## Stage DP: Pareto frontier vs a 1 MB-grid DP (Galvatron\'s method), same stage problem',
  '',
  'GPT-3 13B layers on one 8-GPU stage (A100 40GB), 8 micro-batches, every strategy of the default space after exact pruning;',
  'per-layer memory rounded up to whole MB so both solve exactly the same problem. Both must return the same optimum.',
  'Times are medians of repeated runs (15 at 8 layers, 3 above) after 5 warm-up runs of each DP.',
  '',
  '| layers | strategies | budget MB | frontier ms | grid ms | grid / frontier | same optimum |',
  '|---|---|---|---|---|---|---|',
  ...stage.map((r) => `| ${r.layers} | ${r.strategies} | ${r.budgetMb} | ${r.frontierMs.toFixed(1)} | ${r.gridMs.toFixed(0)} | ${(r.gridMs / r.frontierMs).toFixed(1)}× | ${r.frontierCost === r.gridCost ? 'yes' : `NO (${r.frontierCost} vs ${r.gridCost})`} |`),
  '',
  '## The search alone (`galvatron plan` defaults: frontier limit 64, up to 3 interleaved chunks; then with no limit, `--exact`)',
  '',
  `The search function in its own process per case, without loading, baselines or output. Each case is stopped after ${CASE_LIMIT_S} s.`,
  '"exact" = no frontier was thinned (proven optimal on the model).',
  '',
  '| model | cluster | GPUs | global batch | seconds | tasks | exact | plan | iteration s | MFU |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
const rows: string[] = [];
const cases: [number, string][] = [...SEARCH_CASES.map((_, i) => [i, '64'] as [number, string]), ...SEARCH_CASES.map((_, i) => [i, 'none'] as [number, string])];
for (const [index, limit] of cases) {
  const c = SEARCH_CASES[index]!;
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('./search-case.js', import.meta.url)), String(index), limit], { encoding: 'utf8', timeout: CASE_LIMIT_S * 1000 });
  const label = `${limit === 'none' ? ' (no limit)' : ''}`;
  if (run.status !== 0 || !run.stdout.trim()) {
    rows.push(`| ${c.model} | ${c.cluster} | ${c.gpus} | ${c.globalBatch}${c.precision ? ` ${c.precision}` : ''} | > ${CASE_LIMIT_S}${label} (stopped) | – | – | – | – | – |`);
  } else {
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as SearchBenchRow;
    rows.push(`| ${r.model} | ${r.cluster} | ${r.gpus} | ${r.globalBatch}${r.precision ? ` ${r.precision}` : ''} | ${r.seconds.toFixed(2)}${label} | ${r.tasks} | ${r.exact ? 'yes' : 'no'} | ${r.plan} | ${r.iterationS.toFixed(3)} | ${(100 * r.mfu).toFixed(1)} % |`);
  }
  write('search-benchmark.md', [...header, ...rows]);
}

// The plan explorer in headless chromium: page load and a 64-GPU search updating the view (docs/ui-benchmark.md).
await writeUiBench();
