// A one-line progress bar for long searches, on stderr and only when stderr is a terminal: piped or
// redirected stderr carries nothing but warnings and errors.

export interface Progress {
  /** Draws `done/total` (throttled; the last step is always drawn). */
  update(done: number, total: number, label?: string): void;
  /** Shows a line of status text instead of a bar (for steps without a task count). */
  status(text: string): void;
  /** Erases the bar (before anything else is printed). */
  clear(): void;
}

interface Stream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const NOOP: Progress = { update() {}, status() {}, clear() {} };
const REDRAW_MS = 80;

export function createProgress(label: string, stream: Stream = process.stderr, now: () => number = () => performance.now()): Progress {
  if (stream.isTTY !== true) return NOOP;
  let drawn = false;
  let lastDraw = -Infinity;
  let currentLabel = label;
  const columns = () => (stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80);
  const draw = (line: string) => {
    stream.write(`\r${line.slice(0, Math.max(10, columns() - 1))}\u001b[K`);
    drawn = true;
  };
  return {
    update(done, total, nextLabel) {
      if (nextLabel !== undefined) currentLabel = nextLabel;
      const t = now();
      if (done < total && t - lastDraw < REDRAW_MS) return;
      lastDraw = t;
      const width = 24;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(fraction * width);
      const line = `${currentLabel} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} tasks`;
      draw(line);
    },
    status(text) {
      draw(text);
    },
    clear() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
      lastDraw = -Infinity;
    },
  };
}
