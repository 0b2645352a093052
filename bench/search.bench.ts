// Search wall time on the benchmark's cases, each at a fixed global batch, in the default space of
// `galvatron plan` (interleaving up to 3 chunks).
import { performance } from 'node:perf_hooks';
import { loadCluster } from '../src/hardware/load.js';
import { loadModel } from '../src/model/load.js';
import { searchPlan } from '../src/search/search.js';
import { defaultRules } from '../src/strategy/candidates.js';

export interface SearchBenchRow {
  model: string;
  cluster: string;
  gpus: number;
  globalBatch: number;
  precision?: 'fp16' | 'bf16';
  frontierLimit: number | undefined;
  seconds: number;
  tasks: number;
  exact: boolean;
  plan: string;
  iterationS: number;
  mfu: number;
}

export interface SearchCase {
  model: string;
  cluster: string;
  gpus: number;
  globalBatch: number;
  precision?: 'fp16' | 'bf16';
}

export const SEARCH_CASES: SearchCase[] = [
  { model: 'llama2-7b', cluster: 'dgx-a100-80g', gpus: 8, globalBatch: 64 },
  { model: 'gpt3-13b', cluster: 'dgx-a100-80g', gpus: 64, globalBatch: 512 },
  { model: 'gpt3-175b', cluster: 'dgx-a100-80g', gpus: 64, globalBatch: 64, precision: 'fp16' },
  { model: 'gpt3-175b', cluster: 'dgx-a100-80g', gpus: 1024, globalBatch: 1536 },
  { model: 'llama3.1-405b', cluster: 'dgx-h100', gpus: 16384, globalBatch: 2048 },
];

/** The case's `galvatron plan` flags. */
export function caseFlags(c: SearchCase): string[] {
  return ['--model', c.model, '--cluster', c.cluster, '--gpus', String(c.gpus), '--global-batch', String(c.globalBatch), ...(c.precision ? ['--precision', c.precision] : [])];
}

/** The default's largest chunk count (src/cli/plan-command.ts DEFAULT_MAX_VPP). */
const MAX_VPP = 3;

function describe(result: NonNullable<ReturnType<typeof searchPlan>['best']>): string {
  const p = result.input.pipeline;
  const kinds = [...new Set(result.input.strategies.map((s) => `tp${s.tp}${s.sequenceParallel ? ' sp' : ''} dp${s.dp} ${s.dpType} ${s.recompute}`))];
  return `pp${p.degree}${p.virtualStages > 1 ? `×v${p.virtualStages}` : ''} m${result.input.setup.microBatches}: ${kinds.join(' / ')}`;
}

export function runSearchBench(frontierLimit: number | undefined, cases = SEARCH_CASES): SearchBenchRow[] {
  return cases.map((c) => {
    const start = performance.now();
    const result = searchPlan(loadModel(c.model), loadCluster(c.cluster, c.gpus), {
      globalBatch: c.globalBatch,
      rules: defaultRules(),
      maxVirtualStages: MAX_VPP,
      ...(c.precision ? { precision: c.precision } : {}),
      ...(frontierLimit === undefined ? {} : { frontierLimit }),
    });
    const seconds = (performance.now() - start) / 1000;
    const best = result.best;
    return {
      ...c,
      frontierLimit,
      seconds,
      tasks: result.tasks,
      exact: result.exact,
      plan: best ? describe(best) : 'nothing fits',
      iterationS: best?.timeS ?? NaN,
      mfu: best?.cost.mfu ?? NaN,
    };
  });
}
