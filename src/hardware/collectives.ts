// α–β cost of collectives with nccl-tests bus-bandwidth conventions; the group's placement picks the link.
import type { ClusterSpec, MeasuredCollective } from './spec.js';

export type CollectiveKind = 'all-reduce' | 'all-gather' | 'reduce-scatter' | 'all-to-all' | 'broadcast';

/** Where a communication group's ranks sit: its size and how many of them share one node. */
export interface GroupPlacement {
  size: number;
  membersPerNode: number;
}

/**
 * Placement of a group whose ranks are `stride` apart (rank r, r+stride, …) in a cluster whose nodes
 * hold `gpusPerNode` consecutive ranks. Stride 1 = adjacent ranks (TP); larger strides spread out.
 */
export function placeGroup(size: number, stride: number, gpusPerNode: number): GroupPlacement {
  if (size <= 1) return { size: 1, membersPerNode: 1 };
  const membersPerNode = stride >= gpusPerNode ? 1 : Math.min(size, Math.floor(gpusPerNode / stride));
  return { size, membersPerNode };
}

export function spansNodes(group: GroupPlacement): boolean {
  return group.membersPerNode < group.size;
}

/** Bus bandwidth (bytes/s) a collective on this group reaches. Across nodes the NICs bound it. */
export function busBandwidthBytesPerS(cluster: ClusterSpec, group: GroupPlacement): number {
  const intraFull = cluster.intraNode.busBandwidthGBps * 1e9;
  const meshShare = (members: number) =>
    cluster.intraNode.topology === 'mesh' && cluster.gpusPerNode > 1 ? Math.min(1, (members - 1) / (cluster.gpusPerNode - 1)) : 1;
  const intra = intraFull * meshShare(group.membersPerNode);
  if (!spansNodes(group)) return intra;
  const inter = cluster.interNode;
  // The group's share of the node's NICs: every GPU of the node runs its own group concurrently.
  const nicShare = (group.membersPerNode * inter.nicsPerNode) / cluster.gpusPerNode;
  const nicBound = nicShare * inter.nicGBps * 1e9;
  return Math.min(intra, inter.busBandwidthGBps * 1e9, nicBound);
}

/** Fraction of the buffer each rank moves, in the bus-bandwidth convention. */
export function busTrafficFactor(kind: CollectiveKind, n: number): number {
  switch (kind) {
    case 'all-reduce':
      return (2 * (n - 1)) / n;
    case 'all-gather':
    case 'reduce-scatter':
    case 'all-to-all':
      return (n - 1) / n;
    case 'broadcast':
      return 1;
  }
}

/** Ring steps, each paying the link latency α once. */
function latencySteps(kind: CollectiveKind, n: number): number {
  return kind === 'all-reduce' ? 2 * (n - 1) : n - 1;
}

/** The measured α–β fit of this kind on `groupSize` ranks of one node, if the cluster carries one. */
function measured(cluster: ClusterSpec, kind: MeasuredCollective['kind'], groupSize: number): MeasuredCollective | undefined {
  return cluster.measuredCollectives?.find((c) => c.kind === kind && c.groupSize === groupSize);
}

/** The fit that prices this collective on this group: measured inside a node at the group's size (never broadcast). */
export function measuredFit(cluster: ClusterSpec, kind: CollectiveKind, group: GroupPlacement): MeasuredCollective | undefined {
  return !spansNodes(group) && kind !== 'broadcast' ? measured(cluster, kind, group.size) : undefined;
}

/**
 * Time (s) of one collective over `bytes` (the full buffer: the all-reduced tensor, or the gathered
 * result of an all-gather, or the input of a reduce-scatter). Inside a node, a collective the cluster's
 * profile measured at this group size is priced by its own fit, α + factor·bytes/β; otherwise by the
 * link model: a latency per ring step and the level's bus bandwidth.
 */
export function collectiveTimeS(cluster: ClusterSpec, kind: CollectiveKind, bytes: number, group: GroupPlacement): number {
  if (group.size <= 1 || bytes <= 0) return 0;
  return collectiveLatencyS(cluster, kind, group) + collectiveBandwidthS(cluster, kind, bytes, group);
}

/** The latency part α of a collective on this group (the measured fit's, or one link latency per ring step). */
export function collectiveLatencyS(cluster: ClusterSpec, kind: CollectiveKind, group: GroupPlacement): number {
  const n = group.size;
  if (n <= 1) return 0;
  const fit = measuredFit(cluster, kind, group);
  if (fit) return fit.alphaUs * 1e-6;
  return latencySteps(kind, n) * (spansNodes(group) ? cluster.interNode.latencyUs : cluster.intraNode.latencyUs) * 1e-6;
}

/**
 * The bandwidth part of a collective over `bytes`: what `bytes` add to a collective that carries more
 * (a bucket of several layers' gradients, whose latency is paid once for the whole bucket).
 */
export function collectiveBandwidthS(cluster: ClusterSpec, kind: CollectiveKind, bytes: number, group: GroupPlacement): number {
  const n = group.size;
  if (n <= 1 || bytes <= 0) return 0;
  const fit = measuredFit(cluster, kind, group);
  return (busTrafficFactor(kind, n) * bytes) / (fit ? fit.busBandwidthGBps * 1e9 : busBandwidthBytesPerS(cluster, group));
}

/**
 * Time (s) of a point-to-point send of `bytes` between two ranks, inside a node or across nodes: the
 * measured p2p fit inside a node when the cluster's profile has one, else the link's latency and rate.
 */
export function p2pTimeS(cluster: ClusterSpec, bytes: number, crossesNodes: boolean): number {
  if (bytes <= 0) return 0;
  const fit = crossesNodes ? undefined : measured(cluster, 'p2p', 2);
  if (fit) return fit.alphaUs * 1e-6 + bytes / (fit.busBandwidthGBps * 1e9);
  const link = crossesNodes ? cluster.interNode : cluster.intraNode;
  const bandwidth = crossesNodes ? Math.min(link.p2pGBps, cluster.interNode.nicGBps) : link.p2pGBps;
  return link.latencyUs * 1e-6 + bytes / (bandwidth * 1e9);
}
