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
