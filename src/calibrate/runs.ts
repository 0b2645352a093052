// Measured executor runs for `galvatron calibrate --runs`: JSON lines, each the `run` record that
// `galvatron train --json` prints last (src/runtime/run-record.ts) or the same object typed in by hand.
// Other lines of a train --json output (start, step, memory, end objects) are skipped.
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UserInputError, zodToUserError } from '../errors.js';
import { PlanSchema, type Plan } from '../plan/schema.js';
import type { ExecutorDtype } from '../plan/to-cost.js';
import { readPlanFile } from '../plan/io.js';
import { planWorldSize } from '../plan/validate.js';

const RunLineSchema = z
  .object({
    event: z.literal('run').optional(),
    /** A name for the run in reports (default: the plan file's name). */
    id: z.string().min(1).optional(),
    /** The plan file (absolute, or relative to the runs file), or the plan itself. */
    plan: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    device: z.enum(['cpu', 'cuda']),
    dtype: z.enum(['float64', 'float32', 'bf16', 'fp16']),
    ranks: z.number().int().positive().optional(),
    steps: z.number().int().nonnegative().optional(),
    /** Median step time after warm-up, s. */
    stepTimeS: z.number().positive().optional(),
    /** The fullest rank's peak, bytes; with outOfMemory, what the run had reached when it failed (a lower bound). */
    peakBytes: z.number().nonnegative().optional(),
    peakSource: z.enum(['cuda-allocator', 'accounted', 'process-rss']).optional(),
    /** The run did not fit: its peak exceeds peakBytes, or the GPU's memory less the reserve. */
    outOfMemory: z.boolean().optional(),
    /** Whether the executor applied dropout; default the plan's (false: an executor from before issue 13). */
    dropout: z.boolean().optional(),
  })
  .strict();

export interface MeasuredRun {
  id: string;
  /** Line in the runs file (1-based). */
  line: number;
  plan: Plan;
  /** The plan's path as the runs file gives it (absent for an inline plan). */
  planPath?: string;
  device: 'cpu' | 'cuda';
  dtype: Exclude<ExecutorDtype, 'float64'>;
  stepTimeS?: number;
  /** Allocator peak (CUDA runs only: the figure activationFragmentation is fitted to). */
  peakBytes?: number;
  /** True when the run ran out of memory; peakBytes (if given) is then a lower bound. */
  outOfMemory: boolean;
  /** Whether the run trained with dropout (the plan's, unless the record says the executor had none). */
  dropout: boolean;
}

function lineError(field: string, problem: string, line: number, path: string): UserInputError {
  return new UserInputError(field, `${problem} (line ${line} of "${path}")`);
}

function planOf(value: string | Record<string, unknown>, line: number, runsPath: string): { plan: Plan; name: string } {
  if (typeof value !== 'string') {
    const parsed = PlanSchema.safeParse(value);
    if (!parsed.success) {
      const e = zodToUserError('run.plan', parsed.error, value);
      throw lineError(e.field, `${e.detail}; give a galvatron.plan/v1 object or a plan file's path`, line, runsPath);
    }
    return { plan: parsed.data, name: parsed.data.model.name };
  }
  const path = isAbsolute(value) ? value : resolve(dirname(runsPath), value);
  try {
    return { plan: readPlanFile(path), name: basename(value, extname(value)) };
  } catch (error) {
    if (!(error instanceof UserInputError)) throw error;
    const problem = error.detail;
    const where = error.field === 'plan' ? '' : ` at ${error.field}`;
    const fix = error.field === 'plan' ? '' : '; give the galvatron.plan/v1 file the run used';
    throw lineError('run.plan', `cannot use the plan "${value}"${where}: ${problem}${fix}`, line, runsPath);
  }
}

/** The runs in a JSON-lines text; `path` places relative plan paths and names the file in errors. */
export function parseRuns(text: string, path: string): MeasuredRun[] {
  const runs: MeasuredRun[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      throw lineError('run', `not JSON (${(error as Error).message}); give one JSON object per line`, line, path);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw lineError('run', `holds ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}; give one JSON object per line`, line, path);
    }
    const event = (json as { event?: unknown }).event;
    if (event !== undefined && event !== 'run') return; // start, step, memory, end lines of train --json
    const parsed = RunLineSchema.safeParse(json);
    if (!parsed.success) {
      const e = zodToUserError('run', parsed.error, json);
      throw lineError(e.field, e.detail, line, path);
    }
    const r = parsed.data;
    if (r.dtype === 'float64') throw lineError('run.dtype', 'float64 runs have no price in the cost model; calibrate on bf16 or float32 runs', line, path);
    const outOfMemory = r.outOfMemory ?? false;
    if (outOfMemory && r.stepTimeS !== undefined) throw lineError('run.stepTimeS', 'a run out of memory has no step time; remove stepTimeS or outOfMemory', line, path);
    if (!outOfMemory && r.stepTimeS === undefined) throw lineError('run.stepTimeS', 'missing; add the median step time in seconds, or "outOfMemory": true for a run that did not fit', line, path);
    const { plan, name } = planOf(r.plan, line, path);
    const world = planWorldSize(plan);
    if (r.ranks !== undefined && r.ranks !== world) {
      throw lineError('run.ranks', `${r.ranks}, but the plan runs on ${world} rank(s); give the plan that ran`, line, path);
    }
    // The allocator's peak is what fragmentation is fitted to; the CPU figures are exact accounting.
    const peakSource = r.peakSource ?? (r.device === 'cuda' ? 'cuda-allocator' : 'accounted');
    const allocatorPeak = r.device === 'cuda' && peakSource === 'cuda-allocator';
    runs.push({
      id: r.id ?? name,
      line,
      plan,
      ...(typeof r.plan === 'string' ? { planPath: r.plan } : {}),
      device: r.device,
      dtype: r.dtype,
      ...(r.stepTimeS === undefined ? {} : { stepTimeS: r.stepTimeS }),
      ...(r.peakBytes === undefined || !allocatorPeak ? {} : { peakBytes: r.peakBytes }),
      outOfMemory,
      dropout: r.dropout ?? plan.training.dropout,
    });
  });
  // Two runs of one plan keep apart by their line.
  const seen = new Map<string, number>();
  for (const run of runs) seen.set(run.id, (seen.get(run.id) ?? 0) + 1);
  for (const run of runs) if (seen.get(run.id)! > 1) run.id = `${run.id}@${run.line}`;
  return runs;
}

/** `--runs <file>`: the runs it holds (at least one). */
export function readRuns(path: string): MeasuredRun[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserInputError('runs', code === 'ENOENT' ? `${path} does not exist; write one with \`galvatron train --json >> ${path}\`` : `cannot read ${path} (${code ?? 'error'})`);
  }
  const runs = parseRuns(text, path);
  if (runs.length === 0) throw new UserInputError('runs', `${path} holds no run records; append the output of \`galvatron train --json\`, whose last line is one`);
  return runs;
}
