// `galvatron calibrate` end to end on the H200 fixtures: the file it writes round-trips, and
// `--calibration` makes estimate, plan and baselines price exactly as the cost model does with the
// file's constants. Bad runs and calibration files exit 2 naming the field (20 spawns).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CalibrationFileSchema, loadCalibrationFile } from '../../src/calibrate/calibration-file.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { loadCostConstants } from '../../src/cost/constants.js';
import { PlanSchema, type Plan } from '../../src/plan/schema.js';
import { planInputFromPlan } from '../../src/plan/to-cost.js';
import { runCli, type Run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-calibrate-'));
const RUNS = fileURLToPath(new URL('../../../test/fixtures/h200-2026-11-30/runs.jsonl', import.meta.url));
const galvatron = (...args: string[]): Promise<Run> => runCli(args, dir);
const G13 = ['--model', 'gpt3-1.3b', '--cluster', 'hgx-h200', '--gpus', '1', '--global-batch', '8'];
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

interface CalibrateOutput {
  format: string;
  output: string;
  constants: Record<string, number>;
  time: { constants: Record<string, number>; runs: { id: string; measuredS: number; after: { predictedS: number; error: number } }[]; meanAbsoluteError: { before: number; after: number; leaveOneOut: number } };
  memory: { constants: Record<string, number>; runs: { id: string; measuredBytes: number; lowerBound?: boolean }[]; meanAbsoluteError: { before: number; after: number; leaveOneOut: number } };
}

/** exit 2 and one stderr line naming `field`. */
function assertRefused(run: Run, field: string, pattern: RegExp = /./): void {
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stdout, '');
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.ok(lines[0]!.startsWith(`galvatron: ${field}: `), lines[0]);
  assert.match(lines[0]!, pattern);
}

describe('galvatron calibrate', () => {
  const path = join(dir, 'h200.json');
  let run: Run;
  let out: CalibrateOutput;
  before(async () => {
    run = await galvatron('calibrate', '--runs', RUNS, '-o', path, '--json');
    out = JSON.parse(run.stdout) as CalibrateOutput;
  }, { timeout: 120_000 });

  it('prints one JSON object and writes a galvatron.calibration/v1 file that loads back to the same constants', () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim().split('\n').length, 1);
    assert.equal(out.output, path);
    assert.equal(out.time.runs.length, 7);
    assert.equal(out.memory.runs.length, 8);
    assert.equal(out.memory.runs.at(-1)!.lowerBound, true);
    assert.ok(out.time.meanAbsoluteError.leaveOneOut <= 0.1);
    const file = CalibrationFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    assert.deepEqual(Object.keys(file.constants).sort(), ['activationFragmentation', 'flashAttentionEfficiency', 'gemmEfficiencyScale', 'hbmEfficiency', 'kernelOverheadUs', 'layerHostUs']);
    assert.deepEqual(file.errors?.time?.meanAbsoluteError, out.time.meanAbsoluteError);
    assert.equal(file.fittedOn?.length, 8);
    assert.equal(file.fittedOn?.[0]?.plan, 'plan-g13-search.json');
    // Round trip: the file's constants over the defaults are the printed ones.
    assert.deepEqual(loadCalibrationFile(path), { ...loadCostConstants(), ...file.constants });
    assert.deepEqual(loadCalibrationFile(path), out.constants);
  });

  it('prints a table per quantity for people', async () => {
    const human = await galvatron('calibrate', '--runs', RUNS, '-o', join(dir, 'again.json'));
    assert.equal(human.code, 0, human.stderr);
    for (const text of ['Step time, ms', 'Allocator peak, GiB', 'leave-one-out', 'plan-g13-mem24', '> 139.8', 'mean |error|', 'layerHostUs', 'wrote']) {
      assert.ok(human.stdout.includes(text), text);
    }
    // Same fit, same file (apart from the command that made it).
    const strip = (p: string) => ({ ...JSON.parse(readFileSync(p, 'utf8')), source: null });
    assert.deepEqual(strip(join(dir, 'again.json')), strip(path));
  });

  it('--calibration: estimate --json predicts what the cost model predicts with the file\'s constants', async () => {
    // One micro-batch of 8 samples: the searched plan of the fixtures (measured 418 ms on the H200).
    const plain = await galvatron('estimate', ...G13, '--micro-batch', '8', '--json');
    const calibrated = await galvatron('estimate', ...G13, '--micro-batch', '8', '--json', '--calibration', path, '-o', join(dir, 'g13.json'));
    assert.equal(calibrated.code, 0, calibrated.stderr);
    const time = (r: Run) => (JSON.parse(r.stdout) as { iterationTimeS: number }).iterationTimeS;
    const plan: Plan = PlanSchema.parse(JSON.parse(readFileSync(join(dir, 'g13.json'), 'utf8')));
    assert.equal(time(calibrated), pricePlan(planInputFromPlan(plan, loadCalibrationFile(path))).iterationTimeS);
    assert.equal(time(plain), pricePlan(planInputFromPlan(plan)).iterationTimeS);
    // The fitted constants make this plan's step 1.3× slower (measured 418 ms on the H200, plain 298 ms).
    assert.ok(time(calibrated) / time(plain) > 1.2, `${time(calibrated)} vs ${time(plain)}`);
  });

  it('--calibration: plan and baselines price with the file\'s constants', async () => {
    const planned = await galvatron('plan', ...G13, '--json', '--calibration', path);
    assert.equal(planned.code, 0, planned.stderr);
    const plan = PlanSchema.parse((JSON.parse(planned.stdout) as { plan: unknown }).plan);
    assert.equal(plan.predicted.iterationTimeS, pricePlan(planInputFromPlan(plan, loadCalibrationFile(path))).iterationTimeS);
    const rows = await galvatron('baselines', ...G13, '--json', '--calibration', path);
    assert.equal(rows.code, 0, rows.stderr);
    const first = (JSON.parse(rows.stdout) as { family: string; iterationTimeS: number }[])[0]!;
    assert.equal(first.family, 'galvatron-ts');
    assert.equal(first.iterationTimeS, plan.predicted.iterationTimeS);
  });

  it('--help explains every flag with an example; plan, estimate and baselines list --calibration', async () => {
    const help = await galvatron('calibrate', '--help');
    assert.equal(help.code, 0, help.stderr);
    for (const flag of ['--runs', '--output', '--json', 'outOfMemory', 'leave-one-out']) assert.ok(help.stdout.includes(flag), flag);
    assert.match(help.stdout, /Examples?:\n\s+(#.*\n\s+)?\$ galvatron/);
    for (const command of ['plan', 'estimate', 'baselines']) {
      const run = await galvatron(command, '--help');
      assert.ok(run.stdout.includes('--calibration <file>'), command);
    }
  });

  it('refuses bad calibration files with exit 2, naming the field', async () => {
    const good = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const variant = (name: string, value: unknown) => write(name, JSON.stringify(value));
    assertRefused(await galvatron('estimate', ...G13, '--calibration', write('bad.json', '{"format": ')), '--calibration', /not JSON/);
    assertRefused(await galvatron('estimate', ...G13, '--calibration', join(dir, 'nowhere.json')), '--calibration', /does not exist; write one with `galvatron calibrate/);
    assertRefused(await galvatron('estimate', ...G13, '--calibration', variant('v0.json', { ...good, format: 'galvatron.calibration/v0' })), 'calibration.format', /galvatron\.calibration\/v1/);
    assertRefused(await galvatron('estimate', ...G13, '--calibration', variant('unknown.json', { ...good, constants: { gemmEfficiency: 0.8 } })), 'calibration.constants.gemmEfficiency', /not a cost-model constant; use one of gemmEfficiencyScale/);
    assertRefused(await galvatron('plan', ...G13, '--calibration', variant('range.json', { ...good, constants: { hbmEfficiency: 1.5 } })), 'calibration.constants.hbmEfficiency', /1\.5 is outside its physical range 0\.5 – 0\.95/);
    assertRefused(await galvatron('baselines', ...G13, '--calibration', variant('none.json', { format: 'galvatron.calibration/v1' })), 'calibration.constants', /missing/);
  });

  it('refuses bad runs files with exit 2, naming the field and the line', async () => {
    const plan = fileURLToPath(new URL('../../../test/fixtures/h200-2026-11-30/plan-g13-full.json', import.meta.url));
    const line = (extra: Record<string, unknown>) => JSON.stringify({ event: 'run', plan, device: 'cuda', dtype: 'bf16', stepTimeS: 0.48, peakBytes: 2.8e10, ...extra });
    assertRefused(await galvatron('calibrate', '--runs', write('a.jsonl', `${line({})}\nnot json\n`)), 'run', /not JSON.*line 2 of/);
    assertRefused(await galvatron('calibrate', '--runs', write('b.jsonl', line({ plan: 'gone.json' }))), 'run.plan', /gone\.json.*does not exist.*line 1 of/);
    assertRefused(await galvatron('calibrate', '--runs', write('c.jsonl', '{"event": "step", "step": 0}\n')), '--runs', /no run records/);
  });
});
