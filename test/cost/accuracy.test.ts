// The calibrated model against every published run: mean absolute error ≤ 10 %, none worse than 25 %.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildAccuracyReport } from '../../src/calibrate/accuracy.js';
import { MeasurementsSchema } from '../../src/calibrate/measurements.js';
import { loadCostConstants } from '../../src/cost/constants.js';

const data = MeasurementsSchema.parse(JSON.parse(readFileSync(new URL('../../../data/reference/measurements.json', import.meta.url), 'utf8')));

test('iteration time: mean absolute error ≤ 10 % and every run within 25 %', () => {
  const report = buildAccuracyReport(data.points, loadCostConstants());
  assert.equal(report.rows.length, data.points.length);
  for (const row of report.rows) {
    assert.ok(Math.abs(row.error) <= 0.25, `${row.priced.point.id}: ${(100 * row.error).toFixed(1)} %`);
  }
  assert.ok(report.meanAbsoluteError <= 0.1, `mean absolute error ${(100 * report.meanAbsoluteError).toFixed(1)} %`);
});

test('the repo copy of the measurements is the shared reference, when shared/ is beside the repo', (t) => {
  let shared: string;
  try {
    shared = readFileSync(new URL('../../../../shared/reference/measurements.json', import.meta.url), 'utf8');
  } catch {
    t.skip('shared/ is not beside this checkout');
    return;
  }
  assert.deepEqual(JSON.parse(shared), JSON.parse(readFileSync(new URL('../../../data/reference/measurements.json', import.meta.url), 'utf8')));
});
