// The fit recovers constants it is given: runs priced by the model itself with known constants are fitted
// back to those constants, from the defaults. The memory case is checked by hand against the priced
// stage's own bytes; the lower-bound error (a run out of memory) by hand too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { fitConstantsMultiStart, logError, type FitTarget } from '../../src/calibrate/fit.js';
import { readRuns } from '../../src/calibrate/runs.js';
import { allocatorPeakBytes, MEMORY_FITTED, runTargets, TIME_FITTED } from '../../src/calibrate/runs-fit.js';
import { loadCostConstants } from '../../src/cost/constants.js';
import type { CostConstants } from '../../src/cost/types.js';
import { priceForExecutor } from '../../src/plan/to-cost.js';

const RUNS = fileURLToPath(new URL('../../../test/fixtures/h200-2026-11-30/runs.jsonl', import.meta.url));
const runs = readRuns(RUNS);
const defaults = loadCostConstants();

/** Known constants, away from the defaults and from every bound; the floor binds only at micro-batch 1. */
const KNOWN: CostConstants = {
  ...defaults,
  gemmEfficiencyScale: 0.75,
  kernelOverheadUs: 8,
  layerHostUs: 900,
  hbmEfficiency: 0.7,
  flashAttentionEfficiency: 0.8,
  activationFragmentation: 1.25,
};

describe('fitting constants', () => {
  it('recovers the five time constants from the seven H200 plans priced with them', () => {
    const targets = runs.flatMap((run) => {
      const time = runTargets(run, defaults).time;
      return time ? [{ ...time, measured: time.predict(KNOWN) }] : [];
    });
    assert.equal(targets.length, 7);
    // The defaults miss the synthetic times by 5–25 %; the fit starts there.
    assert.ok(targets.some((t) => Math.abs(t.predict(defaults) / t.measured - 1) > 0.05));
    const { constants } = fitConstantsMultiStart(targets, defaults, TIME_FITTED);
    for (const p of TIME_FITTED) {
      // hbmEfficiency prices only the elementwise terms (~8 % of a step), so it is the least determined.
      assert.ok(Math.abs(constants[p.key] / KNOWN[p.key] - 1) < 1e-3, `${p.key}: ${constants[p.key]} vs ${KNOWN[p.key]}`);
    }
    for (const t of targets) assert.ok(Math.abs(t.predict(constants) / t.measured - 1) < 1e-5, t.id);
    // Memory constants are not touched by a time fit.
    assert.equal(constants.activationFragmentation, defaults.activationFragmentation);
  });

  it('recovers activation fragmentation from one allocator peak, as the stage bytes give it by hand', () => {
    const run = runs.find((r) => r.id === 'plan-g13-full')!;
    // Priced as it ran: that executor had no dropout (the record says so).
    assert.equal(run.dropout, false);
    // At fragmentation 1 the stage holds S + A + T bytes; a peak of S + 1.25·A + T means 1.25.
    const stage = priceForExecutor(run.plan, run.dtype, { ...defaults, activationFragmentation: 1 }, run.dropout)!.stages[0]!.memory;
    const measured = stage.modelStateBytes + 1.25 * stage.activationBytes + stage.transientBytes;
    const target = { ...runTargets(run, defaults).memory!, measured };
    assert.ok(Math.abs(allocatorPeakBytes(priceForExecutor(run.plan, run.dtype, KNOWN, run.dropout)!) / measured - 1) < 1e-12);
    const { constants } = fitConstantsMultiStart([target], defaults, MEMORY_FITTED);
    assert.ok(Math.abs(constants.activationFragmentation - 1.25) < 1e-6, String(constants.activationFragmentation));
    assert.equal(constants.gemmEfficiencyScale, defaults.gemmEfficiencyScale);
  });

  it('counts only the shortfall of a lower bound (a run out of memory)', () => {
    const target = (predicted: number, lowerBound: boolean): FitTarget => ({ id: 'x', measured: 100, predict: () => predicted, lowerBound });
    assert.equal(logError(target(120, true), defaults), 0);
    assert.equal(logError(target(80, true), defaults), Math.log(0.8));
    assert.equal(logError(target(120, false), defaults), Math.log(1.2));
  });
});
