// Cost-model speed: how long pricing one whole plan takes, per model size (the search prices many).
import { performance } from 'node:perf_hooks';
import { pricePlan } from '../src/cost/plan-cost.js';
import { uniformPlanInput } from '../src/cost/uniform-plan.js';
import { loadCluster } from '../src/hardware/load.js';
import { loadModel } from '../src/model/load.js';

export interface CostBenchRow {
  model: string;
  gpus: number;
  layers: number;
  microsecondsPerPlan: number;
  microsecondsPerLayer: number;
}

const CASES = [
  { model: 'llama2-7b', cluster: 'dgx-a100-80g', gpus: 8, tp: 2, pp: 1, batch: 64 },
  { model: 'gpt3-13b', cluster: 'dgx-a100-80g', gpus: 64, tp: 4, pp: 2, batch: 256 },
  { model: 'gpt3-175b', cluster: 'dgx-a100-80g', gpus: 1024, tp: 8, pp: 8, batch: 1536 },
  { model: 'llama3.1-405b', cluster: 'dgx-h100', gpus: 16384, tp: 8, pp: 16, batch: 2048 },
];

export function runCostModelBench(minMs = 300): CostBenchRow[] {
  return CASES.map((c) => {
    const model = loadModel(c.model);
    const input = uniformPlanInput(model, loadCluster(c.cluster, c.gpus), {
      globalBatch: c.batch, microBatch: 1, tp: c.tp, pp: c.pp, cp: 1, vpp: 1, dpType: 'zero1', recompute: 'selective', sequenceParallel: true, precision: 'bf16', schedule: '1f1b',
    });
    pricePlan(input); // warm-up
    let runs = 0;
    const start = performance.now();
    while (performance.now() - start < minMs) {
      pricePlan(input);
      runs++;
    }
    const perPlanUs = ((performance.now() - start) * 1e3) / runs;
    return { model: c.model, gpus: c.gpus, layers: model.layers, microsecondsPerPlan: perPlanUs, microsecondsPerLayer: perPlanUs / model.layers };
  });
}
