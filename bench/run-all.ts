// `npm run bench`: runs every benchmark and writes its Markdown report under docs/.
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { runCostModelBench } from './cost-model.bench.js';

const root = new URL('../../', import.meta.url);
const rows = runCostModelBench();
const base = rows[0]!;
const lines = [
  '# Cost-model benchmark',
  '',
  'Written by `npm run bench`. Time to price one whole uniform plan (every layer, embedding, head, pipeline) with `pricePlan`,',
  'measured in one run on this machine; the last column is the cost per layer relative to the first row (flat means pricing scales with layer count only).',
  '',
  '| model | GPUs | layers | µs per plan | µs per layer | per-layer cost vs first row |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.model} | ${r.gpus} | ${r.layers} | ${r.microsecondsPerPlan.toFixed(1)} | ${r.microsecondsPerLayer.toFixed(2)} | ${(r.microsecondsPerLayer / base.microsecondsPerLayer).toFixed(2)}× |`),
  '',
];
const path = fileURLToPath(new URL('docs/cost-benchmark.md', root));
writeFileAtomic(path, lines.join('\n'));
console.log(lines.join('\n'));
