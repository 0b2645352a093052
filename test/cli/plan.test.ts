// End-to-end tests of `galvatron plan` and `galvatron baselines`: each spawns the built CLI (10 spawns;
// small models on 8 GPUs except the no-argument run, which is the default LLaMA-2 7B).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PlanSchema, type Plan } from '../../src/plan/schema.js';
import { BASELINE_FAMILIES } from '../../src/search/baselines.js';
import { RULE_HELP } from '../../src/strategy/candidates.js';
import { runCli, type Run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-plan-'));

function galvatron(args: string[], cwd = dir): Promise<Run> {
  return runCli(args, cwd);
}

const SMALL = ['--model', 'gpt2-small', '--cluster', 'dgx-a100-80g', '--gpus', '8', '--global-batch', '8'];

interface PlanOutput {
  plan: Plan;
  search: { exact: boolean; tasks: number; elapsedMs: number };
  baselines: { family: string; label: string; iterationTimeS: number | null; fits: boolean }[];
  speedupOverBestBaseline: number | null;
}

/** The structural promises every searched plan keeps. */
function assertPlanSound(plan: Plan, gpus: number): void {
  const p = plan.pipeline.degree;
  assert.equal(plan.layers.length, plan.model.layers);
  for (const [i, s] of [...plan.layers, plan.embedding].entries()) {
    assert.equal(s.tp * s.cp * s.dp, gpus / p, `strategy ${i}: tp·cp·dp = GPUs/pp`);
  }
  assert.equal(plan.predicted.fits, true);
  assert.equal(plan.predicted.stages.length, p);
  for (const stage of plan.predicted.stages) {
    assert.ok(stage.memoryGiB <= plan.predicted.memoryBudgetGiB, `stage ${stage.index}: ${stage.memoryGiB} GiB ≤ budget ${plan.predicted.memoryBudgetGiB}`);
  }
  const covered = plan.pipeline.chunks.reduce((sum, c) => sum + (c.end - c.start), 0);
  assert.equal(covered, plan.model.layers, 'the chunks cover every layer once');
}

describe('galvatron plan / baselines', { concurrency: true }, () => {
  it('plan with no arguments searches LLaMA-2 7B on 8 A100s and explains the plan for people', async () => {
    const run = await galvatron(['plan']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'nothing on stderr when it is not a terminal');
    assert.match(run.stdout, /^LLaMA-2 7B on 8 × .* · global batch 64 /);
    for (const text of ['stage 0', 'layers 0–', 'embedding/head', 'busy ms', 'memory GiB', 'budget GiB', 'samples/s', 'tokens/s per GPU', 'TFLOP/s per GPU', 'MFU']) {
      assert.ok(run.stdout.includes(text), `output mentions "${text}"`);
    }
    assert.match(run.stdout, /the best fitting baseline, (Pure DP|ZeRO|Megatron|DeepSpeed)/);
    assert.match(run.stdout, /(proven optimal|not proven optimal: found under a frontier limit of 64)/);
    assert.ok(!run.stdout.includes('\u001b['), 'no colour codes when stdout is not a terminal');
  });

  it('plan --json: one object whose plan is valid and sound; -o writes the same plan, atomically; runs are deterministic, with or without workers', async () => {
    const a = mkdtempSync(join(dir, 'a-'));
    const b = mkdtempSync(join(dir, 'b-'));
    // Same arguments (a relative -o path) in two folders, the second on a worker pool: the plans must be identical.
    const [first, second] = await Promise.all([
      galvatron(['plan', ...SMALL, '--json', '-o', 'plan.json'], a),
      galvatron(['plan', ...SMALL, '--json', '-o', 'plan.json', '--workers', '2'], b),
    ]);
    for (const run of [first, second]) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /^galvatron: wrote plan plan\.json \(galvatron\.plan\/v1\)\n$/);
    }
    const out = JSON.parse(first.stdout) as PlanOutput;
    assert.deepEqual(Object.keys(out).slice(0, 4), ['plan', 'search', 'baselines', 'speedupOverBestBaseline']);
    const plan = PlanSchema.parse(out.plan);
    assertPlanSound(plan, 8);
    assert.equal(plan.training.globalBatch, 8);
    assert.equal(typeof out.search.exact, 'boolean');
    assert.ok(out.search.tasks > 0 && out.search.elapsedMs >= 0);
    assert.deepEqual(out.baselines.map((x) => x.family), [...BASELINE_FAMILIES]);
    assert.ok(out.speedupOverBestBaseline !== null && out.speedupOverBestBaseline > 0);
    const fastest = Math.min(...out.baselines.filter((x) => x.fits).map((x) => x.iterationTimeS!));
    assert.ok(Math.abs(out.speedupOverBestBaseline - fastest / plan.predicted.iterationTimeS) < 1e-9);

    const written = PlanSchema.parse(JSON.parse(readFileSync(join(a, 'plan.json'), 'utf8')));
    assert.deepEqual(written, plan, '-o writes the plan printed');
    assert.match(written.source.command, /^galvatron plan --model gpt2-small /);
    assert.deepEqual(readdirSync(a), ['plan.json'], 'no temporary file left behind');

    const { source: _firstSource, ...firstPlan } = out.plan;
    const { source: _secondSource, ...secondPlan } = (JSON.parse(second.stdout) as PlanOutput).plan;
    assert.deepEqual(secondPlan, firstPlan, 'two runs (one on 2 workers) give the same plan');
  });

  it('--galvatron-v1 restricts the strategies to TP, DP (ddp) and ZeRO-3, without SP or recompute', async () => {
    const run = await galvatron(['plan', '--model', 'gpt3-1.3b', '--gpus', '8', '--global-batch', '8', '--galvatron-v1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const plan = PlanSchema.parse((JSON.parse(run.stdout) as PlanOutput).plan);
    assertPlanSound(plan, 8);
    for (const s of [...plan.layers, plan.embedding]) {
      assert.equal(s.sequenceParallel, false);
      assert.equal(s.recompute, 'none');
      assert.equal(s.cp, 1);
      assert.ok(s.dpType === 'ddp' || s.dpType === 'zero3', `dpType ${s.dpType}`);
    }
  });

  it('exits 3 with one line naming the memory (and GPUs) that would fit when nothing fits', async () => {
    const run = await galvatron(['plan', '--model', 'gpt3-175b', '--gpus', '8', '--memory-gib', '20', '--json']);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    const match = /^galvatron: no plan fits 8 × 20 GiB \(5 % kept free, 1\.5 GiB runtime reserve\); the smallest that fits needs ([\d,.]+) GiB per GPU \(or ([\d,]+) GPUs\)\n$/.exec(run.stderr);
    assert.ok(match, run.stderr);
    // 175 B parameters × 16 bytes of states over 8 GPUs is ≈ 326 GiB: a bound nothing can beat.
    const needs = Number(match[1]!.replace(/,/g, ''));
    assert.ok(needs > 326 && needs < 400, `needs ${needs} GiB`);
    assert.ok(Number(match[2]!.replace(/,/g, '')) >= 128);
  });

  it('baselines --json lists the searched plan and all five baseline families', async () => {
    const run = await galvatron(['baselines', ...SMALL, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const rows = JSON.parse(run.stdout) as { family: string; fits: boolean; iterationTimeS: number | null; planSpeedup: number | null; configuration: string }[];
    assert.ok(Array.isArray(rows));
    assert.deepEqual(rows.map((r) => r.family), ['galvatron-ts', ...BASELINE_FAMILIES]);
    const plan = rows[0]!;
    assert.equal(plan.fits, true);
    for (const r of rows.slice(1)) {
      assert.equal(typeof r.configuration, 'string');
      if (r.fits) assert.ok(Math.abs(r.planSpeedup! - r.iterationTimeS! / plan.iterationTimeS!) < 1e-9, r.family);
    }
  });

  it('plan --help gives every pruning flag its rule’s help line', async () => {
    const run = await galvatron(['plan', '--help']);
    assert.equal(run.code, 0, run.stderr);
    const text = run.stdout.replace(/\s+/g, ' ');
    for (const flag of ['--max-tp', '--max-pp', '--max-cp', '--dp-types', '--no-sdp', '--recompute', '--sp', '--tp-adjacency', '--galvatron-v1', '--max-vpp', '--partition', '--frontier-limit', '--exact', '--global-batch <n|auto>']) {
      assert.ok(text.includes(flag), `help mentions ${flag}`);
    }
    for (const key of ['maxTp', 'maxPp', 'maxCp', 'dpTypes', 'recompute', 'sequenceParallel', 'tpAdjacency', 'paradigms'] as const) {
      assert.ok(text.includes(RULE_HELP[key].replace(/\s+/g, ' ')), `help has the line for ${key}`);
    }
  });

  const badFlags: [string[], RegExp][] = [
    [['--max-tp', '0'], /^galvatron: --max-tp: must be a positive whole number, got "0"/],
    [['--partition', 'foo'], /^galvatron: --partition: must be one of exact, even, memory, time, bmw, got "foo"/],
    [['--workers', '0'], /^galvatron: --workers: must be a positive whole number, got "0"/],
    [['--global-batch', '-3'], /^galvatron: --global-batch: must be a positive whole number or "auto", got "-3"/],
  ];
  for (const [flags, pattern] of badFlags) {
    it(`plan ${flags.join(' ')} exits 2 naming the flag`, async () => {
      const run = await galvatron(['plan', ...flags]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    });
  }
});
