// The file `galvatron calibrate -o` writes and `--calibration` (plan, estimate, baselines) reads:
// fitted constants over src/cost/calibration.json's defaults, the runs they were fitted on, and the
// errors of the fit.
import { z } from 'zod';
import { CONSTANT_RANGES, loadCostConstants } from '../cost/constants.js';
import { readJsonFile } from '../io/json-file.js';
import type { CostConstants } from '../cost/types.js';
import { UserInputError, zodToUserError } from '../errors.js';
import type { CalibrationReport, QuantityReport } from './runs-fit.js';
import type { MeasuredRun } from './runs.js';

export const CALIBRATION_FORMAT = 'galvatron.calibration/v1';

const MeanErrorsSchema = z
  .object({
    runs: z.number().int().nonnegative(),
    /** Mean |predicted / measured − 1| with the default constants, the fitted ones, and leave-one-out. */
    meanAbsoluteError: z.object({ before: z.number(), after: z.number(), leaveOneOut: z.number().nullable() }).strict(),
  })
  .strict();

export const CalibrationFileSchema = z
  .object({
    format: z.literal(CALIBRATION_FORMAT),
    /** Only the constants that were fitted; the others keep their defaults. */
    constants: z.record(z.string(), z.number()),
    fittedOn: z
      .array(
        z
          .object({
            id: z.string(),
            plan: z.string().optional(),
            model: z.string(),
            device: z.enum(['cpu', 'cuda']),
            dtype: z.enum(['float32', 'bf16', 'fp16']),
            stepTimeS: z.number().positive().optional(),
            peakBytes: z.number().nonnegative().optional(),
            outOfMemory: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    errors: z.object({ time: MeanErrorsSchema.nullable(), memory: MeanErrorsSchema.nullable() }).strict().optional(),
    source: z.object({ tool: z.literal('galvatron-ts'), command: z.string() }).strict().optional(),
  })
  .strict();

export type CalibrationFile = z.infer<typeof CalibrationFileSchema>;

const meanErrors = (q: QuantityReport | null) => (q === null ? null : { runs: q.rows.length, meanAbsoluteError: q.meanAbsoluteError });

/** The file's contents for a calibration of `runs`. */
export function calibrationFile(report: CalibrationReport, runs: MeasuredRun[], command: string): CalibrationFile {
  return {
    format: CALIBRATION_FORMAT,
    constants: { ...report.time?.constants, ...report.memory?.constants },
    fittedOn: runs.map((run) => ({
      id: run.id,
      ...(run.planPath === undefined ? {} : { plan: run.planPath }),
      model: run.plan.model.name,
      device: run.device,
      dtype: run.dtype,
      ...(run.stepTimeS === undefined ? {} : { stepTimeS: run.stepTimeS }),
      ...(run.peakBytes === undefined ? {} : { peakBytes: run.peakBytes }),
      ...(run.outOfMemory ? { outOfMemory: true } : {}),
    })),
    errors: { time: meanErrors(report.time), memory: meanErrors(report.memory) },
    source: { tool: 'galvatron-ts', command },
  };
}

/** The defaults with the file's constants over them; every constant known and inside its range. */
export function parseCalibration(json: unknown, path: string): CostConstants {
  const parsed = CalibrationFileSchema.safeParse(json);
  if (!parsed.success) {
    const format = json !== null && typeof json === 'object' ? (json as { format?: unknown }).format : undefined;
    if (format !== CALIBRATION_FORMAT) {
      const problem = format === undefined ? 'missing' : `${JSON.stringify(format)} is not a calibration format`;
      throw new UserInputError('calibration.format', `${problem}; expected "${CALIBRATION_FORMAT}" (\`galvatron calibrate -o\` writes one) (in "${path}")`);
    }
    const e = zodToUserError('calibration', parsed.error, json);
    throw new UserInputError(e.field, `${e.detail} (in "${path}")`);
  }
  const constants = loadCostConstants();
  const known = Object.keys(CONSTANT_RANGES) as (keyof CostConstants)[];
  for (const [key, value] of Object.entries(parsed.data.constants)) {
    const field = `calibration.constants.${key}`;
    if (!(known as string[]).includes(key)) throw new UserInputError(field, `not a cost-model constant; use one of ${known.join(', ')} (in "${path}")`);
    const range = CONSTANT_RANGES[key as keyof CostConstants];
    if (!(value >= range.min && value <= range.max)) {
      throw new UserInputError(field, `${value} is outside its physical range ${range.min} – ${range.max}; re-run \`galvatron calibrate\` or give a value in range (in "${path}")`);
    }
    constants[key as keyof CostConstants] = value;
  }
  return constants;
}

/** `--calibration <file>`: the cost model's constants with the file's over the defaults. */
export function loadCalibrationFile(path: string): CostConstants {
  const json = readJsonFile('calibration', path, { writeWith: `galvatron calibrate --runs runs.jsonl -o ${path}`, writtenBy: 'galvatron calibrate -o' });
  return parseCalibration(json, path);
}

/** What --calibration's help says (plan, estimate, baselines). */
export const CALIBRATION_HELP = "cost-model constants fitted to measured runs (`galvatron calibrate -o`), over the defaults";
