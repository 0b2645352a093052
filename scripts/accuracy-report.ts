// `npm run accuracy`: prices every published run and writes docs/accuracy.md (predicted vs measured).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { buildAccuracyReport, renderAccuracyMarkdown } from '../src/calibrate/accuracy.js';
import { MeasurementsSchema } from '../src/calibrate/measurements.js';
import { loadCostConstants } from '../src/cost/constants.js';

const root = new URL('../../', import.meta.url);
const data = MeasurementsSchema.parse(JSON.parse(readFileSync(new URL('data/reference/measurements.json', root), 'utf8')));
const report = buildAccuracyReport(data.points, loadCostConstants());
const path = fileURLToPath(new URL('docs/accuracy.md', root));
writeFileAtomic(path, renderAccuracyMarkdown(report));
console.log(`mean absolute error ${(100 * report.meanAbsoluteError).toFixed(1)} %, worst ${(100 * report.worstAbsoluteError).toFixed(1)} % (${report.worstId}); wrote ${path}`);
