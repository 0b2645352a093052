// Exact reductions of the per-layer candidate set before the stage DP: a candidate goes only when some
// other candidate is never worse in any plan that could use it.
import type { LayerShape } from '../model/spec.js';
import type { LayerOption, LayerOptionTable } from './layer-options.js';
import type { Candidate } from './stage-frontier.js';

/** Every raw part no worse: busy, tail, model states, activations per micro-batch, transient. */
function optionDominates(a: LayerOption, b: LayerOption): boolean {
  return (
    a.forwardS + a.backwardS <= b.forwardS + b.backwardS &&
    a.tailS <= b.tailS &&
    a.modelStateBytes <= b.modelStateBytes &&
    a.activationBytes <= b.activationBytes &&
    a.transientBytes <= b.transientBytes
  );
}

function dominatesOnAllTypes(table: LayerOptionTable, types: LayerShape[], a: Candidate, b: Candidate): boolean {
  return types.every((shape) => optionDominates(table.option(shape, a.strategy, a.key), table.option(shape, b.strategy, b.key)));
}

/**
 * 1. Within one activation layout (re-distribution and p2p costs are equal), drop a candidate that another
 *    dominates on every layer type (e.g. ZeRO-1 under ZeRO-2, selective recompute with flash attention).
 * 2. Drop a whole no-SP layout when its SP twin (same TP, CP, DP, rank order) dominates it option by option:
 *    swapping every such layer for its twin keeps every layer no worse and never raises re-distribution
 *    (it only depends on the target's bytes, which SP divides by TP) or p2p (already split over TP).
 */
export function pruneCandidates(
  candidates: Candidate[],
  table: LayerOptionTable,
  layers: LayerShape[],
  /**
   * Whether the no-SP layout may go given its SP twin's layout: the embedding and head take or give
   * activations in the embedding strategy's layout, so the swap is only safe when the embedding's own
   * options in the twin layout are no worse too (then the embedding is swapped as well).
   */
  twinSwapAllowed: (layout: string, twinLayout: string) => boolean = () => true,
): Candidate[] {
  const types = [...new Map(layers.map((l) => [l.typeId, l])).values()];
  const kept = candidates.filter((c, i) =>
    !candidates.some((other, j) => {
      if (j === i || other.layoutKey !== c.layoutKey || !dominatesOnAllTypes(table, types, other, c)) return false;
      // Mutual dominance (equal options): keep the first.
      return !dominatesOnAllTypes(table, types, c, other) || j < i;
    }),
  );
  const byLayout = new Map<string, Candidate[]>();
  for (const c of kept) byLayout.set(c.layoutKey, [...(byLayout.get(c.layoutKey) ?? []), c]);
  const twinKey = (c: Candidate) => `${c.strategy.dpType}:${c.strategy.recompute}`;
  const dropped = new Set<string>();
  for (const [layout, members] of byLayout) {
    const s = members[0]!.strategy;
    if (s.tp === 1 || s.sequenceParallel) continue;
    const twin = [...byLayout.entries()].find(([other, m]) => {
      const t = m[0]!.strategy;
      return other !== layout && t.sequenceParallel && t.tp === s.tp && t.cp === s.cp && t.dp === s.dp && t.tpConsecutive === s.tpConsecutive;
    });
    if (!twin) continue;
    const twins = new Map(twin[1].map((c) => [twinKey(c), c]));
    const covered = members.every((c) => {
      const better = twins.get(twinKey(c));
      return better !== undefined && dominatesOnAllTypes(table, types, better, c);
    });
    if (covered && twinSwapAllowed(layout, twin[0])) dropped.add(layout);
  }
  return kept.filter((c) => !dropped.has(c.layoutKey));
}

/** Layouts of `all` missing from `kept`: those the twin rule dropped (plus any whose candidates all went). */
export function droppedLayouts(all: Candidate[], kept: Candidate[]): Set<string> {
  const keptLayouts = new Set(kept.map((c) => c.layoutKey));
  return new Set(all.map((c) => c.layoutKey).filter((k) => !keptLayouts.has(k)));
}
