// Plans in words, shared by the CLI's output and the web page: a strategy ("tp4 sp, dp2 zero2, full
// recompute"), the pipeline ("2 stages · 1F1B · 8 micro-batches of 4 samples"), a plan in one line.
import type { PlanInput } from '../cost/plan-cost.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';

const RECOMPUTE_WORDS: Record<LayerStrategy['recompute'], string> = {
  none: 'no recompute',
  selective: 'selective recompute',
  full: 'full recompute',
};

/**
 * One strategy in words: "tp4 sp, dp2 zero2, full recompute" (dp1 carries no type; cp only when > 1;
 * the recompute part left out for the embedding/head, which never recomputes).
 */
export function strategyText(s: LayerStrategy, withRecompute = true): string {
  const parts = [`tp${s.tp}${s.sequenceParallel ? ' sp' : ''}`];
  if (s.cp > 1) parts.push(`cp${s.cp}`);
  parts.push(s.dp > 1 ? `dp${s.dp} ${s.dpType}` : 'dp1');
  if (withRecompute) parts.push(RECOMPUTE_WORDS[s.recompute]);
  if (!s.tpConsecutive) parts.push('dp on adjacent ranks');
  return parts.join(', ');
}

export const sameStrategy = (a: LayerStrategy, b: LayerStrategy) =>
  a.tp === b.tp &&
  a.sequenceParallel === b.sequenceParallel &&
  a.cp === b.cp &&
  a.dp === b.dp &&
  a.dpType === b.dpType &&
  a.recompute === b.recompute &&
  a.tpConsecutive === b.tpConsecutive;

/** The pipeline in words: "2 stages · 1F1B · 8 micro-batches of 4 samples". */
export function pipelineText(input: PlanInput): string {
  const { pipeline, setup } = input;
  const stages = `${pipeline.degree} stage${pipeline.degree === 1 ? '' : 's'}`;
  const schedule =
    pipeline.schedule === 'interleaved-1f1b' ? `interleaved 1F1B, ${pipeline.virtualStages} chunks per GPU` : pipeline.schedule === '1f1b' ? '1F1B' : 'GPipe';
  const micro = setup.globalBatch / setup.microBatches;
  return `${stages} · ${schedule} · ${setup.microBatches} micro-batch${setup.microBatches === 1 ? '' : 'es'} of ${micro} sample${micro === 1 ? '' : 's'}`;
}

/** The plan in one line for a table cell: the pipeline and the layer strategy, or how many there are. */
export function planSummary(input: PlanInput): string {
  const { pipeline, setup } = input;
  const distinct: LayerStrategy[] = [];
  for (const s of input.strategies) if (!distinct.some((d) => sameStrategy(d, s))) distinct.push(s);
  const layers = distinct.length === 1 ? strategyText(distinct[0]!) : `${distinct.length} layer strategies`;
  const vpp = pipeline.virtualStages > 1 ? ` vpp${pipeline.virtualStages}` : '';
  const embedding = input.embeddingStrategy;
  const ownEmbedding = distinct.length === 1 && !sameStrategy({ ...distinct[0]!, recompute: embedding.recompute }, embedding);
  const micro = `${setup.microBatches} micro-batch${setup.microBatches === 1 ? '' : 'es'}`;
  return `pp${pipeline.degree}${vpp} · ${micro} · ${layers}${ownEmbedding ? ` · embedding ${strategyText(embedding, false)}` : ''}`;
}
