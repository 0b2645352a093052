// The timeline as a Gantt chart in SVG, written by hand (no browser): one row per pipeline stage, forward
// passes in blue and backward in green (darker for later chunks), the gradient sync in orange and the
// optimizer in grey, micro-batch numbers on the bars, and each stage's memory over time as a red line under it
// (between the lowest and the highest memory of any stage; its peak in GiB at the left).
import type { Timeline } from './simulate.js';

const ROW = 34;
const MEMORY_ROW = 26;
const LEFT = 70;
const WIDTH = 1100;
const TOP = 40;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function shade(base: [number, number, number], chunk: number, chunks: number): string {
  const f = chunks <= 1 ? 1 : 1 - (0.45 * chunk) / (chunks - 1);
  return `rgb(${base.map((c) => Math.round(c * f)).join(',')})`;
}

export function timelineSvg(timeline: Timeline, title: string): string {
  const chunks = 1 + Math.max(0, ...timeline.stages.flatMap((s) => s.ops.map((o) => o.chunk)));
  const scale = (WIDTH - LEFT - 20) / timeline.iterationS;
  const x = (t: number) => (LEFT + t * scale).toFixed(2);
  const w = (a: number, b: number) => Math.max(0.5, (b - a) * scale).toFixed(2);
  const rowY = (s: number) => TOP + s * (ROW + MEMORY_ROW);
  const height = TOP + timeline.stages.length * (ROW + MEMORY_ROW) + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${LEFT}" y="18" font-size="13" font-weight="bold">${escape(title)}</text>`,
    `<text x="${LEFT}" y="32" fill="#555">${escape(`${timeline.schedule} · ${(timeline.iterationS * 1000).toFixed(1)} ms simulated, ${(timeline.analyticIterationS * 1000).toFixed(1)} ms by the closed form · blue forward, green backward, orange gradient sync, grey optimizer`)}</text>`,
  ];
  // Memory lines span the range the stages' memory moves in (states alone would flatten them).
  const peak = Math.max(...timeline.stages.map((s) => s.peakBytes));
  const low = Math.min(...timeline.stages.flatMap((s) => s.memory.map((p) => p.bytes)));
  const level = (bytes: number) => (peak > low ? (bytes - low) / (peak - low) : 1);
  for (const stage of timeline.stages) {
    const y = rowY(stage.stage);
    parts.push(`<text x="8" y="${y + ROW / 2 + 4}">stage ${stage.stage}</text>`);
    for (const op of stage.ops) {
      const fill = op.kind === 'F' ? shade([66, 133, 244], op.chunk, chunks) : shade([52, 168, 83], op.chunk, chunks);
      parts.push(`<rect x="${x(op.startS)}" y="${y}" width="${w(op.startS, op.endS)}" height="${ROW - 6}" fill="${fill}" stroke="white" stroke-width="0.5"/>`);
      if ((op.endS - op.startS) * scale > 12) parts.push(`<text x="${(LEFT + ((op.startS + op.endS) / 2) * scale).toFixed(2)}" y="${y + ROW / 2 + 1}" text-anchor="middle" fill="white">${op.microBatch}</text>`);
    }
    if (stage.optimizerStartS > stage.syncStartS) parts.push(`<rect x="${x(stage.syncStartS)}" y="${y}" width="${w(stage.syncStartS, stage.optimizerStartS)}" height="${ROW - 6}" fill="rgb(251,140,0)"/>`);
    if (stage.endS > stage.optimizerStartS) parts.push(`<rect x="${x(stage.optimizerStartS)}" y="${y}" width="${w(stage.optimizerStartS, stage.endS)}" height="${ROW - 6}" fill="rgb(150,150,150)"/>`);
    // Memory over time, scaled to the largest peak of any stage.
    const base = y + ROW + MEMORY_ROW - 6;
    const points = stage.memory.flatMap((p, i) => {
      const py = (base - (MEMORY_ROW - 8) * level(p.bytes)).toFixed(2);
      const prev = i > 0 ? (base - (MEMORY_ROW - 8) * level(stage.memory[i - 1]!.bytes)).toFixed(2) : py;
      return [`${x(p.timeS)},${prev}`, `${x(p.timeS)},${py}`];
    });
    points.push(`${x(timeline.iterationS)},${(base - (MEMORY_ROW - 8) * level(stage.memory[stage.memory.length - 1]!.bytes)).toFixed(2)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="rgb(200,60,60)" stroke-width="1"/>`);
    parts.push(`<text x="8" y="${base}" fill="rgb(200,60,60)" font-size="9">${(stage.peakBytes / 1024 ** 3).toFixed(1)} GiB</text>`);
  }
  const axisY = height - 22;
  parts.push(`<line x1="${LEFT}" y1="${axisY}" x2="${x(timeline.iterationS)}" y2="${axisY}" stroke="#333"/>`);
  for (let i = 0; i <= 5; i++) {
    const t = (timeline.iterationS * i) / 5;
    parts.push(`<line x1="${x(t)}" y1="${axisY}" x2="${x(t)}" y2="${axisY + 4}" stroke="#333"/><text x="${x(t)}" y="${axisY + 15}" text-anchor="middle">${(t * 1000).toFixed(0)} ms</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
