// Where a layer's TP, CP and DP groups sit inside a pipeline stage (DESIGN.md §3 "Rank layout").
import { placeGroup, type GroupPlacement } from '../hardware/collectives.js';
import type { LayerStrategy } from './layer-strategy.js';

export interface GroupStrides {
  tp: number;
  cp: number;
  dp: number;
}

/**
 * Rank strides of the groups: TP on adjacent ranks, then CP, then DP; with tpConsecutive = false the
 * DP group takes the adjacent ranks and TP is strided (Galvatron's tp_consecutive_flag = 0).
 */
export function groupStrides(strategy: LayerStrategy): GroupStrides {
  if (strategy.tpConsecutive) {
    return { tp: 1, cp: strategy.tp, dp: strategy.tp * strategy.cp };
  }
  return { dp: 1, cp: strategy.dp, tp: strategy.dp * strategy.cp };
}

/** The groups of one kind, as local rank lists, given its size and stride inside a stage of `n` ranks. */
function groupsOf(size: number, stride: number, n: number): number[][] {
  const groups: number[][] = [];
  for (let r = 0; r < n; r++) {
    // r is the group's first member when its coordinate along this stride is 0.
    if (Math.floor(r / stride) % size !== 0) continue;
    groups.push(Array.from({ length: size }, (_, k) => r + k * stride));
  }
  return groups;
}

/** Every TP, CP, DP and gradient-sync (DP × CP) group of a layer inside its stage, as local rank lists. */
export function rankGroups(strategy: LayerStrategy): { tp: number[][]; cp: number[][]; dp: number[][]; sync: number[][] } {
  const strides = groupStrides(strategy);
  const n = strategy.tp * strategy.cp * strategy.dp;
  const dp = groupsOf(strategy.dp, strides.dp, n);
  const cp = groupsOf(strategy.cp, strides.cp, n);
  // A sync group: every rank that shares the TP coordinate (the CP and DP ranks together).
  const tpIndex = (r: number) => Math.floor(r / strides.tp) % strategy.tp;
  const sync = groupsOf(strategy.tp, strides.tp, n)[0]!.map((first) => Array.from({ length: n }, (_, r) => r).filter((r) => tpIndex(r) === tpIndex(first)));
  return { tp: groupsOf(strategy.tp, strides.tp, n), cp, dp, sync };
}

export interface LayerGroups {
  tp: GroupPlacement;
  cp: GroupPlacement;
  /** The gradient-sync group: DP and CP ranks together (CP ranks hold the same parameters). */
  gradientSync: GroupPlacement;
}

export function layerGroupPlacements(strategy: LayerStrategy, gpusPerNode: number): LayerGroups {
  const strides = groupStrides(strategy);
  const syncSize = strategy.dp * strategy.cp;
  // The DP×CP block is contiguous in rank order starting at the lower of the two strides.
  const syncStride = strategy.cp > 1 ? Math.min(strides.cp, strides.dp) : strides.dp;
  return {
    tp: placeGroup(strategy.tp, strides.tp, gpusPerNode),
    cp: placeGroup(strategy.cp, strides.cp, gpusPerNode),
    gradientSync: placeGroup(syncSize, syncStride, gpusPerNode),
  };
}
