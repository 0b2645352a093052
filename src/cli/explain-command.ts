// `galvatron explain plan.json`: what binds each stage, what the nearest alternatives cost, and where the
// iteration goes (src/plan/explain.ts).
import type { Command } from 'commander';
import { explainPlan } from '../plan/explain.js';
import { readPlanFile } from '../plan/io.js';
import { gib as gibOf, ms, percent, table } from './format.js';

const gib = (bytes: number) => gibOf(bytes / 1024 ** 3);

function runExplain(planPath: string, flags: { json?: boolean }): void {
  const plan = readPlanFile(planPath);
  const e = explainPlan(plan);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(e)}\n`);
    return;
  }
  const lines: string[] = [];
  lines.push(`${plan.model.name}: ${ms(e.plan.iterationS)} ms per iteration, ${gib(e.plan.memoryPerGpuBytes)} GiB on the fullest GPU of ${plan.predicted.memoryBudgetGiB.toFixed(1)} GiB budget`, '');
  lines.push('What binds each stage');
  lines.push(
    table(
      ['stage', 'memory GiB', 'of budget', 'binds', 'why'],
      e.stages.map((s) => [
        String(s.stage),
        gib(s.memoryBytes),
        percent(s.memoryBytes / s.budgetBytes),
        s.binding,
        s.blockedBy
          ? `${s.blockedBy.name}: ${ms(s.blockedBy.iterationS)} ms, but ${gib(s.blockedBy.memoryPerGpuBytes)} GiB does not fit`
          : 'nothing faster for this stage without recompute or ZeRO',
      ]),
      ['right', 'right', 'right', 'left', 'left'],
    ),
  );
  lines.push('', 'Nearest alternatives (the same plan changed in one way, priced by the cost model)');
  lines.push(
    table(
      ['alternative', 'iteration ms', 'vs this plan', 'memory GiB', 'fits'],
      e.alternatives.map((a) => [a.name, ms(a.iterationS), `${a.iterationS >= e.plan.iterationS ? '+' : ''}${percent(a.iterationS / e.plan.iterationS - 1)}`, gib(a.memoryPerGpuBytes), a.fits ? 'yes' : 'no']),
      ['left', 'right', 'right', 'right', 'left'],
    ),
  );
  const better = e.alternatives.filter((a) => a.fits && a.iterationS < e.plan.iterationS);
  if (better.length > 0) lines.push(`A faster plan fits (${better.map((a) => a.name).join('; ')}): the plan was not found by an exact search, or under other rules.`);
  lines.push('', 'Where the iteration goes');
  lines.push(table(['kind', 'ms', 'share'], e.shares.map((s) => [s.kind, ms(s.seconds), percent(s.share)]), ['left', 'right', 'right']));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .summary('why this plan: what binds each stage, the nearest alternatives, where the time goes')
    .description(
      'Explain a plan file: for each pipeline stage whether memory or time binds it (a faster form of the stage ' +
        'exists but does not fit), what the nearest alternatives cost (TP one step up or down, PP doubled or halved, ' +
        'recompute on or off, the even partition), and the share of the iteration spent in compute, each kind of ' +
        'communication, the pipeline bubble and the exposed gradient sync. All figures are the cost model\'s, against ' +
        'the memory budget the plan was searched under.',
    )
    .argument('<plan>', 'plan file written by `galvatron plan -o` or `galvatron estimate -o`')
    .option('--json', 'print one JSON object and nothing else')
    .addHelpText('after', '\nExamples:\n  $ galvatron plan --model gpt3-13b --gpus 64 -o plan.json\n  $ galvatron explain plan.json')
    .action((planPath: string, flags: { json?: boolean }) => runExplain(planPath, flags));
}
