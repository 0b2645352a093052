// Shared builders for cost-model tests: GPT-style layers, strategies and contexts.
import { loadCostConstants } from '../../src/cost/constants.js';
import type { LayerCostContext } from '../../src/cost/layer-time.js';
import type { TrainingSetup } from '../../src/cost/types.js';
import { loadCluster } from '../../src/hardware/load.js';
import type { ClusterSpec } from '../../src/hardware/spec.js';
import { layerList } from '../../src/model/derived.js';
import { resolveModelSpec } from '../../src/model/load.js';
import type { LayerShape } from '../../src/model/spec.js';
import type { LayerStrategy } from '../../src/strategy/layer-strategy.js';

export function gptLayer(hidden: number, heads: number, seqLen: number): LayerShape {
  const model = resolveModelSpec({ name: 'test-gpt', family: 'gpt', layers: 1, hidden, heads, vocab: 51200, seqLen });
  return layerList(model)[0]!;
}

export function strategy(overrides: Partial<LayerStrategy>): LayerStrategy {
  return { tp: 1, sequenceParallel: false, cp: 1, dp: 1, dpType: 'ddp', recompute: 'none', tpConsecutive: true, ...overrides };
}

export function setup(overrides: Partial<TrainingSetup> = {}): TrainingSetup {
  return {
    globalBatch: 1,
    microBatches: 1,
    seqLen: 2048,
    precision: 'fp16',
    attention: 'unfused',
    fp32MainGrads: false,
    dropout: true,
    tpOverlap: false,
    ...overrides,
  };
}

export function context(cluster: ClusterSpec, trainingSetup: TrainingSetup): LayerCostContext {
  return { kernel: { gpu: cluster.gpu, precision: trainingSetup.precision, constants: loadCostConstants() }, cluster, setup: trainingSetup };
}

export const a100Node = (): ClusterSpec => loadCluster('dgx-a100-80g', 8);

export const GIB = 1024 ** 3;

/** Asserts |actual/expected − 1| ≤ tolerance. */
export function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  const error = Math.abs(actual / expected - 1);
  if (!(error <= tolerance)) {
    throw new Error(`${what}: ${actual} vs expected ${expected} (error ${(100 * error).toFixed(3)} % > ${(100 * tolerance).toFixed(3)} %)`);
  }
}
