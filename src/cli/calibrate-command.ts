// `galvatron calibrate --runs runs.jsonl`: fit the cost model's free constants to measured executor runs
// (what `galvatron train --json` prints, or typed in), report the error per run before and after the fit
// and leave-one-out, and write a galvatron.calibration/v1 file for --calibration.
import type { Command } from 'commander';
import { CALIBRATION_FORMAT, calibrationFile } from '../calibrate/calibration-file.js';
import { calibrateRuns, MEMORY_FITTED, TIME_FITTED, type CalibrationReport, type QuantityReport, type RunError } from '../calibrate/runs-fit.js';
import { readRuns } from '../calibrate/runs.js';
import { CONSTANT_RANGES, loadCostConstants } from '../cost/constants.js';
import type { CostConstants } from '../cost/types.js';
import { writeOutputFile } from '../io/output-file.js';
import { colors, gib, ms, percent, table } from './format.js';
import { commandLine, nonEmpty } from './parsers.js';

export const DEFAULT_CALIBRATION_PATH = 'calibration.json';
const GIB = 1024 ** 3;

interface CalibrateFlags {
  runs: string;
  output: string;
  json?: boolean;
}

/** One run's row with the unit in the field names: seconds for time, bytes for memory. */
function jsonRows(q: QuantityReport | null, unit: 'S' | 'Bytes') {
  if (q === null) return null;
  const rows = q.rows.map((r) => ({
    id: r.id,
    [`measured${unit}`]: r.measured,
    ...(r.lowerBound ? { lowerBound: true } : {}),
    before: { [`predicted${unit}`]: r.before.predicted, error: r.before.error },
    after: { [`predicted${unit}`]: r.after.predicted, error: r.after.error },
    leaveOneOut: r.leaveOneOut && { [`predicted${unit}`]: r.leaveOneOut.predicted, error: r.leaveOneOut.error },
  }));
  return { constants: q.constants, atBound: q.atBound, runs: rows, meanAbsoluteError: q.meanAbsoluteError };
}

/** What --json prints: the constants, both fits with their rows, and the file written. */
export function calibrationJson(report: CalibrationReport, output: string) {
  return { format: CALIBRATION_FORMAT, output, constants: report.constants, time: jsonRows(report.time, 'S'), memory: jsonRows(report.memory, 'Bytes') };
}

const signed = (fraction: number) => `${fraction >= 0 ? '+' : ''}${percent(fraction)}`;

function quantityTable(q: QuantityReport, show: (value: number) => string): string {
  const cell = (p: RunError['after'] | null) => (p === null ? ['–', '–'] : [show(p.predicted), signed(p.error)]);
  const rows = q.rows.map((r) => [r.id, `${r.lowerBound ? '> ' : ''}${show(r.measured)}`, ...cell(r.before), ...cell(r.after), ...cell(r.leaveOneOut)]);
  const m = q.meanAbsoluteError;
  rows.push([colors.bold('mean |error|'), '', '', percent(m.before), '', percent(m.after), '', m.leaveOneOut === null ? '–' : percent(m.leaveOneOut)]);
  return table(['run', 'measured', 'before', 'error', 'after', 'error', 'leave-one-out', 'error'], rows, ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
}

function constantsTable(report: CalibrationReport): string {
  const fittedKeys = [...TIME_FITTED, ...MEMORY_FITTED].map((p) => p.key);
  const atBound = new Set([...(report.time?.atBound ?? []), ...(report.memory?.atBound ?? [])]);
  const show = (v: number) => String(Number(v.toPrecision(4)));
  const rows = fittedKeys.map((key: keyof CostConstants) => {
    const fittedHere = (report.time?.constants[key] ?? report.memory?.constants[key]) !== undefined;
    const value = fittedHere ? `${show(report.constants[key])}${atBound.has(key) ? colors.dim(' (at its bound)') : ''}` : colors.dim('not fitted');
    return [key, show(report.base[key]), value, `${CONSTANT_RANGES[key].min} – ${CONSTANT_RANGES[key].max}`];
  });
  return table(['constant', 'default', 'fitted', 'range'], rows, ['left', 'right', 'right', 'right']);
}

/** What a person reads: both fits per run, the mean errors, the constants. */
export function renderCalibration(report: CalibrationReport, runsPath: string, runCount: number): string {
  const lines: string[] = [`${colors.bold('Calibration')} on ${runCount} run(s) from ${runsPath}`];
  const section = (title: string, q: QuantityReport | null, show: (v: number) => string, none: string) => {
    lines.push('', colors.bold(title) + colors.dim(' (error = predicted / measured − 1; before: default constants)'));
    lines.push(q === null ? colors.dim(none) : quantityTable(q, show));
  };
  section('Step time, ms', report.time, ms, 'no run with a step time: time constants not fitted');
  section('Allocator peak, GiB', report.memory, (b) => gib(b / GIB), 'no CUDA run with an allocator peak: activationFragmentation not fitted');
  lines.push('', constantsTable(report));
  return lines.join('\n');
}

function runCalibrate(flags: CalibrateFlags): void {
  const runs = readRuns(flags.runs);
  const report = calibrateRuns(runs, loadCostConstants());
  const file = calibrationFile(report, runs, commandLine(process.argv.slice(2)));
  writeOutputFile('--output', flags.output, `${JSON.stringify(file, null, 2)}\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(calibrationJson(report, flags.output))}\n`);
    return;
  }
  process.stdout.write(`${renderCalibration(report, flags.runs, runs.length)}\n${colors.dim(`wrote ${flags.output} (${CALIBRATION_FORMAT}); use it with --calibration on plan, estimate and baselines`)}\n`);
}

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .summary('fit the cost model to measured runs and write a calibration file')
    .description(
      "Fit the cost model's free constants to measured runs of the executor: gemmEfficiencyScale, kernelOverheadUs, " +
        'layerHostUs, hbmEfficiency and flashAttentionEfficiency to the step times, activationFragmentation to the ' +
        'CUDA allocator peaks (fixedMemoryGiB is outside the allocator and stays), each inside its physical range, ' +
        'on the log of predicted / measured. Prints the error per run before and after the fit and leave-one-out ' +
        '(fitted on every other run), and writes a galvatron.calibration/v1 file that plan, estimate and baselines ' +
        'load with --calibration.',
    )
    .requiredOption(
      '--runs <file>',
      'JSON lines: the run record `galvatron train --json` prints last, or typed in: {"plan": <path relative to this file, or the plan>, ' +
        '"device": "cuda", "dtype": "bf16", "stepTimeS": s, "peakBytes": n} or {"outOfMemory": true} for a run that did not fit; other lines of train --json are skipped',
      nonEmpty('--runs'),
    )
    .option('-o, --output <file>', 'where to write the calibration (written atomically)', DEFAULT_CALIBRATION_PATH)
    .option('--json', 'print one JSON object (constants, per-run errors before, after and leave-one-out) on stdout and nothing else')
    .addHelpText(
      'after',
      `
Examples:
  $ galvatron train --plan plan.json --device cuda --json >> runs.jsonl
  $ galvatron calibrate --runs runs.jsonl -o calibration.json
  $ galvatron plan --model llama2-7b --cluster hgx-h200 --gpus 1 --global-batch 8 --calibration calibration.json`,
    )
    .action((flags: CalibrateFlags) => runCalibrate(flags));
}
