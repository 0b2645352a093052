// `npm run calibrate`: re-fits src/cost/calibration.json to data/reference/measurements.json.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { loadCostConstants } from '../src/cost/constants.js';
import { FITTED, fitConstants, predictedIterationS, publishedTargets } from '../src/calibrate/fit.js';
import { MeasurementsSchema, pricedPoint } from '../src/calibrate/measurements.js';

const root = new URL('../../', import.meta.url);
const data = MeasurementsSchema.parse(JSON.parse(readFileSync(new URL('data/reference/measurements.json', root), 'utf8')));
const points = data.points.map(pricedPoint);
const start = loadCostConstants();
const { constants, objective, iterations } = fitConstants(publishedTargets(points), start);
console.log(`fit: ${iterations} iterations, mean squared log error ${objective.toFixed(5)}`);
for (const p of FITTED) console.log(`  ${p.key}: ${start[p.key]} → ${constants[p.key].toPrecision(4)}`);
for (const point of points) {
  const error = predictedIterationS(point, constants) / point.measuredIterationS - 1;
  console.log(`  ${point.point.id.padEnd(34)} ${(100 * error).toFixed(1).padStart(6)} %`);
}
const rounded = Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, Number(v.toPrecision(4))]));
const path = fileURLToPath(new URL('src/cost/calibration.json', root));
const previous = JSON.parse(readFileSync(path, 'utf8')) as { about: string };
writeFileAtomic(path, `${JSON.stringify({ about: previous.about, constants: rounded }, null, 2)}\n`);
console.log(`wrote ${path}`);
