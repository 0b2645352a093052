// The first GPU runs of the executor (one H200, 2026-11-30; test/fixtures/h200-2026-11-30) as calibration
// fixtures: runs.jsonl holds what their raw outputs give, and the fit predicts them leave-one-out within
// the bounds below (docs/accuracy.md, "Calibration to executor runs").
//
// Measured when this test was written (cost model of this commit): step time mean |error| 29.7 % with the
// default constants, 4.5 % fitted, 8.6 % leave-one-out (worst 13.3 %, the 8 × 1-sample plan); allocator
// peak 12.5 %, 8.6 % and 10.2 %. The bounds add a margin for cost-model changes. The 10 % time target
// holds on the mean; the 5 % memory target does not: these runs used the older executor (autocast over
// fp32 weights), whose memory the model no longer describes, and need a run of today's executor.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from '../../src/runtime/run-record.js';
import { readRuns } from '../../src/calibrate/runs.js';
import { calibrateRuns } from '../../src/calibrate/runs-fit.js';
import { loadCostConstants } from '../../src/cost/constants.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/h200-2026-11-30/', import.meta.url));
const PLANS = ['g13-search', 'g13-mb2', 'g13-sel', 'g13-full', 'g13-mem24', 'l1-search', 'l1-mem40', 'l7-search'];
const GIB = 1024 ** 3;

interface Line {
  event: string;
  step?: number;
  stepTimeS?: number;
  peakMemoryBytes?: number;
  [key: string]: unknown;
}
const lines = (file: string): Line[] => readFileSync(`${FIXTURES}${file}`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);

describe('H200 fixtures', () => {
  it('runs.jsonl is the raw outputs: median of steps 1–4, the largest peak; LLaMA-2 7B out of memory', () => {
    const records = lines('runs.jsonl');
    assert.deepEqual(records.map((r) => r['plan']), PLANS.map((p) => `plan-${p}.json`));
    PLANS.forEach((name, i) => {
      const steps = lines(`run-${name}.jsonl`).filter((l) => l.event === 'step');
      const record = records[i]!;
      if (name === 'l7-search') {
        assert.equal(steps.length, 0);
        assert.equal(record['outOfMemory'], true);
        assert.equal(Math.round((record['peakBytes'] as number) / GIB * 10) / 10, 139.8);
        return;
      }
      assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3, 4]);
      assert.equal(record['stepTimeS'], median(steps.slice(1).map((s) => s.stepTimeS!)));
      assert.equal(record['peakBytes'], Math.max(...steps.map((s) => s.peakMemoryBytes!)));
    });
    // The README's table: g13-search 418 ms / 53.7 GiB, l1-search 589 ms / 80.9 GiB.
    assert.equal(Math.round((records[0]!['stepTimeS'] as number) * 1000), 418);
    assert.equal(Math.round((records[5]!['peakBytes'] as number) / GIB * 10) / 10, 80.9);
  });

  it('calibrated, predicts step time within 10 % leave-one-out on the mean, and memory within 12 %', () => {
    const report = calibrateRuns(readRuns(`${FIXTURES}runs.jsonl`), loadCostConstants());
    const time = report.time!;
    const memory = report.memory!;
    assert.equal(time.rows.length, 7);
    assert.equal(memory.rows.length, 8);
    // The defaults (fitted on published Megatron runs, with the host floor) under-predict every step of
    // this executor: 7–29 % (1.16–2.45× in the fixtures' README without the floor).
    assert.ok(time.rows.every((r) => r.before.error < -0.05), JSON.stringify(time.rows.map((r) => r.before.error)));
    assert.ok(time.meanAbsoluteError.before > 0.15);
    assert.ok(time.meanAbsoluteError.after <= 0.06, `after ${time.meanAbsoluteError.after}`);
    assert.ok(time.meanAbsoluteError.leaveOneOut! <= 0.1, `leave-one-out ${time.meanAbsoluteError.leaveOneOut}`);
    assert.ok(time.rows.every((r) => Math.abs(r.leaveOneOut!.error) <= 0.16), 'every run within 16 % leave-one-out');
    // The 8 micro-batches of 1 sample cost what they cost once the host floor is fitted.
    assert.ok(report.constants.layerHostUs > 500, `layerHostUs ${report.constants.layerHostUs}`);
    const mem24 = time.rows.find((r) => r.id === 'plan-g13-mem24')!;
    assert.ok(Math.abs(mem24.after.error) < 0.05);

    assert.ok(memory.meanAbsoluteError.after < memory.meanAbsoluteError.before);
    assert.ok(memory.meanAbsoluteError.after <= 0.1, `after ${memory.meanAbsoluteError.after}`);
    assert.ok(memory.meanAbsoluteError.leaveOneOut! <= 0.12, `leave-one-out ${memory.meanAbsoluteError.leaveOneOut}`);
    // Fitted, the LLaMA-2 7B plan no longer fits in the 139.8 GiB it ran out at; with the defaults it did.
    const l7 = memory.rows.find((r) => r.id === 'plan-l7-search')!;
    assert.ok(l7.lowerBound && l7.before.error < 0 && l7.after.error === 0);
    assert.ok(report.constants.activationFragmentation > report.base.activationFragmentation);
    // Fixed memory is outside the allocator: not fitted.
    assert.equal(report.constants.fixedMemoryGiB, report.base.fixedMemoryGiB);
  });
});
