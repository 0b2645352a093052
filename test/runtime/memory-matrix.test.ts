// The cost model's memory is the executor's memory (issue 9): for plans of many shapes on 8 CPU ranks
// (gloo, float32), the model-state and activation bytes the cost model predicts per rank agree with what
// the executor's accounting counts (python/galvatron_runtime/memory.py) within 3 %. Model states are the
// tensors each rank holds after ZeRO; activations are the storages saved for backward by one micro-batch,
// deduplicated, summed over the rank's layers, embedding and head.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { priceForExecutor } from '../../src/plan/to-cost.js';
import type { Plan } from '../../src/plan/schema.js';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { SWIN_PP2_MIXED, TINY_LLAMA, tinyPlan, type PlanConfig } from './plans.js';
import { runTorchrunModule } from './torchrun.js';

const RANKS = 8;
const TOLERANCE = 0.03;

interface MemoryLine {
  event: 'memory';
  plan: string;
  rank: number;
  stage: number;
  modelStateBytes: number;
  activationBytes: number;
  transientBytes: number;
  peakActivationBytes: number;
}

const llama = (config: PlanConfig): PlanConfig => ({ model: TINY_LLAMA, ...config });

export const MEMORY_MATRIX: [string, PlanConfig][] = [
  ['GPT pure DP (dp 8)', {}],
  ['GPT ZeRO-1 (dp 8), micro-batch 2', { dpType: 'zero1', microBatch: 2, globalBatch: 32 }],
  ['GPT ZeRO-2 (dp 8), 2 micro-batches', { dpType: 'zero2', globalBatch: 16 }],
  ['GPT ZeRO-3 (dp 8)', { dpType: 'zero3', globalBatch: 8 }],
  ['GPT TP 2, dp 4', { tp: 2 }],
  ['GPT TP 4 + SP, dp 2, ZeRO-2', { tp: 4, sequenceParallel: true, dpType: 'zero2' }],
  ['GPT TP 2 + SP, ZeRO-3, full recompute', { tp: 2, sequenceParallel: true, dpType: 'zero3', recompute: 'full' }],
  ['GPT TP 2, selective recompute', { tp: 2, recompute: 'selective' }],
  ['LLaMA (GQA, RoPE, SwiGLU) TP 2, dp 4', llama({ tp: 2 })],
  ['LLaMA TP 4 + SP, ZeRO-3, selective', llama({ tp: 4, sequenceParallel: true, dpType: 'zero3', recompute: 'selective' })],
  ['LLaMA PP 2 1F1B × TP 2 × DP 2', llama({ pp: 2, tp: 2, globalBatch: 16 })],
  ['GPT PP 4 1F1B (tied embedding across stages), dp 2', { pp: 4, globalBatch: 16 }],
  ['GPT PP 2 interleaved (2 chunks) × TP 2 + SP × DP 2, ZeRO-1', { pp: 2, vpp: 2, tp: 2, sequenceParallel: true, dpType: 'zero1', globalBatch: 16 }],
  ['LLaMA PP 2 GPipe, dp 4, ZeRO-1, full recompute', llama({ pp: 2, schedule: 'gpipe', dpType: 'zero1', recompute: 'full' })],
  // Context parallelism: each rank keeps its own part of K/V (the gathered K/V are gathered again in
  // backward), the causal mask is one constant table per CP rank, states are sharded over DP × CP.
  ['GPT CP 2 × TP 2 + SP × DP 2, ZeRO-2', { cp: 2, tp: 2, sequenceParallel: true, dpType: 'zero2' }],
  ['LLaMA CP 4 × DP 2, ZeRO-3, selective recompute', llama({ cp: 4, dpType: 'zero3', recompute: 'selective' })],
  [
    'heterogeneous GPT: tp2 zero2 / tp1 ddp / tp4 sp zero3 / tp8 full',
    {
      tp: 2,
      dpType: 'zero2',
      microBatch: 2,
      layers: [
        { tp: 2, dp: 4, dpType: 'zero2' },
        { tp: 1, dp: 8, dpType: 'ddp' },
        { tp: 4, dp: 2, sequenceParallel: true, dpType: 'zero3' },
        { tp: 8, dp: 1, recompute: 'full' },
      ],
    },
  ],
  [
    // Swin: activations change shape at every patch merging; the embedding keeps its pixels and patch norm
    // on every TP rank, a merging layer its 2×2 blocks (its band of rows under SP), a fully recomputed
    // merging layer the previous stage's larger input, the head the last stage's tokens.
    'Swin PP 2: tp2 sp / tp1 zero3 | tp4 sp merge / tp2 selective / tp4 sp merge full recompute / tp2 strided; embedding tp2 sp',
    SWIN_PP2_MIXED,
  ],
];

function relativeError(measured: number, predicted: number): number {
  return Math.abs(measured - predicted) / predicted;
}

describe('memory matrix: predicted vs executor-accounted bytes per rank (8 CPU ranks, float32)', { timeout: 10 * 60 * 1000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-memory-'));
  const plans: Plan[] = [];
  const paths = MEMORY_MATRIX.map(([, config], i) => {
    const plan = tinyPlan({ ...config, precision: 'fp32' });
    validatePlanForExecutor(plan, RANKS);
    plans.push(plan);
    const path = join(dir, `plan-${String(i).padStart(2, '0')}.json`);
    writeFileSync(path, JSON.stringify(plan));
    return path;
  });
  let result: Awaited<ReturnType<typeof runTorchrunModule<MemoryLine>>>;

  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    result = await runTorchrunModule<MemoryLine>('galvatron_runtime.memory_matrix', ['--dtype', 'float32', '--plans', ...paths], RANKS, 'memory');
  });

  it('the run ends cleanly with one memory report per plan and rank', () => {
    assert.equal(result.code, 0, result.stderr.slice(-4000));
    assert.equal(result.events.length, MEMORY_MATRIX.length * RANKS, result.stderr.slice(-4000));
  });

  MEMORY_MATRIX.forEach(([name], i) => {
    it(name, (t) => {
      const cost = priceForExecutor(plans[i]!, 'float32');
      assert.ok(cost);
      const lines = result.events.filter((e) => e.plan === paths[i]).sort((a, b) => a.rank - b.rank);
      assert.equal(lines.length, RANKS, `reports for ${paths[i]}`);
      const rows = lines.map((line) => {
        const stage = cost.stages[line.stage]!.memory;
        return {
          rank: line.rank,
          stateError: relativeError(line.modelStateBytes, stage.modelStateBytes),
          activationError: relativeError(line.activationBytes, stage.activationBytesPerMicroBatch),
          inFlightError: relativeError(line.peakActivationBytes, stage.activationBytesPerMicroBatch * stage.inFlightMicroBatches),
          inFlightRatio: line.peakActivationBytes / (stage.activationBytesPerMicroBatch * stage.inFlightMicroBatches),
          detail: `rank ${line.rank} stage ${line.stage}: states ${line.modelStateBytes} vs ${Math.round(stage.modelStateBytes)}, activations ${line.activationBytes} vs ${Math.round(stage.activationBytesPerMicroBatch)}`,
        };
      });
      const report = rows.map((r) => r.detail).join('\n');
      const worst = (key: 'stateError' | 'activationError' | 'inFlightError') => (100 * Math.max(...rows.map((r) => r[key]))).toFixed(3);
      t.diagnostic(`worst rank: model states ${worst('stateError')} %, activations ${worst('activationError')} %, in-flight peak ${worst('inFlightError')} %`);
      for (const row of rows) {
        assert.ok(row.stateError <= TOLERANCE, `model states off by ${(100 * row.stateError).toFixed(2)} %\n${report}`);
        assert.ok(row.activationError <= TOLERANCE, `activations off by ${(100 * row.activationError).toFixed(2)} %\n${report}`);
        // The schedule's peak of live activations: what the cost model multiplies by. Exact for GPipe and
        // 1F1B; for interleaved 1F1B the model averages the in-flight count over chunks of unequal size,
        // so it may over-predict there (never under).
        const interleaved = plans[i]!.pipeline.virtualStages > 1;
        assert.ok(row.inFlightRatio <= 1 + TOLERANCE, `in-flight peak above the prediction: ${row.inFlightRatio}\n${report}`);
        assert.ok(row.inFlightRatio >= (interleaved ? 0.9 : 1 - TOLERANCE), `in-flight peak far below the prediction: ${row.inFlightRatio}\n${report}`);
      }
    });
  });
});
