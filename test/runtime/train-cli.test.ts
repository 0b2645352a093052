// `galvatron train` end to end on 8 CPU ranks: a plan from `galvatron plan` runs with one command, --json
// prints one object per step and nothing else, and a run killed with SIGKILL after a checkpoint resumes
// with exactly the losses of an uninterrupted run (float64; a context-parallel plan from `galvatron estimate`).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/plan/schema.js';
import type { StepRecord } from '../../src/runtime/reports.js';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { MAIN, runCli, type Run } from '../cli/helpers.js';
import type { MemoryComparison } from '../../src/runtime/memory-report.js';
import { median, type RunRecord } from '../../src/runtime/run-record.js';
import { TINY_SWIN, TINY_T5, TINY_VIT, TINY_GPT } from './plans.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-train-'));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const galvatron = (args: string[]): Promise<Run> => runCli(args, dir);

function objects(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The step records (the memory objects after them carry an `event` field). */
function records(stdout: string): StepRecord[] {
  return objects(stdout).filter((o) => o['event'] === undefined) as unknown as StepRecord[];
}

function memoryObjects(stdout: string): MemoryComparison[] {
  return objects(stdout).filter((o) => o['event'] === 'memory') as unknown as MemoryComparison[];
}

/** `galvatron plan` for `model` on 8 GPUs (16 samples), then 3 steps of `galvatron train --json` on CPU ranks. */
async function planAndTrain(model: string, planFile: string): Promise<{ steps: StepRecord[]; stdout: string }> {
  const planned = await galvatron(['plan', '--model', model, '--gpus', '8', '--global-batch', '16', '-o', planFile]);
  assert.equal(planned.code, 0, planned.stderr);
  const run = await galvatron(['train', '--plan', planFile, '--device', 'cpu', '--steps', '3', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const steps = records(run.stdout);
  assert.equal(steps.length, 3);
  return { steps, stdout: run.stdout };
}

/** Every rank's model states, activations and peak within 3 % of the cost model's prediction. */
function assertMemoryAsPredicted(stdout: string): void {
  for (const m of memoryObjects(stdout)) {
    for (const part of [m.modelStateBytes, m.activationBytes, m.peakBytes]) {
      assert.ok(part.measured > 0 && part.predicted !== null);
      assert.ok(Math.abs(part.measured - part.predicted!) <= 0.03 * part.predicted!, `rank ${m.rank}: ${JSON.stringify(m)}`);
    }
  }
}

/** Starts a training run and SIGKILLs it (the CLI, torchrun and every rank) once `afterStep` is reported. */
function runAndKill(args: string[], afterStep: number, planPath: string): Promise<StepRecord[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (killed || !records(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).some((r) => r.step >= afterStep)) return;
      killed = true;
      // torchrun starts its ranks in sessions of their own: kill them by their command line, then the CLI.
      spawnSync('pkill', ['-KILL', '-f', `galvatron_runtime.train --plan ${planPath}`]);
      child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', () => (killed ? resolve(records(stdout.slice(0, stdout.lastIndexOf('\n') + 1))) : reject(new Error(`the run ended before step ${afterStep}: ${stderr.slice(-2000)}`))));
  });
}

describe('galvatron train on 8 CPU ranks (gloo)', { timeout: 10 * 60 * 1000 }, () => {
  before(() => assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`'));

  it('runs a searched plan end to end: one JSON object per step on stdout, a summary for people', async () => {
    const planned = await galvatron(['plan', '--model', TINY_GPT, '--gpus', '8', '--global-batch', '16', '-o', 'searched.json']);
    assert.equal(planned.code, 0, planned.stderr);
    const json = await galvatron(['train', '--plan', 'searched.json', '--device', 'cpu', '--steps', '3', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const steps = records(json.stdout);
    assert.equal(steps.length, 3);
    for (const r of steps) {
      assert.deepEqual(Object.keys(r).sort(), ['loss', 'peakMemoryBytes', 'step', 'stepTimeS']);
      assert.ok(Number.isFinite(r.loss) && r.loss > 0 && r.stepTimeS > 0);
      assert.equal(r.peakMemoryBytes.length, 8);
    }
    // Then one memory object per rank, the executor's accounting next to the cost model's prediction.
    const memory = memoryObjects(json.stdout);
    assert.deepEqual(memory.map((m) => m.rank), [0, 1, 2, 3, 4, 5, 6, 7]);
    const tail = json.stdout.trimEnd().split('\n');
    assert.ok(tail.slice(-9, -1).every((l) => l.includes('"event":"memory"')), 'memory objects come after the steps');
    const run = JSON.parse(tail[tail.length - 1]!) as RunRecord;
    assert.equal(run.event, 'run');
    assert.equal(run.plan, join(dir, 'searched.json'));
    assert.equal(run.stepTimeS, median(steps.slice(1).map((r) => r.stepTimeS)));
    assert.equal(run.peakBytes, Math.max(...memory.map((m) => m.peakBytes.measured)));
    assertMemoryAsPredicted(json.stdout);
    // Tokens of a 256-token vocabulary from a random init start near ln(256) = 5.55; the synthetic data
    // is learnable (a small grammar, python/galvatron_runtime/data.py), so the loss falls step by step at
    // the default learning rate.
    assert.ok(Math.abs(steps[0]!.loss - Math.log(256)) < 0.5, `first loss ${steps[0]!.loss}`);
    assert.ok(steps[1]!.loss < steps[0]!.loss && steps[2]!.loss < steps[1]!.loss, `losses ${steps.map((r) => r.loss).join(', ')}`);

    // A real text file read as bytes (the project's README) instead of synthetic tokens.
    // The same plan with a budget its ranks exceed (1 MiB for PyTorch): the run warns, once.
    const searched = JSON.parse(readFileSync(join(dir, 'searched.json'), 'utf8')) as Plan;
    const tight = { ...searched, predicted: { ...searched.predicted, memoryBudgetGiB: 1 / 1024, memoryReserveGiB: 0 } };
    writeFileSync(join(dir, 'tight.json'), JSON.stringify(tight));
    const people = await galvatron(['train', '--plan', 'tight.json', '--device', 'cpu', '--steps', '2', '--data', README]);
    assert.equal(people.code, 0, people.stderr);
    assert.match(people.stderr, /warning: 8 rank\(s\) exceeded the plan's memory budget: rank \d held [\d.]+ MiB, the budget leaves 1\.00 MiB to PyTorch \(1\.00 MiB less the 0 B runtime reserve\)/);
    assert.match(people.stdout, /^trained 2 step\(s\) of tight\.json on 8 CPU rank\(s\) \(gloo, float32\)/);
    assert.match(people.stdout, /step time .* m?s measured .* m?s predicted on 8 × A100/);
    assert.match(people.stdout, /peak memory .* GiB on the fullest rank/);
    assert.match(people.stdout, /stage 0 \(rank \d\) │ model states +│ +[\d.]+ [KMG]iB │ +[\d.]+ [KMG]iB │ +1\.0\d\d×/);
  });

  it('trains a searched ViT plan (patch embedding, class token, classifier) from the CLI: the loss moves', async () => {
    const { steps } = await planAndTrain(TINY_VIT, 'vit.json');
    // 16 classes from a random classifier: the first loss is near ln 16; then the weights move it.
    assert.ok(Math.abs(steps[0]!.loss - Math.log(16)) < 0.5, `first loss ${steps[0]!.loss}`);
    assert.ok(steps.every((r) => Number.isFinite(r.loss)));
    assert.notEqual(steps[2]!.loss, steps[0]!.loss);
  });

  it('trains a searched T5 plan (encoder-decoder, relative positions, cross-attention) from the CLI: the loss falls, memory as predicted', async () => {
    const { steps, stdout } = await planAndTrain(TINY_T5, 't5.json');
    // 256 tokens from a random init: near ln 256; the decoder reproduces the encoder's motif-grammar tokens
    // (teacher forcing), so the loss falls step by step.
    assert.ok(Math.abs(steps[0]!.loss - Math.log(256)) < 0.5, `first loss ${steps[0]!.loss}`);
    assert.ok(steps[1]!.loss < steps[0]!.loss && steps[2]!.loss < steps[1]!.loss, `losses ${steps.map((r) => r.loss).join(', ')}`);
    // What a rank holds is what the cost model prices (the relative-position tables, 2·32·8 values, are
    // kept whole on every rank, priced under the embedding's ZeRO: a few KiB).
    assertMemoryAsPredicted(stdout);
  });

  it('trains a searched Swin plan (window attention, patch merging, shapes changing along the model) from the CLI: the loss falls, memory as predicted', async () => {
    const { steps, stdout } = await planAndTrain(TINY_SWIN, 'swin.json');
    // 8 classes from a random classifier: near ln 8; the class prototypes are learnable, so it falls.
    assert.ok(Math.abs(steps[0]!.loss - Math.log(8)) < 0.3, `first loss ${steps[0]!.loss}`);
    assert.ok(steps[1]!.loss < steps[0]!.loss && steps[2]!.loss < steps[1]!.loss, `losses ${steps.map((r) => r.loss).join(', ')}`);
    // What a rank holds is what the cost model prices, patch merging and the last stage's head included.
    assertMemoryAsPredicted(stdout);
  });

  it('resumes after SIGKILL with the losses of an uninterrupted run (float64, bit for bit), on a context-parallel plan', async () => {
    // `galvatron estimate` forced to context parallelism: cp 2 × tp 2 × pp 2, ZeRO-2 over the DP × CP group.
    const planPath = join(dir, 'resume-plan.json');
    const estimated = await galvatron([
      'estimate', '--model', TINY_GPT, '--cluster', 'dgx-a100-80g', '--gpus', '8', '--global-batch', '16', '--micro-batch', '2',
      '--tp', '2', '--pp', '2', '--cp', '2', '--dp-type', 'zero2', '--precision', 'fp32', '-o', planPath,
    ]);
    assert.equal(estimated.code, 0, estimated.stderr);
    const plan = JSON.parse(readFileSync(planPath, 'utf8')) as Plan;
    assert.ok([plan.embedding, ...plan.layers].every((s) => s.cp === 2 && s.tp === 2 && s.dp === 1), JSON.stringify(plan.layers));
    const common = ['train', '--plan', planPath, '--device', 'cpu', '--dtype', 'float64', '--steps', '8', '--json'];
    const full = await galvatron(common);
    assert.equal(full.code, 0, full.stderr);
    const expected = records(full.stdout);
    assert.equal(expected.length, 8);
    // It trains: the loss falls (the synthetic data is learnable).
    assert.ok(expected[7]!.loss < expected[0]!.loss - 0.1, `losses ${expected.map((r) => r.loss).join(', ')}`);

    const ckpt = join(dir, 'ckpt');
    const stepNumbers = expected.map((r) => r.step);
    // Checkpoints every 2 steps: once the 5th step is reported, the 4th step's checkpoint is complete (the
    // 6th may be too, if the ranks got that far before the kill).
    const before = await runAndKill([...common, '--checkpoint-dir', ckpt, '--checkpoint-every', '2'], stepNumbers[4]!, planPath);
    assert.ok(before.length >= 5 && before.length < 8, `killed after ${before.length} steps`);
    before.forEach((r, i) => assert.equal(r.loss, expected[i]!.loss, `step ${r.step} before the kill`));

    const resumed = await galvatron([...common, '--checkpoint-dir', ckpt, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = records(resumed.stdout);
    const firstIndex = stepNumbers.indexOf(after[0]?.step ?? -1);
    assert.ok(firstIndex === 4 || firstIndex === 6, `resumes right after a checkpoint (step 4 or 6), got ${after[0]?.step}`);
    assert.deepEqual(after.map((r) => r.step), stepNumbers.slice(firstIndex), 'runs every remaining step once');
    after.forEach((r) => assert.equal(r.loss, expected.find((e) => e.step === r.step)!.loss, `step ${r.step} after resume`));
  });
});
