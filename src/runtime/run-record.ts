// The one-line summary of a training run that `galvatron calibrate` reads back: which plan ran, how, and
// what was measured (median step time after warm-up, peak memory of the fullest rank).
import { resolve } from 'node:path';
import type { StepRecord } from './reports.js';
import type { MemoryComparison } from './memory-report.js';

export interface RunRecord {
  event: 'run';
  /** The plan file, as an absolute path (or, typed in by hand, relative to the runs file). */
  plan: string;
  device: 'cpu' | 'cuda';
  dtype: 'float64' | 'float32' | 'bf16' | 'fp16';
  ranks: number;
  steps: number;
  /** Median step time over the steps after the first (the first carries start-up work). */
  stepTimeS: number;
  /** The fullest rank's peak: the CUDA allocator's, or on CPU the accounted one. */
  peakBytes: number;
  peakSource: MemoryComparison['peakSource'] | 'process-rss';
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function runRecord(planPath: string, device: RunRecord['device'], dtype: RunRecord['dtype'], ranks: number, records: StepRecord[], memory: MemoryComparison[]): RunRecord {
  const timed = records.length > 1 ? records.slice(1) : records;
  const peak = memory.length > 0 ? Math.max(...memory.map((m) => m.peakBytes.measured)) : Math.max(0, ...records.flatMap((r) => r.peakMemoryBytes));
  return {
    event: 'run',
    plan: resolve(planPath),
    device,
    dtype,
    ranks,
    steps: records.length,
    stepTimeS: timed.length ? median(timed.map((r) => r.stepTimeS)) : 0,
    peakBytes: peak,
    peakSource: memory.length > 0 ? memory[0]!.peakSource : 'process-rss',
  };
}
