// End-to-end tests of the `galvatron` command: each spawns the built CLI (keep the spawn count low).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PlanSchema } from '../../src/plan/schema.js';
import { runCli, type Run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-cli-'));

function galvatron(...args: string[]): Promise<Run> {
  return runCli(args, dir);
}

const writeJson = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
};

const A100 = ['--cluster', 'dgx-a100-80g'];
const LLAMA = ['--model', 'llama2-7b', ...A100, '--global-batch', '16'];
const REPORT_NUMBERS = ['iterationTimeS', 'samplesPerS', 'tokensPerSPerGpu', 'tflopsPerGpu', 'mfu', 'parameters', 'memoryPerGpuGiB'];

function assertReport(report: Record<string, unknown>): void {
  for (const key of REPORT_NUMBERS) {
    const value = report[key];
    assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${key} is a positive number, got ${String(value)}`);
  }
  assert.equal(typeof report.fits, 'boolean');
  const stages = report.stages as Record<string, unknown>[];
  assert.ok(Array.isArray(stages) && stages.length > 0, 'stages is a non-empty array');
  for (const stage of stages) {
    for (const key of ['forwardS', 'backwardS', 'memoryGiB']) assert.equal(typeof stage[key], 'number', `stage.${key}`);
  }
  const breakdown = report.breakdown as Record<string, number>;
  assert.ok(Object.keys(breakdown).length > 0, 'breakdown has terms');
  for (const [term, seconds] of Object.entries(breakdown)) assert.ok(Number.isFinite(seconds), `breakdown.${term} is a number`);
  const sum = Object.values(breakdown).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - (report.iterationTimeS as number)) < 1e-6 * sum, 'breakdown sums to the iteration time');
}

const noAnsi = (text: string) => assert.ok(!text.includes('\u001b['), 'no colour codes when stdout is not a terminal');

describe('galvatron CLI', { concurrency: true }, () => {
  it('estimate --json prints exactly one report object with the contract fields', async () => {
    const run = await galvatron('estimate', '--model', 'llama3-8b', ...A100, '--global-batch', '32', '--tp', '2', '--sp', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    assertReport(report);
    assert.ok(Math.abs((report.parameters as number) / 8.03e9 - 1) < 0.005, `llama3-8b has ≈ 8.03e9 parameters, got ${String(report.parameters)}`);
    assert.equal((report.config as Record<string, unknown>).dp, 4);
  });

  it('estimate prints a summary, a stage table and the breakdown for people', async () => {
    const run = await galvatron('estimate', ...LLAMA, '--tp', '2', '--pp', '2');
    assert.equal(run.code, 0, run.stderr);
    for (const text of ['iteration', 'samples/s', 'tokens/s per GPU', 'TFLOP/s per GPU', 'MFU', 'parameters', '6.74 B', 'fits', 'Pipeline stages', 'Iteration breakdown', 'pipeline-bubble']) {
      assert.ok(run.stdout.includes(text), `output mentions "${text}"`);
    }
    noAnsi(run.stdout);
  });

  it('estimate says when a configuration does not fit and how much memory it needs', async () => {
    const run = await galvatron('estimate', '--model', 'llama2-70b', ...A100, '--global-batch', '8');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /does not fit: needs [\d.,]+ GiB/);
  });

  it('estimate -o writes a valid plan atomically', async () => {
    const out = mkdtempSync(join(dir, 'out-'));
    const path = join(out, 'plan.json');
    const run = await galvatron('estimate', ...LLAMA, '--tp', '2', '--pp', '2', '--dp-type', 'zero1', '--json', '-o', path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /wrote plan .*plan\.json/);
    const report = JSON.parse(run.stdout) as { iterationTimeS: number };
    const plan = PlanSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    assert.equal(plan.predicted.iterationTimeS, report.iterationTimeS);
    assert.equal(plan.pipeline.degree, 2);
    assert.ok(plan.layers.every((s) => s.tp === 2 && s.dpType === 'zero1'));
    assert.match(plan.source.command, /^galvatron estimate .*--tp 2/);
    assert.deepEqual(readdirSync(out), ['plan.json'], 'no temporary file left behind');
  });

  const badInputs: [string, string[], RegExp][] = [
    ['unknown model preset', ['estimate', '--model', 'gpt5', ...A100, '--global-batch', '8'], /^galvatron: --model: unknown preset "gpt5"/],
    ['unknown cluster', ['estimate', '--model', 'llama2-7b', '--cluster', 'dgx-z9', '--global-batch', '8'], /^galvatron: --cluster: unknown cluster preset/],
    ['missing --global-batch', ['estimate', '--model', 'llama2-7b', ...A100], /^galvatron: --global-batch: required/],
    ['negative --tp', ['estimate', ...LLAMA, '--tp', '-2'], /^galvatron: --tp: must be a positive whole number, got "-2"/],
    ['--tp 3 with 32 heads', ['estimate', ...LLAMA, '--tp', '3'], /^galvatron: --tp: 3 does not divide the model's 32 attention heads/],
    ['GPUs not divisible by t·p·c', ['estimate', ...LLAMA, '--tp', '4', '--pp', '4'], /^galvatron: --gpus: 8 GPUs are not divisible by tp·pp·cp/],
    ['unreadable model file', ['estimate', '--model', join(dir, 'absent.json'), ...A100, '--global-batch', '8'], /^galvatron: --model .*absent\.json: cannot read file/],
    [
      'model JSON with a missing field',
      ['estimate', '--model', writeJson('no-hidden.json', { name: 'm', family: 'gpt', layers: 2, heads: 4, vocab: 100, seqLen: 64 }), ...A100, '--global-batch', '8'],
      /^galvatron: model\.hidden: missing/,
    ],
    [
      'model JSON with a negative field',
      ['estimate', '--model', writeJson('negative.json', { name: 'm', family: 'gpt', layers: -2, hidden: 64, heads: 4, vocab: 100, seqLen: 64 }), ...A100, '--global-batch', '8'],
      /^galvatron: model\.layers: .*> 0/,
    ],
    ['--profile unreadable', ['estimate', ...LLAMA, '--profile', 'no-such-profile.json'], /^galvatron: --profile: cannot read file "no-such-profile\.json" \(ENOENT\)/],
    ['a --dp-type that does not exist', ['estimate', ...LLAMA, '--dp-type', 'zero4'], /^galvatron: --dp-type: must be one of ddp, zero1, zero2, zero3, got "zero4"/],
    ['an unknown flag', ['estimate', ...LLAMA, '--tensor-parallel', '2'], /^galvatron: --tensor-parallel: unknown option/],
  ];
  for (const [what, args, pattern] of badInputs) {
    it(`bad input exits 2 with one line naming the field: ${what}`, async () => {
      const run = await galvatron(...args);
      assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, `one line: ${run.stderr}`);
      assert.match(run.stderr, pattern);
    });
  }

  const helps: [string[], string[]][] = [
    [[], ['plan', 'estimate', 'models', 'clusters']],
    [['estimate'], ['--model', '--cluster', '--gpus', '--global-batch', '--micro-batch', '--tp', '--pp', '--cp', '--vpp', '--dp-type', '--recompute', '--sp', '--seq', '--precision', '--schedule', '--attention', '--fp32-grads', '--tp-overlap', '--memory-gib', '--profile', '--output', '--json']],
    [['plan'], ['--model', '--cluster', '--gpus', '--global-batch', '--memory-gib', '--seq', '--output', '--json']],
    [['models'], ['--json']],
    [['clusters'], ['--json']],
  ];
  for (const [command, flags] of helps) {
    it(`galvatron ${[...command, '--help'].join(' ')} explains every flag and shows an example`, async () => {
      const run = await galvatron(...command, '--help');
      assert.equal(run.code, 0, run.stderr);
      for (const flag of flags) assert.ok(run.stdout.includes(flag), `help mentions ${flag}`);
      assert.match(run.stdout, /Examples?:\n\s+(#.*\n\s+)?\$ galvatron/);
    });
  }

  it('models --json lists the presets with parameter counts', async () => {
    const run = await galvatron('models', '--json');
    assert.equal(run.code, 0, run.stderr);
    const models = JSON.parse(run.stdout) as { id: string; parameters: number; layers: number; kvHeads: number }[];
    const llama3 = models.find((m) => m.id === 'llama3-8b');
    assert.ok(llama3, 'llama3-8b listed');
    assert.ok(Math.abs(llama3.parameters / 8.03e9 - 1) < 0.005);
    assert.equal(llama3.kvHeads, 8);
  });

  it('clusters --json lists the presets', async () => {
    const run = await galvatron('clusters', '--json');
    assert.equal(run.code, 0, run.stderr);
    const clusters = JSON.parse(run.stdout) as { id: string; gpusPerNode: number; gpu: { memoryGiB: number } }[];
    const dgx = clusters.find((c) => c.id === 'dgx-a100-80g');
    assert.ok(dgx, 'dgx-a100-80g listed');
    assert.equal(dgx.gpusPerNode, 8);
    assert.equal(dgx.gpu.memoryGiB, 80);
  });
});
