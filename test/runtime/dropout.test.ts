// Dropout as the plan says (issue 13): with `training.dropout` true the executor drops the embedding
// output and each layer's attention and MLP outputs (p = 0.1) with masks drawn per (seed, sample, site)
// (python/galvatron_runtime/dropout.py), so every plan trains exactly like the single-process reference:
// DP/ZeRO, TP, SP, CP, pipelines, recomputation and mixed layouts on 8 CPU ranks (gloo, float64) must give the
// loss of each of 3 steps and the final parameters of the reference to 1e-10 relative. The same plan with
// dropout off must give other losses, so the test cannot pass with dropout silently off.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { tinyPlan, type PlanConfig } from './plans.js';
import { runTorchrunModule } from './torchrun.js';

const TOLERANCE = 1e-10;
const RANKS = 8;

const WITH_DROPOUT: [string, PlanConfig][] = [
  ['DP 8 zero2', { dpType: 'zero2' }],
  ['TP 2 + SP, dp 4', { tp: 2, sequenceParallel: true }],
  ['PP 2 1f1b × TP 2 × DP 2', { tp: 2, pp: 2 }],
  ['full recompute, TP 2', { tp: 2, recompute: 'full' }],
  ['selective recompute, TP 2 + SP', { tp: 2, sequenceParallel: true, recompute: 'selective' }],
  // Context parallelism: masks sliced at the rank's real token positions (two chunks far apart), replayed
  // by recomputation that gathers K/V again.
  ['CP 2 × TP 2 × DP 2, selective recompute', { cp: 2, tp: 2, recompute: 'selective' }],
  ['CP 4 × TP 2 + SP, full recompute', { cp: 4, tp: 2, sequenceParallel: true, recompute: 'full', microBatch: 4 }],
  [
    'heterogeneous: tp2 sp / tp1 dp8 / tp4 sp zero3 / tp8 full recompute, 2 samples per micro-batch',
    {
      tp: 2,
      microBatch: 2,
      layers: [
        { tp: 2, dp: 4, sequenceParallel: true },
        { tp: 1, dp: 8, dpType: 'ddp' },
        { tp: 4, dp: 2, sequenceParallel: true, dpType: 'zero3' },
        { tp: 8, dp: 1, recompute: 'full' },
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
}

describe('dropout: 8 CPU ranks (gloo, float64) with dropout vs the single-process reference with the same masks', { timeout: 15 * 60 * 1000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-dropout-'));
  const write = (name: string, config: PlanConfig, dropout: boolean): string => {
    const plan = tinyPlan({ ...config, precision: 'fp32' });
    plan.training.dropout = dropout;
    validatePlanForExecutor(plan, RANKS);
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(plan));
    return path;
  };
  const paths = WITH_DROPOUT.map(([, config], i) => write(`plan-${i}`, config, true));
  // The first plan again without dropout: its losses (and its reference's) must differ.
  const offPath = write('plan-off', WITH_DROPOUT[0]![1], false);
  let result: { lines: EquivalenceLine[]; stderr: string; code: number | null };

  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    const run = await runTorchrunModule<EquivalenceLine>(
      'galvatron_runtime.equivalence',
      ['--steps', '3', '--dtype', 'float64', '--plans', ...paths, offPath],
      RANKS,
      'equivalence',
    );
    result = { lines: run.events, stderr: run.stderr, code: run.code };
  });

  const lineOf = (path: string): EquivalenceLine => {
    const line = result.lines.find((l) => l.plan === path);
    assert.ok(line, `no result for ${path}; stderr: ${result.stderr.slice(-2000)}`);
    return line;
  };

  it('the run ends cleanly with one result per plan and no "without dropout" warning', () => {
    assert.equal(result.code, 0, result.stderr.slice(-4000));
    assert.equal(result.lines.length, WITH_DROPOUT.length + 1, result.stderr.slice(-4000));
    assert.doesNotMatch(result.stderr, /without dropout/);
  });

  WITH_DROPOUT.forEach(([name], i) => {
    it(name, (t) => {
      const line = lineOf(paths[i]!);
      assert.equal(line.losses.length, 3);
      line.losses.forEach((loss, step) => {
        const reference = line.referenceLosses[step]!;
        assert.ok(Number.isFinite(loss) && loss > 0, `step ${step} loss ${loss}`);
        assert.ok(Math.abs(loss - reference) <= TOLERANCE * Math.abs(reference), `step ${step}: ${loss} vs ${reference}`);
      });
      assert.notEqual(line.referenceLosses[0], line.referenceLosses[2]);
      t.diagnostic(`max loss rel error ${line.maxLossRelError.toExponential(2)}, max parameter rel error ${line.maxParamRelError.toExponential(2)} (${line.worstParam})`);
      assert.ok(line.maxLossRelError <= TOLERANCE, `loss error ${line.maxLossRelError}`);
      assert.ok(line.maxParamRelError <= TOLERANCE, `parameter ${line.worstParam}: error ${line.maxParamRelError}`);
    });
  });

  it('dropout changes the losses (the same plan without dropout trains differently)', (t) => {
    const on = lineOf(paths[0]!);
    const off = lineOf(offPath);
    // Without dropout the plan still matches its own reference ...
    assert.ok(off.maxLossRelError <= TOLERANCE && off.maxParamRelError <= TOLERANCE, JSON.stringify(off));
    // ... and every step's loss differs from the run with dropout, in the run and in the reference.
    for (let step = 0; step < 3; step++) {
      const rel = Math.abs(on.losses[step]! - off.losses[step]!) / off.losses[step]!;
      t.diagnostic(`step ${step}: with dropout ${on.losses[step]}, without ${off.losses[step]} (rel. difference ${rel.toExponential(2)})`);
      // Far above the 1e-10 the plans agree to, far below the ~1e-4 that dropout moves the first loss.
      assert.ok(rel > 1e-6, `step ${step}: dropout barely changed the loss (${rel})`);
      assert.notEqual(on.referenceLosses[step], off.referenceLosses[step]);
    }
  });
});
