// The simulator against the closed form: on uniform plans (every stage the same) it must give the same
// iteration time within 1 % and the same peak memory, for GPipe, 1F1B and interleaved 1F1B; every pass runs
// once, in its schedule's order, never before its input is ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadCostConstants } from '../../src/cost/constants.js';
import { pricePlan } from '../../src/cost/plan-cost.js';
import { uniformPlanInput, type UniformConfig } from '../../src/cost/uniform-plan.js';
import { UserInputError } from '../../src/errors.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { stageSchedule } from '../../src/simulate/schedule.js';
import { simulate } from '../../src/simulate/simulate.js';
import { runCli } from '../cli/helpers.js';

const cluster = loadCluster('dgx-a100-80g', 64);
const models = { 'gpt3-1.3b': loadModel('gpt3-1.3b'), 'llama2-7b': loadModel('llama2-7b') };

const configs = fc.record({
  model: fc.constantFrom(...(Object.keys(models) as (keyof typeof models)[])),
  tp: fc.constantFrom(1, 2, 4, 8),
  pp: fc.constantFrom(1, 2, 4, 8),
  vpp: fc.constantFrom(1, 2, 3),
  microBatch: fc.constantFrom(1, 2),
  globalBatchPerReplica: fc.constantFrom(8, 16, 32),
  schedule: fc.constantFrom('gpipe' as const, '1f1b' as const),
  recompute: fc.constantFrom('none' as const, 'selective' as const, 'full' as const),
  dpType: fc.constantFrom('ddp' as const, 'zero1' as const, 'zero3' as const),
});

test('simulated = closed form within 1 % on random uniform plans (time and peak memory)', () => {
  let checked = 0;
  fc.assert(
    fc.property(configs, (c) => {
      const dp = 64 / (c.tp * c.pp);
      const config: UniformConfig = {
        globalBatch: c.globalBatchPerReplica * dp,
        microBatch: c.microBatch,
        tp: c.tp,
        pp: c.pp,
        cp: 1,
        vpp: c.pp > 1 && c.schedule === '1f1b' ? c.vpp : 1,
        dpType: c.dpType,
        recompute: c.recompute,
        sequenceParallel: false,
        precision: 'bf16',
        schedule: c.schedule,
      };
      let input;
      try {
        input = uniformPlanInput(models[c.model], cluster, config, loadCostConstants());
      } catch (error) {
        if (error instanceof UserInputError) return; // a configuration the model refuses (layers ÷ chunks, …)
        throw error;
      }
      // Uniform means every chunk the same size too (the closed form's C / v); uneven chunks are below.
      const sizes = input.pipeline.chunks.map((r) => r.end - r.start);
      if (sizes.some((n) => n !== sizes[0])) return;
      const cost = pricePlan(input);
      const timeline = simulate(input, cost);
      checked++;
      assert.ok(Math.abs(timeline.iterationS / cost.iterationTimeS - 1) <= 0.01, `${JSON.stringify(config)}: ${timeline.iterationS} vs ${cost.iterationTimeS}`);
      const peak = Math.max(...timeline.stages.map((s) => s.peakBytes));
      assert.ok(Math.abs(peak / cost.memoryPerGpuBytes - 1) <= 0.01, `${JSON.stringify(config)}: peak ${peak} vs ${cost.memoryPerGpuBytes}`);
      // Every pass once, each after its input, each stage in its schedule's order.
      for (const stage of timeline.stages) {
        const order = stageSchedule(input.pipeline.schedule, input.pipeline.degree, input.pipeline.virtualStages, input.setup.microBatches, stage.stage);
        assert.deepEqual(stage.ops.map((o) => [o.kind, o.chunk, o.microBatch]), order.map((o) => [o.kind, o.chunk, o.microBatch]));
        stage.ops.forEach((o, i) => i > 0 && assert.ok(o.startS >= stage.ops[i - 1]!.endS - 1e-12));
      }
    }),
    { numRuns: 80, seed: 20261201 },
  );
  assert.ok(checked >= 30, `only ${checked} plans were valid`);
});

test('uneven interleaved chunks: the simulation is the reference, and the closed form is optimistic there', () => {
  // LLaMA-2 7B's 32 layers in 8 stages × 3 chunks of 1 or 2 layers: stages wait on each other's longer chunks.
  const input = uniformPlanInput(models['llama2-7b'], cluster, { globalBatch: 64, microBatch: 1, tp: 1, pp: 8, cp: 1, vpp: 3, dpType: 'ddp', recompute: 'none', sequenceParallel: false, precision: 'bf16', schedule: '1f1b' }, loadCostConstants());
  const cost = pricePlan(input);
  const timeline = simulate(input, cost);
  assert.ok(timeline.iterationS > cost.iterationTimeS * 1.05, `${timeline.iterationS} vs ${cost.iterationTimeS}`);
  // Memory does not depend on the chunk sizes' order: the same peak.
  const peak = Math.max(...timeline.stages.map((s) => s.peakBytes));
  assert.ok(Math.abs(peak / cost.memoryPerGpuBytes - 1) <= 0.01);
});

test('schedules: 1F1B warms up with pp − 1 − stage forwards; interleaved keeps Megatron\'s order', () => {
  assert.deepEqual(stageSchedule('1f1b', 4, 1, 6, 1).slice(0, 4).map((o) => `${o.kind}${o.microBatch}`), ['F0', 'F1', 'F2', 'B0']);
  assert.deepEqual(stageSchedule('gpipe', 2, 1, 3, 0).map((o) => `${o.kind}${o.microBatch}`), ['F0', 'F1', 'F2', 'B0', 'B1', 'B2']);
  // pp 2, v 2, m 4, stage 0: warm-up of (2 − 0 − 1)·2 + (2 − 1)·2 = 4 forwards over chunks 0,0,1,1.
  assert.deepEqual(stageSchedule('interleaved-1f1b', 2, 2, 4, 0).slice(0, 5).map((o) => `${o.kind}${o.chunk}.${o.microBatch}`), ['F0.0', 'F0.1', 'F1.0', 'F1.1', 'F0.2']);
});

test('galvatron simulate writes the timeline, an SVG and a PNG; a bad plan exits 2 naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-simulate-'));
  const plan = new URL('../../../docs/simulate/gpt3-2.7b-4-stage-1f1b.plan.json', import.meta.url);
  const run = await runCli(['simulate', plan.pathname, '-o', 'timeline.json', '--svg', 'timeline.svg', '--png', 'timeline.png'], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /ms simulated \(1f1b\), .* ms by the closed form/);
  const timeline = JSON.parse(readFileSync(join(dir, 'timeline.json'), 'utf8')) as { format: string; stages: unknown[] };
  assert.equal(timeline.format, 'galvatron.timeline/v1');
  assert.equal(timeline.stages.length, 4);
  assert.match(readFileSync(join(dir, 'timeline.svg'), 'utf8'), /^<svg xmlns/);
  assert.deepEqual([...readFileSync(join(dir, 'timeline.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ format: 'galvatron.plan/v1' }));
  const bad = await runCli(['simulate', 'bad.json'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^galvatron: plan\.model: missing; add this field\n$/);
});
