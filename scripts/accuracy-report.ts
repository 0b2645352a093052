// `npm run accuracy`: prices every published run and writes docs/accuracy.md (predicted vs measured).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { buildAccuracyReport, renderAccuracyMarkdown } from '../src/calibrate/accuracy.js';
import { MeasurementsSchema } from '../src/calibrate/measurements.js';
import { calibrateRuns } from '../src/calibrate/runs-fit.js';
import { readRuns } from '../src/calibrate/runs.js';
import { loadCostConstants } from '../src/cost/constants.js';

const root = new URL('../../', import.meta.url);
const data = MeasurementsSchema.parse(JSON.parse(readFileSync(new URL('data/reference/measurements.json', root), 'utf8')));
const report = buildAccuracyReport(data.points, loadCostConstants());
// The executor's own runs (test/fixtures/h200-2026-11-30), calibrated as `galvatron calibrate` does.
const runsPath = 'test/fixtures/h200-2026-11-30/runs.jsonl';
const calibration = calibrateRuns(readRuns(fileURLToPath(new URL(runsPath, root))), loadCostConstants());
const path = fileURLToPath(new URL('docs/accuracy.md', root));
writeFileAtomic(path, renderAccuracyMarkdown(report, { report: calibration, runsPath }));
const pct = (x: number | null | undefined) => (x == null ? '–' : `${(100 * x).toFixed(1)} %`);
console.log(`mean absolute error ${pct(report.meanAbsoluteError)}, worst ${pct(report.worstAbsoluteError)} (${report.worstId})`);
console.log(`H200 executor runs, leave-one-out after calibration: step time ${pct(calibration.time?.meanAbsoluteError.leaveOneOut)}, allocator peak ${pct(calibration.memory?.meanAbsoluteError.leaveOneOut)}`);
console.log(`wrote ${path}`);
