// Re-distributing activations between adjacent layers whose parallel layouts differ (DESIGN.md §3).
import { collectiveTimeS, placeGroup } from '../hardware/collectives.js';
import type { ClusterSpec } from '../hardware/spec.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { bytesPerElement } from './kernels.js';
import type { Precision } from './types.js';

/** Whether two strategies lay out a layer's output the same way on the stage's GPUs. */
export function sameActivationLayout(a: LayerStrategy, b: LayerStrategy): boolean {
  return a.tp === b.tp && a.cp === b.cp && a.dp === b.dp && a.tpConsecutive === b.tpConsecutive && (a.tp === 1 || a.sequenceParallel === b.sequenceParallel);
}

/** Bytes of one micro-batch's hidden states one GPU holds under strategy `s`. */
function blockBytes(s: LayerStrategy, microBatchSamples: number, seqLen: number, hidden: number, precision: Precision): number {
  return ((microBatchSamples / s.dp) * (seqLen / s.cp) * hidden * bytesPerElement(precision)) / (s.sequenceParallel && s.tp > 1 ? s.tp : 1);
}

/**
 * Time (s) to re-lay out one micro-batch's hidden states from strategy `from` to `to`, charged once in
 * the forward pass and once in the backward. The executor (python/galvatron_runtime/redistribute.py)
 * all-gathers every GPU's block over the stage and keeps its block of the new layout: forward the blocks
 * of `from`, backward the gradients' blocks of `to`. Each direction is charged the mean of the two, so
 * the pair costs what the two gathers cost.
 */
export function transitionTimeS(
  from: LayerStrategy,
  to: LayerStrategy,
  microBatchSamples: number,
  seqLen: number,
  hidden: number,
  precision: Precision,
  cluster: ClusterSpec,
): number {
  if (sameActivationLayout(from, to)) return 0;
  const stageGpus = to.tp * to.cp * to.dp;
  const stage = placeGroup(stageGpus, 1, cluster.gpusPerNode);
  const gather = (s: LayerStrategy) => collectiveTimeS(cluster, 'all-gather', stageGpus * blockBytes(s, microBatchSamples, seqLen, hidden, precision), stage);
  return (gather(from) + gather(to)) / 2;
}
