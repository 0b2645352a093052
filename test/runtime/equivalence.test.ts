// The executor's central test (issue 5): a matrix of plans on 8 CPU ranks (gloo, float64) must give the
// loss of each of 3 steps and the final parameters of a single-process run of the same model and data,
// to 1e-10 relative. One torchrun launch runs the whole matrix (starting 8 PyTorch processes per plan would
// take most of the time on two cores).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { SWIN_PP2_MIXED, TINY_LLAMA, TINY_SWIN, TINY_T5, TINY_VIT, tinyPlan, type PlanConfig } from './plans.js';
import { runTorchrunModule } from './torchrun.js';

const TOLERANCE = 1e-10;
const RANKS = 8;

/** Each entry: a name and the plan's configuration on 8 ranks (16 samples per step). */
export const MATRIX: [string, PlanConfig][] = [
  ['pure DP (ddp, dp 8)', {}],
  ['ZeRO-1 (dp 8)', { dpType: 'zero1' }],
  ['ZeRO-2 (dp 8)', { dpType: 'zero2' }],
  ['ZeRO-3 (dp 8)', { dpType: 'zero3' }],
  ['TP 2, dp 4', { tp: 2 }],
  ['TP 2 + SP, dp 4 zero2', { tp: 2, sequenceParallel: true, dpType: 'zero2' }],
  ['TP 4, dp 2', { tp: 4 }],
  ['TP 4 + SP, dp 2 zero3', { tp: 4, sequenceParallel: true, dpType: 'zero3' }],
  ['TP 8', { tp: 8, microBatch: 4 }],
  ['TP 8 + SP', { tp: 8, sequenceParallel: true, microBatch: 4 }],
  ['PP 2 gpipe, dp 4', { pp: 2, schedule: 'gpipe' }],
  ['PP 2 1f1b, dp 4', { pp: 2 }],
  ['PP 4 gpipe, dp 2', { pp: 4, schedule: 'gpipe' }],
  ['PP 4 1f1b, dp 2', { pp: 4 }],
  ['3D: TP 2 × PP 2 × DP 2 (1f1b)', { tp: 2, pp: 2 }],
  ['interleaved 1F1B: PP 2 × 2 chunks, TP 2, zero1', { tp: 2, pp: 2, vpp: 2, dpType: 'zero1' }],
  ['recompute full, TP 2', { tp: 2, recompute: 'full' }],
  ['recompute selective, TP 2 + SP', { tp: 2, sequenceParallel: true, recompute: 'selective' }],
  ['TP 2 strided (DP on adjacent ranks)', { tp: 2, layers: Array.from({ length: 4 }, () => ({ tpConsecutive: false })) }],
  [
    'heterogeneous: tp2 dp4 zero2 / tp1 dp8 ddp / tp4 sp dp2 zero3 / tp8 full recompute',
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
    'heterogeneous LLaMA (GQA, RoPE, SwiGLU) on PP 2: tp4 sp / tp2 zero1 | tp1 zero3 selective / tp2 strided',
    {
      model: TINY_LLAMA,
      pp: 2,
      tp: 2,
      microBatch: 2,
      layers: [
        { tp: 4, dp: 1, sequenceParallel: true },
        { tp: 2, dp: 2, dpType: 'zero1' },
        { tp: 1, dp: 4, dpType: 'zero3', recompute: 'selective' },
        { tp: 2, dp: 2, tpConsecutive: false },
      ],
    },
  ],
  // Context parallelism (python/galvatron_runtime/cp.py): the sequence in 2·cp load-balanced chunks, K/V
  // gathered over the CP group, gradients synchronised over DP × CP. GPT plans train with dropout.
  ['CP 2 × TP 2 × DP 2', { cp: 2, tp: 2 }],
  ['CP 4 × DP 2, ZeRO-3', { cp: 4, dpType: 'zero3' }],
  ['CP 2 × TP 2 × PP 2 1f1b (tied embedding across stages), ZeRO-2 over DP × CP', { cp: 2, tp: 2, pp: 2, dpType: 'zero2', microBatch: 2 }],
  ['CP 4 × TP 2 + SP, ZeRO-1', { cp: 4, tp: 2, sequenceParallel: true, dpType: 'zero1', microBatch: 4 }],
  ['LLaMA (GQA, RoPE) CP 2 × TP 2 + SP × DP 2, DP on adjacent ranks', { model: TINY_LLAMA, cp: 2, tp: 2, sequenceParallel: true, layers: Array.from({ length: 4 }, () => ({ tpConsecutive: false })) }],
  [
    // Layers 0, 1 and 3 have cp 2 with different CP groups for most ranks (tables per CP rank, groups per layer).
    'heterogeneous CP (GPT): tp2 cp2 dp2 / tp1 cp2 dp4 / tp2 sp cp4 / tp1 cp2 dp4 strided; embedding cp2 dp4',
    {
      cp: 2,
      layers: [
        { tp: 2, cp: 2, dp: 2 },
        { tp: 1, cp: 2, dp: 4, dpType: 'zero1' },
        { tp: 2, cp: 4, dp: 1, sequenceParallel: true, dpType: 'zero3' },
        { tp: 1, cp: 2, dp: 4, tpConsecutive: false, recompute: 'selective' },
      ],
    },
  ],
  [
    'heterogeneous CP on PP 2 (LLaMA): cp2 tp2 sp / cp4 zero2 | tp2 dp2 zero3 / cp2 dp2 full recompute; embedding cp2 dp2',
    {
      model: TINY_LLAMA,
      pp: 2,
      cp: 2,
      microBatch: 2,
      layers: [
        { tp: 2, cp: 2, dp: 1, sequenceParallel: true },
        { tp: 1, cp: 4, dp: 1, dpType: 'zero2' },
        { tp: 2, cp: 1, dp: 2, dpType: 'zero3' },
        { tp: 1, cp: 2, dp: 2, recompute: 'full' },
      ],
    },
  ],
  // ViT (python/galvatron_runtime/vision.py): patch embedding + class token, bidirectional encoder layers,
  // class-parallel classifier; 26 tokens (25 patches + class token), so SP with TP 2.
  [
    'heterogeneous ViT on PP 2: tp2 sp / tp1 zero3 | tp4 zero1 / tp2 sp full recompute; embedding tp2 sp',
    {
      model: TINY_VIT,
      pp: 2,
      tp: 2,
      sequenceParallel: true,
      microBatch: 2,
      layers: [
        { tp: 2, dp: 2, sequenceParallel: true },
        { tp: 1, dp: 4, sequenceParallel: false, dpType: 'zero3' },
        { tp: 4, dp: 1, sequenceParallel: false, dpType: 'ddp' },
        { tp: 2, dp: 2, sequenceParallel: true, recompute: 'full', dpType: 'zero2' },
      ],
    },
  ],
  ['ViT: TP 8 classifier and layers, selective recompute', { model: TINY_VIT, tp: 8, microBatch: 4, recompute: 'selective' }],
  // T5 (python/galvatron_runtime/t5.py): 2 encoder + 2 decoder layers, 32 encoder and 16 decoder tokens, the
  // relative-position tables copied on every rank (gradients summed over the world), the word table tied
  // across stages, two streams through the pipeline, cross-attention; trains with dropout.
  [
    'heterogeneous T5 on PP 2, encoder | decoder at the stage boundary: tp2 sp zero2 / tp4 zero3 | tp1 selective / tp2 sp full recompute; embedding tp2 sp',
    {
      model: TINY_T5,
      pp: 2,
      tp: 2,
      sequenceParallel: true,
      microBatch: 2,
      layers: [
        { tp: 2, dp: 2, sequenceParallel: true, dpType: 'zero2' },
        { tp: 4, dp: 1, sequenceParallel: false, dpType: 'zero3' },
        { tp: 1, dp: 4, sequenceParallel: false, dpType: 'ddp', recompute: 'selective' },
        { tp: 2, dp: 2, sequenceParallel: true, dpType: 'zero1', recompute: 'full' },
      ],
    },
  ],
  [
    'heterogeneous T5 on PP 2 (gpipe), the encoder | decoder boundary inside stage 1 (layers 0 | 1-3): tp4 zero1 | tp2 strided full / tp1 zero3 sp-off / tp4 sp selective',
    {
      model: TINY_T5,
      pp: 2,
      schedule: 'gpipe',
      tp: 1,
      microBatch: 2,
      dpType: 'zero2',
      chunks: [
        { start: 0, end: 1 },
        { start: 1, end: 4 },
      ],
      layers: [
        { tp: 4, dp: 1, dpType: 'zero1' },
        { tp: 2, dp: 2, tpConsecutive: false, recompute: 'full' },
        { tp: 1, dp: 4, dpType: 'zero3' },
        { tp: 4, dp: 1, sequenceParallel: true, recompute: 'selective' },
      ],
    },
  ],
  ['T5: TP 8 + SP (embedding, head and layers), selective recompute', { model: TINY_T5, tp: 8, sequenceParallel: true, microBatch: 4, recompute: 'selective' }],
  // Swin (python/galvatron_runtime/swin.py): 3 stages of 2 layers (16×16, 8×8, 4×4 tokens at widths 16, 32,
  // 64; windows of 4, shifted on every second layer but the last stage's), patch merging in layers 2 and 4.
  // Activations change shape along the model: moves, sends and dropout keys use each layer's own.
  [
    'heterogeneous Swin on PP 2, a merge at the stage boundary (layer 2) and one inside stage 1 (layer 4): tp2 sp / tp1 zero3 | tp4 sp / tp2 zero1 selective / tp4 sp full recompute / tp2 strided zero2; embedding tp2 sp',
    SWIN_PP2_MIXED,
  ],
  [
    // Layer 4 merges the 8×8 grid at TP 8 + SP: a rank's 8 tokens are one row, so it gathers the grid.
    'Swin: TP 2 + SP (embedding, head, stages 1-2), stage 3 at TP 8 + SP (merging by gathering the grid), dp 4',
    {
      model: TINY_SWIN,
      tp: 2,
      sequenceParallel: true,
      microBatch: 2,
      layers: [{}, {}, {}, {}, { tp: 8, dp: 1 }, { tp: 8, dp: 1, recompute: 'selective' }],
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

async function runMatrix(paths: string[]): Promise<{ lines: EquivalenceLine[]; stderr: string; code: number | null }> {
  const run = await runTorchrunModule<EquivalenceLine>('galvatron_runtime.equivalence', ['--steps', '3', '--dtype', 'float64', '--plans', ...paths], RANKS, 'equivalence');
  return { lines: run.events, stderr: run.stderr, code: run.code };
}

describe('executor equivalence: 8 CPU ranks (gloo, float64) vs one process', { timeout: 15 * 60 * 1000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'galvatron-equivalence-'));
  const paths = MATRIX.map(([, config], i) => {
    const plan = tinyPlan({ ...config, precision: 'fp32' });
    validatePlanForExecutor(plan, RANKS);
    const path = join(dir, `plan-${String(i).padStart(2, '0')}.json`);
    writeFileSync(path, JSON.stringify(plan));
    return path;
  });
  let result: Awaited<ReturnType<typeof runMatrix>>;

  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    result = await runMatrix(paths);
  });

  it('the matrix run ends cleanly with one result per plan', () => {
    assert.equal(result.code, 0, result.stderr.slice(-4000));
    assert.equal(result.lines.length, MATRIX.length, result.stderr.slice(-4000));
  });

  MATRIX.forEach(([name], i) => {
    it(name, (t) => {
      const line = result.lines.find((l) => l.plan === paths[i] || l.plan.endsWith(`plan-${String(i).padStart(2, '0')}.json`));
      assert.ok(line, `no result for ${paths[i]}; stderr: ${result.stderr.slice(-2000)}`);
      assert.equal(line.losses.length, 3);
      assert.equal(line.referenceLosses.length, 3);
      line.losses.forEach((loss, step) => {
        const reference = line.referenceLosses[step]!;
        assert.ok(Number.isFinite(loss) && loss > 0, `step ${step} loss ${loss}`);
        assert.ok(Math.abs(loss - reference) <= TOLERANCE * Math.abs(reference), `step ${step}: ${loss} vs ${reference}`);
      });
      t.diagnostic(`max loss rel error ${line.maxLossRelError.toExponential(2)}, max parameter rel error ${line.maxParamRelError.toExponential(2)} (${line.worstParam})`);
      // The loss must move: a run that never updates its weights would match trivially.
      assert.notEqual(line.referenceLosses[0], line.referenceLosses[2]);
      assert.ok(line.maxLossRelError <= TOLERANCE, `loss error ${line.maxLossRelError}`);
      assert.ok(line.maxParamRelError <= TOLERANCE, `parameter ${line.worstParam}: error ${line.maxParamRelError}`);
    });
  });
});
