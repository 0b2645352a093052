// Ties go to the leaner plan: where another data-parallel type gives a run of layers (or the embedding)
// exactly the same predicted iteration time with less memory per GPU, the plan takes it. The search keeps
// the first plan among equal times; this pass makes that choice the leanest of its equals.
import { pricePlan, type PlanCost, type PlanInput } from '../cost/plan-cost.js';
import type { DpType, LayerStrategy } from '../strategy/layer-strategy.js';
import type { CandidateRules } from '../strategy/candidates.js';

export interface LeanPlan {
  input: PlanInput;
  cost: PlanCost;
}

/** The data-parallel types a layer of the space may take instead of its own. */
function dpTypesOf(rules: CandidateRules): DpType[] {
  const types: DpType[] = rules.paradigms.includes('dp') ? [...rules.dpTypes] : [];
  if (rules.paradigms.includes('sdp')) types.push('zero3');
  return types;
}

const sameStrategy = (a: LayerStrategy, b: LayerStrategy) =>
  a.tp === b.tp && a.sequenceParallel === b.sequenceParallel && a.cp === b.cp && a.dp === b.dp && a.dpType === b.dpType && a.recompute === b.recompute && a.tpConsecutive === b.tpConsecutive;

/**
 * Tries every other DP type on each distinct layer strategy of the plan (all layers that share it at
 * once), then on the embedding; keeps a change when pricePlan's time is not longer and the memory per GPU
 * is less. Never slower, never fuller: each step is re-priced.
 */
export function leanOut(plan: LeanPlan, rules: CandidateRules): LeanPlan {
  let best = plan;
  const types = dpTypesOf(rules);
  const better = (cost: PlanCost) =>
    cost.fits && cost.iterationTimeS <= best.cost.iterationTimeS && cost.memoryPerGpuBytes < best.cost.memoryPerGpuBytes;
  const distinct: LayerStrategy[] = [];
  for (const s of best.input.strategies) if (!distinct.some((d) => sameStrategy(d, s))) distinct.push(s);
  for (const strategy of distinct) {
    if (strategy.dp <= 1) continue;
    let current = strategy;
    for (const dpType of types) {
      if (dpType === current.dpType) continue;
      const swapped: LayerStrategy = { ...current, dpType };
      const input: PlanInput = { ...best.input, strategies: best.input.strategies.map((s) => (sameStrategy(s, current) ? swapped : s)) };
      const cost = pricePlan(input);
      if (better(cost)) {
        best = { input, cost };
        current = swapped;
      }
    }
  }
  const embedding = best.input.embeddingStrategy;
  if (embedding.dp > 1) {
    for (const dpType of types) {
      if (dpType === best.input.embeddingStrategy.dpType) continue;
      const input: PlanInput = { ...best.input, embeddingStrategy: { ...best.input.embeddingStrategy, dpType } };
      const cost = pricePlan(input);
      if (better(cost)) best = { input, cost };
    }
  }
  return best;
}
