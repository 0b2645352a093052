// Dynamic loss scaling (issue 13 item 4, python/galvatron_runtime/loss_scale.py) against the single-process
// reference: a few plans on 8 CPU ranks (gloo, float64 with --loss-scale dynamic, so that the check is exact)
// with an inf forced into one gradient on ONE rank (the last) at step 1. Every rank must skip that step and
// only that one (the found-inf flag is reduced over the whole world), leave its optimizer state bit-identical,
// and follow the reference's scale sequence; losses and final parameters must match to 1e-10 relative.
// One torchrun launch for all plans, as in equivalence.test.ts.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { TINY_LLAMA, tinyPlan, type PlanConfig } from './plans.js';
import { runTorchrunModule } from './torchrun.js';

const TOLERANCE = 1e-10;
const RANKS = 8;
const STEPS = 5;
const FORCED = 1;
// Window 2: the overflow at step 1 halves 2^16; good steps 2 and 3 double it back for step 4.
const WINDOW = 2;
const EXPECTED_SCALES = [65536, 65536, 32768, 32768, 65536];

const PLANS: [string, PlanConfig][] = [
  ['ZeRO-2 (dp 8)', { dpType: 'zero2' }],
  ['3D: TP 2 × PP 2 × DP 2 (1f1b)', { tp: 2, pp: 2 }],
  ['ZeRO-3 (dp 8)', { dpType: 'zero3' }],
  [
    'heterogeneous LLaMA on PP 2: tp4 sp / tp2 zero1 | tp1 zero3 / tp2 zero2',
    {
      model: TINY_LLAMA,
      pp: 2,
      tp: 2,
      microBatch: 2,
      layers: [
        { tp: 4, dp: 1, sequenceParallel: true },
        { tp: 2, dp: 2, dpType: 'zero1' },
        { tp: 1, dp: 4, dpType: 'zero3' },
        { tp: 2, dp: 2, dpType: 'zero2' },
      ],
    },
  ],
];

interface EquivalenceLine {
  event: 'equivalence';
  plan: string;
  losses: number[];
  referenceLosses: number[];
  maxLossRelError: number;
  maxParamRelError: number;
  worstParam: string;
  lossScales: number[];
  skipped: boolean[];
  referenceLossScales: number[];
  referenceSkipped: boolean[];
  referenceStateUnchanged: boolean[];
}

/** Printed by every rank for every plan and step. */
interface StepLine {
  event: 'step';
  plan: string;
  rank: number;
  step: number;
  lossScale: number;
  skipped: boolean;
  stateUnchanged?: boolean;
}

describe('fp16 loss scaling with a forced overflow step: 8 CPU ranks (float64) vs one process', { timeout: 10 * 60 * 1000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-loss-scaling-'));
  const paths = PLANS.map(([, config], i) => {
    const plan = tinyPlan({ ...config, precision: 'fp16' });
    validatePlanForExecutor(plan, RANKS);
    const path = join(dir, `plan-${i}.json`);
    writeFileSync(path, JSON.stringify(plan));
    return path;
  });
  let lines: EquivalenceLine[] = [];
  let steps: StepLine[] = [];
  let stderr = '';
  let code: number | null = null;

  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    const args = ['--steps', String(STEPS), '--dtype', 'float64', '--loss-scale', 'dynamic', '--loss-scale-window', String(WINDOW), '--inject-inf-step', String(FORCED), '--plans', ...paths];
    const run = await runTorchrunModule<EquivalenceLine | StepLine>('galvatron_runtime.equivalence', args, RANKS, ['equivalence', 'step']);
    lines = run.events.filter((l): l is EquivalenceLine => l.event === 'equivalence');
    steps = run.events.filter((l): l is StepLine => l.event === 'step');
    stderr = run.stderr;
    code = run.code;
  });

  it('the run ends cleanly with one result per plan', () => {
    assert.equal(code, 0, stderr.slice(-4000));
    assert.equal(lines.length, PLANS.length, stderr.slice(-4000));
  });

  PLANS.forEach(([name], i) => {
    it(name, () => {
      const line = lines.find((l) => l.plan === paths[i]);
      assert.ok(line, `no result for ${paths[i]}; stderr: ${stderr.slice(-2000)}`);
      assert.equal(line.losses.length, STEPS);
      line.losses.forEach((loss, step) => {
        const reference = line.referenceLosses[step]!;
        assert.ok(Number.isFinite(loss) && loss > 0, `step ${step} loss ${loss}`);
        assert.ok(Math.abs(loss - reference) <= TOLERANCE * Math.abs(reference), `step ${step}: ${loss} vs ${reference}`);
      });
      assert.ok(line.maxLossRelError <= TOLERANCE, `loss error ${line.maxLossRelError}`);
      assert.ok(line.maxParamRelError <= TOLERANCE, `parameter ${line.worstParam}: error ${line.maxParamRelError}`);
      // The scale sequence: identical on both sides and as the convention says.
      assert.deepEqual(line.referenceLossScales, EXPECTED_SCALES);
      assert.deepEqual(line.lossScales, EXPECTED_SCALES);
      const expectedSkips = Array.from({ length: STEPS }, (_, k) => k === FORCED);
      assert.deepEqual(line.referenceSkipped, expectedSkips);
      assert.deepEqual(line.skipped, expectedSkips);
      assert.deepEqual(line.referenceStateUnchanged, [true], 'the reference changed state on its skipped step');
      // Every rank's own report: exactly the forced step skipped, the same scales, its state untouched.
      const mine = steps.filter((s) => s.plan === paths[i]);
      assert.equal(mine.length, RANKS * STEPS, `step reports: ${mine.length}`);
      for (let rank = 0; rank < RANKS; rank++) {
        const reports = mine.filter((s) => s.rank === rank).sort((a, b) => a.step - b.step);
        assert.deepEqual(reports.map((s) => s.step), [...Array(STEPS).keys()], `rank ${rank}`);
        assert.deepEqual(reports.map((s) => s.skipped), expectedSkips, `rank ${rank} skipped`);
        assert.deepEqual(reports.map((s) => s.lossScale), EXPECTED_SCALES, `rank ${rank} scales`);
        assert.equal(reports[FORCED]!.stateUnchanged, true, `rank ${rank} changed its optimizer state on the skipped step`);
      }
    });
  });
});
