// What a user waits for: the wall time of the whole `galvatron plan` process (start to exit: loading,
// search, baselines, output), next to the search's own time as the command reports it. Each run is its
// own process, as a user starts it.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { caseFlags, type SearchCase } from './search.bench.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface CommandRun {
  flags: string[];
  /** Start to exit, seconds (undefined: stopped at the time limit or failed). */
  wallS: number | undefined;
  /** The search's own time from --json, seconds. */
  searchS: number | undefined;
  iterationS: number | undefined;
  exact: boolean | undefined;
  /** pp, chunks and micro-batches of the plan. */
  shape: string;
  error?: string;
}

/** Runs `galvatron <args> --json` once; wall time measured around the whole process. */
export function runCommand(args: string[], limitS: number): CommandRun {
  const start = performance.now();
  const run = spawnSync(process.execPath, [cli, ...args, '--json'], { encoding: 'utf8', timeout: limitS * 1000, maxBuffer: 64 << 20 });
  const wallS = (performance.now() - start) / 1000;
  if (run.status !== 0) return { flags: args, wallS: undefined, searchS: undefined, iterationS: undefined, exact: undefined, shape: '–', error: run.error ? `stopped after ${limitS} s` : `exit ${run.status}: ${run.stderr.trim().split('\n').pop()}` };
  const out = JSON.parse(run.stdout) as {
    plan?: { predicted: { iterationTimeS: number }; pipeline?: { degree: number; virtualStages?: number }; training?: { microBatches?: number } };
    search?: { elapsedMs: number; exact: boolean };
    /** `estimate --json` prints the priced plan's figures at the top level. */
    iterationTimeS?: number;
  };
  if (!out.plan) return { flags: args, wallS, searchS: undefined, iterationS: out.iterationTimeS, exact: undefined, shape: 'given' };
  const pipeline = out.plan.pipeline;
  const shape = pipeline ? `pp${pipeline.degree}${(pipeline.virtualStages ?? 1) > 1 ? ` × ${pipeline.virtualStages} chunks` : ''}${out.plan.training?.microBatches ? `, m ${out.plan.training.microBatches}` : ''}` : '?';
  return { flags: args, wallS, searchS: out.search ? out.search.elapsedMs / 1000 : undefined, iterationS: out.plan.predicted.iterationTimeS, exact: out.search?.exact, shape };
}

/** The default command and its variants for one case. */
export function runPlanCommandBench(c: SearchCase, limitS: number): { variant: string; run: CommandRun }[] {
  const base = ['plan', ...caseFlags(c)];
  return [
    { variant: 'default', run: runCommand(base, limitS) },
    { variant: '--max-vpp 1', run: runCommand([...base, '--max-vpp', '1'], limitS) },
    { variant: '--workers 2', run: runCommand([...base, '--workers', '2'], limitS) },
  ];
}
