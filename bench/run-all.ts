// `npm run bench`: runs every benchmark and writes its Markdown report under docs/.
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { runCostModelBench } from './cost-model.bench.js';
import { spawnSync } from 'node:child_process';
import { SEARCH_CASES, type SearchBenchRow } from './search.bench.js';
import { runStageDpBench } from './stage-dp.bench.js';

const root = new URL('../../', import.meta.url);
/** Wall-time cap per search case (seconds); BENCH_CASE_LIMIT_S overrides. */
const CASE_LIMIT_S = Number(process.env['BENCH_CASE_LIMIT_S'] ?? 600);
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

const stage = [runStageDpBench(8, 8, 15), runStageDpBench(24, 40, 3), runStageDpBench(40, 60, 3)];
const header = [
  '# Search benchmark',
  '',
  'Written by `npm run bench` on this machine (2 cores), one run; ratios are within that run.',
  '',
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
  '## Whole search (`galvatron plan` defaults: frontier limit 64, no interleaving; then with no limit, `--exact`)',
  '',
  `Targets from the issue: ≤ 1 s at 64 GPUs, ≤ 10 s at 1024, ≤ 60 s at 16384. Each case runs in its own process, stopped after ${CASE_LIMIT_S} s.`,
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
    rows.push(`| ${c.model} | ${c.cluster} | ${c.gpus} | ${c.globalBatch} | > ${CASE_LIMIT_S}${label} (stopped) | – | – | – | – | – |`);
  } else {
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as SearchBenchRow;
    rows.push(`| ${r.model} | ${r.cluster} | ${r.gpus} | ${r.globalBatch} | ${r.seconds.toFixed(2)}${label} | ${r.tasks} | ${r.exact ? 'yes' : 'no'} | ${r.plan} | ${r.iterationS.toFixed(3)} | ${(100 * r.mfu).toFixed(1)} % |`);
  }
  write('search-benchmark.md', [...header, ...rows]);
}
