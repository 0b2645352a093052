// Terminal output for people: tables (cli-table3) and colour (picocolors), off when stdout is not a TTY
// or NO_COLOR is set. Programs read `--json` instead; nothing here is parsed back.
import Table from 'cli-table3';
import picocolors from 'picocolors';

/** Colour only for a terminal that wants it (https://no-color.org). */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export const colors = picocolors.createColors(colorEnabled());

export type Align = 'left' | 'right';

/**
 * A bordered table with a bold header. Numbers are right-aligned where `align` says so; colours inside
 * cells are fine (cli-table3 measures visible width).
 */
export function table(head: string[], rows: string[][], align: Align[] = []): string {
  const t = new Table({
    head: head.map((h) => colors.bold(h)),
    colAligns: head.map((_, i) => align[i] ?? 'left'),
    // cli-table3 colours headers red and borders grey by default (via @colors/colors, which ignores
    // NO_COLOR); we colour ourselves.
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) t.push(row);
  return t.toString();
}

/** Label/value lines with the labels padded to one width. */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${colors.dim(k.padEnd(width))}  ${v}`).join('\n');
}

const grouped = (digits: number) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A number with thousands separators and a fixed number of decimals. */
export function num(value: number, digits = 0): string {
  return Number.isFinite(value) ? grouped(digits).format(value) : String(value);
}

/** A duration in the unit that reads best: "0.198 ms", "47.1 ms", "1.23 s". */
export function duration(seconds: number): string {
  return Math.abs(seconds) < 1 ? `${sig(seconds * 1000)} ms` : `${sig(seconds)} s`;
}

/** A quantity with about three significant figures (0.0123, 1.23, 12.3, 1,234). */
export function sig(value: number): string {
  const a = Math.abs(value);
  if (a === 0) return '0';
  if (a >= 100) return num(value, 0);
  if (a >= 10) return num(value, 1);
  if (a >= 1) return num(value, 2);
  return value.toPrecision(3).replace(/0+$/, '').replace(/\.$/, '');
}

/** Seconds shown as milliseconds. */
export const ms = (seconds: number): string => sig(seconds * 1000);

/** A fraction shown as a percentage with one decimal. */
export const percent = (fraction: number): string => `${num(fraction * 100, 1)} %`;

/** A parameter count in billions (or millions below 1 B). */
export function parameters(count: number): string {
  return count >= 1e9 ? `${num(count / 1e9, 2)} B` : `${num(count / 1e6, 1)} M`;
}

/** GiB with one decimal (two below 10 GiB). */
export const gib = (value: number): string => num(value, value < 10 ? 2 : 1);

/** Contiguous layer ranges as "0–11" or "0–2, 24–26" (end exclusive in, inclusive out). */
export function layerRanges(runs: { start: number; end: number }[]): string {
  return runs.map((r) => (r.end - r.start === 1 ? `${r.start}` : `${r.start}–${r.end - 1}`)).join(', ');
}

/** Bytes in the largest binary unit that keeps the number ≥ 1 (B, KiB, MiB, GiB, TiB), 3 significant digits. */
export function bytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sig(value)} ${units[unit]}`;
}
