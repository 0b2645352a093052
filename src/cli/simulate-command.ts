// `galvatron simulate plan.json`: one iteration simulated pass by pass (src/simulate), as a timeline JSON,
// a Gantt chart (SVG, PNG) and each stage's memory over time.
import type { Command } from 'commander';
import { writeOutputFile } from '../io/output-file.js';
import { readPlanFile } from '../plan/io.js';
import { planInputFromPlan } from '../plan/to-cost.js';
import { timelineSvg } from '../simulate/gantt-svg.js';
import { svgToPng } from '../simulate/png.js';
import { simulate } from '../simulate/simulate.js';
import { ms, percent, table } from './format.js';

interface SimulateFlags {
  output?: string;
  svg?: string;
  png?: string;
  json?: boolean;
}

function write(flag: string, path: string, contents: string | Uint8Array): void {
  writeOutputFile(flag, path, contents);
  process.stderr.write(`galvatron: wrote ${path}\n`);
}

function runSimulate(planPath: string, flags: SimulateFlags): void {
  const plan = readPlanFile(planPath);
  const timeline = simulate(planInputFromPlan(plan));
  const json = `${JSON.stringify(timeline)}\n`;
  if (flags.output) write('--output', flags.output, json);
  if (flags.svg || flags.png) {
    const svg = timelineSvg(timeline, `${plan.model.name}: ${plan.pipeline.degree} stage(s), ${plan.training.microBatches} micro-batches`);
    if (flags.svg) write('--svg', flags.svg, svg);
    if (flags.png) write('--png', flags.png, svgToPng(svg));
  }
  if (flags.json) {
    process.stdout.write(json);
    return;
  }
  const gap = timeline.iterationS / timeline.analyticIterationS - 1;
  const lines = [
    `${plan.model.name}: ${ms(timeline.iterationS)} ms simulated (${timeline.schedule}), ${ms(timeline.analyticIterationS)} ms by the closed form (${gap >= 0 ? '+' : ''}${percent(gap)})`,
    table(
      ['stage', 'passes', 'busy ms', 'idle ms', 'last backward ms', 'end ms', 'peak GiB'],
      timeline.stages.map((s) => {
        const busy = s.ops.reduce((sum, o) => sum + o.endS - o.startS, 0);
        return [String(s.stage), String(s.ops.length), ms(busy), ms(s.syncStartS - busy), ms(s.syncStartS), ms(s.endS), (s.peakBytes / 1024 ** 3).toFixed(2)];
      }),
      ['right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .summary('simulate one iteration of a plan pass by pass: timeline, Gantt chart, memory over time')
    .description(
      'An event-driven simulation of one iteration, stage by stage: every forward and backward pass of every ' +
        'micro-batch in the order the schedule runs them (gpipe, 1f1b, interleaved 1F1B), each waiting for its input, ' +
        'then the exposed gradient sync and the optimizer step; activations enter memory with a forward and leave ' +
        'with its backward. On uniform stages it equals the closed form; on uneven or interleaved stages it is the reference.',
    )
    .argument('<plan>', 'plan file written by `galvatron plan -o` or `galvatron estimate -o`')
    .option('-o, --output <file>', 'write the timeline (galvatron.timeline/v1 JSON)')
    .option('--svg <file>', 'write the Gantt chart with memory over time as SVG')
    .option('--png <file>', 'write the same chart as PNG (rendered on the server, no browser)')
    .option('--json', 'print the timeline JSON on stdout and nothing else')
    .addHelpText('after', '\nExamples:\n  $ galvatron simulate plan.json\n  $ galvatron simulate plan.json --svg timeline.svg --png timeline.png -o timeline.json')
    .action((planPath: string, flags: SimulateFlags) => runSimulate(planPath, flags));
}
