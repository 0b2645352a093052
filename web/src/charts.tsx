// The page's charts (ECharts, SVG renderer: crisp screenshots, and their marks are DOM elements), each
// drawn from a PlanView: memory per stage against the budget, the simulated timeline as a Gantt chart,
// and the plan's throughput against each baseline's.
import { BarChart, CustomChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'preact/hooks';
import type { PlanView } from './protocol.js';

echarts.use([BarChart, CustomChart, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, SVGRenderer]);

type Option = echarts.EChartsCoreOption;

export const COLORS = {
  modelStates: '#5470c6',
  activations: '#91cc75',
  overheads: '#fac858',
  budget: '#d62728',
  forward: ['#4e79a7', '#76a5d8', '#a0cbe8'],
  backward: ['#59a14f', '#8cd17d', '#b6e3a8'],
  sync: '#f28e2b',
  optimizer: '#9c755f',
  ours: '#e15759',
  baseline: '#7f8fa6',
};

/** One ECharts instance on a div, redrawn when `option` changes. */
function Chart({ option, height, testId, data }: { option: Option; height: number; testId: string; data?: Record<string, string> }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    const el = ref.current!;
    chart.current = echarts.init(el, undefined, { renderer: 'svg' });
    const resize = new ResizeObserver(() => chart.current?.resize());
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);
  const attributes = Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [`data-${k}`, v]));
  return <div ref={ref} class="chart" style={{ height: `${height}px` }} data-testid={testId} {...attributes} />;
}

const gib = (x: number) => x.toFixed(2);

export function MemoryChart({ view }: { view: PlanView }) {
  const stages = view.stageMemory;
  const series = (name: string, color: string, pick: (s: PlanView['stageMemory'][number]) => number) => ({
    name,
    type: 'bar',
    stack: 'memory',
    barMaxWidth: 56,
    itemStyle: { color },
    data: stages.map((s) => Number(pick(s).toFixed(4))),
  });
  const top = Math.max(view.budgetGiB, ...stages.map((s) => s.totalGiB));
  // A round top for the axis, just above the budget line and the tallest bar.
  const step = 10 ** Math.floor(Math.log10(top)) / 2;
  const axisMax = Math.ceil((top * 1.04) / step) * step;
  const option: Option = {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => `${gib(Number(v))} GiB` },
    legend: { top: 0 },
    grid: { left: 56, right: 24, top: 36, bottom: 30 },
    xAxis: { type: 'category', data: stages.map((s) => `stage ${s.stage}`) },
    yAxis: { type: 'value', name: 'GiB per GPU', max: axisMax },
    series: [
      series('model states', COLORS.modelStates, (s) => s.modelStatesGiB),
      series('activations', COLORS.activations, (s) => s.activationsGiB),
      {
        ...series('overheads', COLORS.overheads, (s) => s.overheadsGiB),
        markLine: {
          symbol: 'none',
          silent: true,
          lineStyle: { color: COLORS.budget, type: 'dashed', width: 2 },
          label: { formatter: `budget ${gib(view.budgetGiB)} GiB`, position: 'insideEndTop', color: COLORS.budget },
          data: [{ yAxis: view.budgetGiB }],
        },
      },
    ],
  };
  return <Chart option={option} height={280} testId="memory-chart" data={{ stages: String(stages.length), budget: String(view.budgetGiB) }} />;
}

export function TimelineChart({ view }: { view: PlanView }) {
  const t = view.timeline;
  const ms = (s: number) => s * 1000;
  // [stage, start ms, end ms, kind (KINDS index), micro-batch, chunk]: numbers only, as ECharts reads dimensions.
  const KINDS = ['F', 'B', 'sync', 'optimizer'] as const;
  const items: number[][] = [];
  for (const s of t.stages) {
    for (const op of s.ops) items.push([s.stage, ms(op.startS), ms(op.endS), op.kind === 'F' ? 0 : 1, op.microBatch, op.chunk]);
    if (s.optimizerStartS > s.syncStartS) items.push([s.stage, ms(s.syncStartS), ms(s.optimizerStartS), 2, -1, 0]);
    if (s.endS > s.optimizerStartS) items.push([s.stage, ms(s.optimizerStartS), ms(s.endS), 3, -1, 0]);
  }
  const colorOf = (kind: number, chunk: number) => (kind === 0 ? COLORS.forward[chunk % 3]! : kind === 1 ? COLORS.backward[chunk % 3]! : kind === 2 ? COLORS.sync : COLORS.optimizer);
  const label = (kind: number) => ['forward', 'backward', 'exposed gradient sync', 'optimizer step'][kind] ?? KINDS[kind];
  const chunks = t.stages.some((s) => s.ops.some((o) => o.chunk > 0));
  const option: Option = {
    animation: false,
    tooltip: {
      formatter: (p: { value: number[] }) => {
        const [stage, start, end, kind, micro, chunk] = p.value as [number, number, number, number, number, number];
        const what = micro >= 0 ? `${label(kind)} of micro-batch ${micro}${chunks ? `, chunk ${chunk}` : ''}` : label(kind);
        return `stage ${stage}: ${what}<br>${start.toFixed(1)}–${end.toFixed(1)} ms`;
      },
    },
    grid: { left: 64, right: 24, top: 12, bottom: 36 },
    xAxis: { type: 'value', name: 'ms', nameLocation: 'end', min: 0, max: Math.ceil(ms(t.iterationS)) },
    yAxis: { type: 'category', inverse: true, data: t.stages.map((s) => `stage ${s.stage}`) },
    series: [
      {
        type: 'custom',
        encode: { x: [1, 2], y: 0 },
        data: items,
        renderItem: (_params: unknown, api: { value(i: number): number; coord(p: number[]): number[]; size(p: number[]): number[] }) => {
          const stage = api.value(0);
          const start = api.coord([api.value(1), stage]);
          const end = api.coord([api.value(2), stage]);
          const height = api.size([0, 1])[1]! * 0.7;
          return {
            type: 'rect',
            shape: { x: start[0]!, y: start[1]! - height / 2, width: Math.max(end[0]! - start[0]!, 0.5), height },
            style: { fill: colorOf(api.value(3), api.value(5)), stroke: '#fff', lineWidth: 0.3 },
          };
        },
      },
    ],
  };
  const passes = t.stages.reduce((n, s) => n + s.ops.length, 0);
  const height = Math.max(120, Math.min(420, 48 + t.stages.length * 34));
  return <Chart option={option} height={height} testId="timeline-chart" data={{ passes: String(passes), items: String(items.length), iteration: String(t.iterationS) }} />;
}

export function BaselineChart({ view }: { view: PlanView }) {
  const rows = [
    { label: view.source === 'search' ? 'Galvatron-TS (this plan)' : 'this plan', value: view.plan.predicted.samplesPerS, fits: true, ours: true },
    ...view.baselines.map((b) => ({ label: b.label, value: b.samplesPerS ?? 0, fits: b.fits, ours: false })),
  ];
  const option: Option = {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: unknown) => `${Number(v).toFixed(2)} samples/s` },
    grid: { left: 210, right: 90, top: 10, bottom: 30 },
    xAxis: { type: 'value', name: 'samples/s' },
    yAxis: { type: 'category', inverse: true, data: rows.map((r) => r.label) },
    series: [
      {
        type: 'bar',
        barMaxWidth: 22,
        data: rows.map((r) => ({ value: Number(r.value.toFixed(4)), itemStyle: { color: r.ours ? COLORS.ours : COLORS.baseline } })),
        label: { show: true, position: 'right', formatter: (p: { dataIndex: number; value: number }) => (rows[p.dataIndex]!.fits ? p.value.toFixed(2) : 'does not fit') },
      },
    ],
  };
  return <Chart option={option} height={40 + rows.length * 30} testId="baseline-chart" data={{ rows: String(rows.length) }} />;
}
