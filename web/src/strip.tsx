// The plan per layer as a coloured strip: one column per transformer layer, one row each for the pipeline
// stage (boundaries drawn), the TP degree (with SP), the DP degree and type, and the recompute kind.
import type { LayerStrategy } from '../../src/strategy/layer-strategy.js';
import type { PlanView } from './protocol.js';

const TP_COLORS: Record<number, string> = { 1: '#e8eef7', 2: '#b9cde8', 4: '#7fa4d6', 8: '#3f6fb5', 16: '#1f4a8a', 32: '#0f2c5c' };
const DP_TYPE_COLORS: Record<LayerStrategy['dpType'], string> = { ddp: '#d9ead3', zero1: '#b6d7a8', zero2: '#8fc17a', zero3: '#5a9a47' };
const RECOMPUTE_COLORS: Record<LayerStrategy['recompute'], string> = { none: '#f4f4f4', selective: '#f6c28b', full: '#e07b39' };
const STAGE_COLORS = ['#f3e5f5', '#e1f5fe', '#fff8e1', '#e8f5e9', '#fbe9e7', '#ede7f6', '#e0f7fa', '#f9fbe7'];

const tpColor = (tp: number) => TP_COLORS[tp] ?? '#0a1f40';

export function PlanStrip({ view }: { view: PlanView }) {
  const { plan } = view;
  const p = plan.pipeline.degree;
  // Stage and chunk of every layer; a boundary before each chunk's first layer.
  const stageOf: number[] = [];
  const chunkStart = new Set<number>();
  plan.pipeline.chunks.forEach((c, j) => {
    chunkStart.add(c.start);
    for (let l = c.start; l < c.end; l++) stageOf[l] = j % p;
  });
  const columns = `repeat(${plan.layers.length}, minmax(3px, 1fr))`;
  const boundary = (l: number) => (l > 0 && chunkStart.has(l) ? ' boundary' : '');
  const cell = (l: number, s: LayerStrategy, row: string, color: string, text: string) => (
    <div class={`cell${boundary(l)}`} style={{ background: color }} title={`layer ${l} (stage ${stageOf[l]}): ${view.strategyTexts[l]}`} data-row={row}>
      <span>{text}</span>
    </div>
  );
  const wide = plan.layers.length <= 48;
  return (
    <div class="strip-wrap">
      <div class="strip" data-testid="plan-strip" data-layers={plan.layers.length} data-stages={p}>
        <div class="row-label">stage</div>
        <div class="row" style={{ gridTemplateColumns: columns }}>
          {plan.layers.map((_, l) => (
            <div class={`cell${boundary(l)}`} style={{ background: STAGE_COLORS[stageOf[l]! % STAGE_COLORS.length] }} data-row="stage">
              <span>{chunkStart.has(l) ? stageOf[l] : ''}</span>
            </div>
          ))}
        </div>
        <div class="row-label">TP</div>
        <div class="row" style={{ gridTemplateColumns: columns }}>
          {plan.layers.map((s, l) => cell(l, s, 'tp', tpColor(s.tp), wide ? `${s.tp}${s.sequenceParallel ? 's' : ''}` : ''))}
        </div>
        <div class="row-label">DP</div>
        <div class="row" style={{ gridTemplateColumns: columns }}>
          {plan.layers.map((s, l) => cell(l, s, 'dp', s.dp > 1 ? DP_TYPE_COLORS[s.dpType] : '#fafafa', wide ? `${s.dp}` : ''))}
        </div>
        <div class="row-label">recompute</div>
        <div class="row" style={{ gridTemplateColumns: columns }}>
          {plan.layers.map((s, l) => cell(l, s, 'recompute', RECOMPUTE_COLORS[s.recompute], wide ? s.recompute[0]!.toUpperCase() : ''))}
        </div>
      </div>
      {/* The same plan as data, one element per layer, for screen readers and tests. */}
      <ol class="sr-only" data-testid="layer-list">
        {plan.layers.map((s, l) => (
          <li data-layer={l} data-stage={stageOf[l]} data-tp={s.tp} data-sp={String(s.sequenceParallel)} data-cp={s.cp} data-dp={s.dp} data-dp-type={s.dpType} data-recompute={s.recompute} data-tp-consecutive={String(s.tpConsecutive)}>
            layer {l}, stage {stageOf[l]}: {view.strategyTexts[l]}
          </li>
        ))}
      </ol>
      <div class="legend">
        <span>TP:</span>
        {[1, 2, 4, 8].map((t) => (
          <span class="swatch" style={{ background: tpColor(t) }}>
            {t}
          </span>
        ))}
        <span>(s = sequence parallel)</span>
        <span>DP type:</span>
        {(Object.keys(DP_TYPE_COLORS) as LayerStrategy['dpType'][]).map((t) => (
          <span class="swatch" style={{ background: DP_TYPE_COLORS[t] }}>
            {t}
          </span>
        ))}
        <span>recompute:</span>
        {(Object.keys(RECOMPUTE_COLORS) as LayerStrategy['recompute'][]).map((t) => (
          <span class="swatch" style={{ background: RECOMPUTE_COLORS[t] }}>
            {t}
          </span>
        ))}
      </div>
      <p class="muted">
        Embedding and LM head: {view.embeddingText}. {plan.pipeline.virtualStages > 1 ? `${plan.pipeline.virtualStages} chunks per stage (interleaved 1F1B); ` : ''}
        thick lines mark stage{plan.pipeline.virtualStages > 1 ? ' chunk' : ''} boundaries.
      </p>
    </div>
  );
}
