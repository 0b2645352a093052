// The one world-wide all-reduce every training step makes before its optimizer step: the squared
// gradient norm for clipping, the loss and the found-inf flag (python/galvatron_runtime/executor.py;
// Megatron-LM reduces its gradient norm and loss likewise). Its few bytes make it pure latency: tens of
// microseconds on NVLink, tens of milliseconds on gloo CPU ranks sharing cores, where it was 3-5 % of a
// step that the cost model left out (docs/closed-loop.md).
import { measuredFit, placeGroup, spansNodes } from '../hardware/collectives.js';
import type { ClusterSpec } from '../hardware/spec.js';

/** Three float64 values: squared norm, loss, found-inf count. */
export const STEP_SYNC_BYTES = 24;

/**
 * Time (s) of the step's world all-reduce over `worldSize` ranks. A measured fit at that group size
 * (a profile's collectives, inside a node) prices it directly; otherwise a tiny all-reduce runs as a tree
 * (as NCCL picks for small buffers): up and down log2(n) levels, each one link latency, not a ring's 2(n−1).
 */
export function stepSyncS(cluster: ClusterSpec, worldSize: number): number {
  if (worldSize <= 1) return 0;
  const group = placeGroup(worldSize, 1, cluster.gpusPerNode);
  const fit = measuredFit(cluster, 'all-reduce', group);
  if (fit) return fit.alphaUs * 1e-6;
  const levels = Math.ceil(Math.log2(worldSize));
  const latencyUs = spansNodes(group) ? cluster.interNode.latencyUs : cluster.intraNode.latencyUs;
  return 2 * levels * latencyUs * 1e-6;
}
