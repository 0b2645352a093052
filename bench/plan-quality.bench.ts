// `npm run bench:quality`: our plan's throughput against each baseline, in the Galvatron papers' settings
// (models × 8/16 GPUs × a PCIe cluster and DGX A100 40GB × 8/12/16/20 GB per GPU). Writes
// docs/plan-quality.md, one row at a time (a long run can be stopped and still leave a report).
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { loadCluster } from '../src/hardware/load.js';
import { loadModel } from '../src/model/load.js';
import { BASELINE_FAMILIES, fasterEvenPartitionPlan, priceBaseline, priceBaselines } from '../src/search/baselines.js';
import { searchPlan } from '../src/search/search.js';
import { defaultRules } from '../src/strategy/candidates.js';

const MODELS = ['gpt3-1.3b', 'gpt3-2.7b', 'gpt3-6.7b', 'llama2-7b', 'llama2-13b', 'bert-large', 't5-large', 'vit-huge'];
const CLUSTERS = ['8x-rtx4090-pcie', 'dgx-a100-40g'];
const GPUS = [8, 16];
const BUDGETS_GB = [8, 12, 16, 20];
const FRONTIER_LIMIT = Number(process.env['QUALITY_FRONTIER_LIMIT'] ?? 32);
/** Global batch per GPU count (fixed, as in the papers' throughput comparisons). */
const BATCH_PER_GPU = 4;

const path = fileURLToPath(new URL('../../docs/plan-quality.md', import.meta.url));
const header = [
  '# Plan quality against the baselines',
  '',
  `Written by \`npm run bench:quality\`. Global batch ${BATCH_PER_GPU} × GPUs, memory budget per GPU in GB (10⁹ bytes), frontier limit ${FRONTIER_LIMIT}, no interleaving (as in the papers).`,
  'Each cell is our throughput ÷ that baseline\'s (samples/s); "–" = the baseline does not fit; "none" = no plan fits at all.',
  '',
  `| model | cluster | GPUs | GB | ours samples/s | ${BASELINE_FAMILIES.join(' | ')} |`,
  `|---|---|---|---|---|${BASELINE_FAMILIES.map(() => '---').join('|')}|`,
];
const rows: string[] = [];
const shortcut = { applied: 0, differing: [] as string[] };
for (const modelId of MODELS) {
  const model = loadModel(modelId);
  for (const clusterId of CLUSTERS) {
    for (const gpus of GPUS) {
      const cluster = loadCluster(clusterId, gpus);
      for (const gb of BUDGETS_GB) {
        const memoryGiB = (gb * 1e9) / 1024 ** 3;
        const globalBatch = BATCH_PER_GPU * gpus;
        const result = searchPlan(model, cluster, { globalBatch, rules: defaultRules(), memoryGiB, frontierLimit: FRONTIER_LIMIT, maxVirtualStages: 1 });
        const baselines = priceBaselines(model, cluster, { globalBatch, memoryGiB, frontierLimit: FRONTIER_LIMIT });
        // `galvatron plan` takes the even-partition baseline from the search's own result where that settles
        // it; check that it is the full even-partition search's plan, case by case.
        const viaSearch = priceBaseline('galvatron-even', model, cluster, { globalBatch, memoryGiB, frontierLimit: FRONTIER_LIMIT, exactSearch: result });
        if (result.exact && result.uniform) {
          shortcut.applied++;
          const full = baselines.find((b) => b.family === 'galvatron-even')!;
          const same = JSON.stringify([full.input?.strategies, full.input?.embeddingStrategy, full.input?.pipeline, full.cost?.iterationTimeS]) === JSON.stringify([viaSearch.input?.strategies, viaSearch.input?.embeddingStrategy, viaSearch.input?.pipeline, viaSearch.cost?.iterationTimeS]);
          if (!same) shortcut.differing.push(`${modelId} ${clusterId} ${gpus} GPUs ${gb} GB`);
        }
        // As `galvatron plan` does: a thinned search that lost to the even-partition search shows that plan.
        const even = fasterEvenPartitionPlan(result.best, result.exact, baselines);
        const oursS = even?.cost?.iterationTimeS ?? result.best?.timeS;
        const ours = oursS !== undefined ? globalBatch / oursS : undefined;
        const cells = BASELINE_FAMILIES.map((family) => {
          const b = baselines.find((x) => x.family === family);
          if (!ours) return 'none';
          return b?.fits && b.cost ? `${(ours / b.cost.samplesPerS).toFixed(2)}×` : '–';
        });
        rows.push(`| ${modelId} | ${clusterId} | ${gpus} | ${gb} | ${ours ? ours.toFixed(2) : 'none'} | ${cells.join(' | ')} |`);
        writeFileAtomic(path, `${[...header, ...rows].join('\n')}\n`);
        console.log(rows[rows.length - 1]);
      }
    }
  }
}
const footer = [
  '',
  `The even-partition baseline as \`galvatron plan\` prices it (from the search's own result where the search was exact and no per-layer plan beat the best uniform one) against the full even-partition search: the shortcut applied in ${shortcut.applied} of ${rows.length} cases, and differed in ${shortcut.differing.length}${shortcut.differing.length ? ` (${shortcut.differing.join('; ')})` : ''}.`,
];
writeFileAtomic(path, `${[...header, ...rows, ...footer].join('\n')}\n`);
console.log(footer[1]);
if (shortcut.differing.length > 0) process.exitCode = 1;
