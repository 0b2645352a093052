// `galvatron train` refuses a plan that does not match its model or the ranks to start, before anything
// starts, naming the field (exit 2). These run without Python.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserInputError } from '../../src/errors.js';
import type { Plan } from '../../src/plan/schema.js';
import { readPlanFile } from '../../src/plan/io.js';
import { planWorldSize, validatePlanForExecutor } from '../../src/plan/validate.js';
import { runCli } from '../cli/helpers.js';
import { tinyPlan } from '../runtime/plans.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-validate-'));

function refusal(plan: Plan, ranks?: number): UserInputError {
  try {
    validatePlanForExecutor(plan, ranks);
  } catch (error) {
    assert.ok(error instanceof UserInputError, String(error));
    return error;
  }
  assert.fail('the plan was accepted');
}

describe('plan validation for the executor', () => {
  it('accepts the plans the library writes and counts their ranks', () => {
    for (const config of [{}, { tp: 2, pp: 2, microBatch: 2 }, { tp: 8, sequenceParallel: true, globalBatch: 4, microBatch: 1 }]) {
      const plan = tinyPlan(config);
      validatePlanForExecutor(plan, 8);
      assert.equal(planWorldSize(plan), 8);
    }
  });

  it('refuses a layer count that differs from the model', () => {
    const plan = tinyPlan();
    const e = refusal({ ...plan, layers: plan.layers.slice(0, 3) });
    assert.equal(e.field, 'plan.layers');
    assert.match(e.message, /3 strategies for a 4-layer model/);
  });

  it('refuses a TP degree that does not divide the heads', () => {
    const plan = tinyPlan();
    const model = { ...plan.model, heads: 4, kvHeads: 4, hidden: 64 };
    const layers = plan.layers.map((s, i) => (i === 2 ? { ...s, tp: 8, dp: 1 } : s));
    const e = refusal({ ...plan, model, layers });
    assert.equal(e.field, 'plan.layers[2].tp');
    assert.match(e.message, /tp 8 does not divide the model's 4 attention heads; use one of 1, 2, 4/);
  });

  it('refuses degrees that do not multiply to the stage size', () => {
    const plan = tinyPlan();
    const layers = plan.layers.map((s, i) => (i === 1 ? { ...s, dp: 4 } : s));
    const e = refusal({ ...plan, layers });
    assert.equal(e.field, 'plan.layers[1]');
    assert.match(e.message, /tp·cp·dp = 1·1·4 = 4, but every stage has 8 ranks/);
  });

  it('refuses more (or fewer) ranks than the plan needs', () => {
    const e = refusal(tinyPlan(), 16);
    assert.equal(e.field, 'plan.pipeline.degree');
    assert.match(e.message, /8 ranks, but 16 would start/);
  });

  it('refuses what the executor does not build (every family the planner prices runs; ALiBi positions do not)', () => {
    const plan = tinyPlan();
    const e = refusal({ ...plan, model: { ...plan.model, positional: 'alibi' } });
    assert.equal(e.field, 'plan.model.positional');
    assert.match(e.message, /ALiBi is not built by the executor/);
  });

  it('accepts context parallelism whose 2·cp chunks divide the sequence, and refuses the rest', () => {
    const plan = tinyPlan({ cp: 2, tp: 2, sequenceParallel: true });
    validatePlanForExecutor(plan, 8);
    assert.equal(plan.layers[0]!.cp, 2);
    const short = { ...plan, training: { ...plan.training, seqLen: 30 } };
    const e = refusal(short);
    assert.equal(e.field, 'plan.embedding.cp');
    assert.match(e.message, /seqLen 30 does not split into 2·cp = 4 chunks/);
    // 28 tokens split into 4 chunks, but the 14 of a CP rank do not split over tp 4 with SP.
    const sp = tinyPlan({ cp: 2, tp: 4, sequenceParallel: true });
    const e2 = refusal({ ...sp, training: { ...sp.training, seqLen: 28 } });
    assert.equal(e2.field, 'plan.embedding.sequenceParallel');
    assert.match(e2.message, /the 14 tokens per CP rank do not split over tp 4/);
  });

  it('refuses chunks that do not cover the layers in order', () => {
    const plan = tinyPlan({ pp: 2 });
    const chunks = [{ start: 0, end: 1 }, { start: 2, end: 4 }];
    const e = refusal({ ...plan, pipeline: { ...plan.pipeline, chunks } });
    assert.equal(e.field, 'plan.pipeline.chunks[1].start');
  });

  it('readPlanFile names the field of a schema error', () => {
    const plan = tinyPlan() as unknown as Record<string, unknown>;
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ ...plan, layers: [{ tp: 0, dp: 8 }] }));
    assert.throws(() => readPlanFile(path), (e: unknown) => e instanceof UserInputError && e.field.startsWith('plan.layers[0].tp'));
    assert.throws(() => readPlanFile(join(dir, 'missing.json')), /: plan: .*does not exist; write one with `galvatron plan -o/);
  });

  it('galvatron train exits 2 with one line naming the field, and starts nothing', async () => {
    const plan = tinyPlan();
    const path = join(dir, 'short.json');
    writeFileSync(path, JSON.stringify({ ...plan, layers: plan.layers.slice(0, 2) }));
    const run = await runCli(['train', '--plan', path, '--device', 'cpu'], dir);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^galvatron: plan\.layers: 2 strategies for a 4-layer model; give exactly one per layer/);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1);
  });

  it('galvatron train --nodes 2 prints one torchrun command per node with the rendezvous and node rank', async () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify(tinyPlan()));
    const run = await runCli(['train', '--plan', path, '--nodes', '2', '--master-addr', 'node0.example', '--json'], dir);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { nodes: number; nprocPerNode: number; commands: string[] };
    assert.equal(out.nprocPerNode, 4);
    assert.equal(out.commands.length, 2);
    out.commands.forEach((command, node) => {
      assert.match(command, new RegExp(`--nnodes 2 --node-rank ${node} --nproc-per-node 4 --master-addr node0\\.example --master-port 29500 -m galvatron_runtime\\.train --plan `));
    });
  });
});
