// Quick look: predicted vs measured iteration time of every published point, with the breakdown.
import { readFileSync } from 'node:fs';
import { MeasurementsSchema, pricedPoint, pointPlanInput } from '../src/calibrate/measurements.js';
import { loadCostConstants } from '../src/cost/constants.js';
import { pricePlan } from '../src/cost/plan-cost.js';

const data = MeasurementsSchema.parse(JSON.parse(readFileSync(new URL('../../data/reference/measurements.json', import.meta.url), 'utf8')));
const constants = loadCostConstants();
for (const point of data.points) {
  const priced = pricedPoint(point);
  const cost = pricePlan(pointPlanInput(priced, constants));
  const err = cost.iterationTimeS / priced.measuredIterationS - 1;
  const top = Object.entries(cost.breakdown).filter(([, s]) => s > 0.01 * cost.iterationTimeS).map(([k, s]) => `${k}=${(100 * s / cost.iterationTimeS).toFixed(0)}%`).join(' ');
  console.log(`${point.id.padEnd(34)} pred ${cost.iterationTimeS.toFixed(3).padStart(7)} meas ${priced.measuredIterationS.toFixed(3).padStart(7)} err ${(100 * err).toFixed(1).padStart(6)}%  mem ${(cost.memoryPerGpuBytes / 2 ** 30).toFixed(1)}GiB  ${top}`);
}
