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

/**
 * Time (s) to re-lay out one micro-batch's hidden states from strategy `from` to `to`, in one direction
 * (the backward pass moves the gradients back the same way). Priced as an all-to-all over the stage's GPUs
 * of the bytes each GPU holds under `to`: an upper bound that covers gathers (batch or sequence less split)
 * and re-shuffles (a different rank order).
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
  const bytesPerGpu = ((microBatchSamples / to.dp) * (seqLen / to.cp) * hidden * bytesPerElement(precision)) / (to.sequenceParallel ? to.tp : 1);
  return collectiveTimeS(cluster, 'all-to-all', bytesPerGpu, placeGroup(stageGpus, 1, cluster.gpusPerNode));
}
