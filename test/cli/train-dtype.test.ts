// `galvatron train --dtype`: fp16 is a choice (the executor scales the loss dynamically, loss_scale.py) and
// the default on CUDA for an fp16 plan. Checked through --nodes 2, which prints the per-node commands and
// starts nothing (no Python needed).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRankLine, StepCollector, type StepEvent } from '../../src/runtime/reports.js';
import { tinyPlan } from '../runtime/plans.js';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-train-dtype-'));

function planFile(precision: 'fp16' | 'bf16'): string {
  const path = join(dir, `${precision}.json`);
  writeFileSync(path, JSON.stringify(tinyPlan({ precision })));
  return path;
}

/** The --dtype each node's command passes to the runtime. */
async function dtypeOf(args: string[]): Promise<string[]> {
  const run = await runCli(['train', ...args, '--nodes', '2', '--json'], dir);
  assert.equal(run.code, 0, run.stderr);
  const { commands } = JSON.parse(run.stdout) as { commands: string[] };
  assert.equal(commands.length, 2);
  return commands.map((c) => /--dtype (\S+)/.exec(c)?.[1] ?? '');
}

describe('galvatron train --dtype fp16', () => {
  it('an fp16 plan runs as fp16 on CUDA by default, a bf16 plan as bf16', async () => {
    assert.deepEqual(await dtypeOf(['--plan', planFile('fp16'), '--device', 'cuda']), ['fp16', 'fp16']);
    assert.deepEqual(await dtypeOf(['--plan', planFile('bf16'), '--device', 'cuda']), ['bf16', 'bf16']);
  });

  it('--dtype fp16 is accepted on CUDA and passed on', async () => {
    assert.deepEqual(await dtypeOf(['--plan', planFile('bf16'), '--device', 'cuda', '--dtype', 'fp16']), ['fp16', 'fp16']);
  });

  it('--dtype fp16 on CPU is refused, naming the flag', async () => {
    const run = await runCli(['train', '--plan', planFile('fp16'), '--device', 'cpu', '--dtype', 'fp16', '--nodes', '2'], dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--dtype/);
    assert.match(run.stderr, /fp16 with fp32 master weights is for CUDA/);
  });

  it('an unknown --dtype lists fp16 among the choices', async () => {
    const run = await runCli(['train', '--plan', planFile('fp16'), '--dtype', 'fp8'], dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--dtype/);
    assert.match(run.stderr, /fp16/);
  });
});

describe('galvatron train --fast-kernels', () => {
  const modeOf = async (args: string[]): Promise<string[]> => {
    const run = await runCli(['train', '--plan', planFile('bf16'), '--device', 'cuda', ...args, '--nodes', '2', '--json'], dir);
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { commands: string[] }).commands.map((c) => /--fast-kernels (\S+)/.exec(c)?.[1] ?? 'absent');
  };

  it('passes auto by default (the runtime decides per device) and a chosen mode as given', async () => {
    assert.deepEqual(await modeOf([]), ['auto', 'auto']);
    assert.deepEqual(await modeOf(['--fast-kernels', 'off']), ['off', 'off']);
    assert.deepEqual(await modeOf(['--fast-kernels', 'fused']), ['fused', 'fused']);
  });

  it('refuses an unknown mode with exit 2, naming the flag and the choices', async () => {
    const run = await runCli(['train', '--plan', planFile('bf16'), '--fast-kernels', 'yes'], dir);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--fast-kernels/);
    assert.match(run.stderr, /auto, off, fused, on/);
  });

  it('is described under --help', async () => {
    const run = await runCli(['train', '--help'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /--fast-kernels <mode>/);
    assert.match(run.stdout, /torch\.compile/);
  });
});

describe('step records with loss scaling', () => {
  const line = (rank: number, extra: Record<string, unknown>) => JSON.stringify({ event: 'step', rank, step: 3, loss: rank === 0 ? 2.5 : null, stepTimeS: 0.1 + rank, peakMemoryBytes: 100 * (rank + 1), ...extra });

  it('carry lossScale and skipped through to the per-step record', () => {
    const collector = new StepCollector(2);
    assert.equal(collector.add(parseRankLine(line(1, { lossScale: 32768, skipped: true })) as StepEvent), undefined);
    const record = collector.add(parseRankLine(line(0, { lossScale: 32768, skipped: true })) as StepEvent);
    assert.deepEqual(record, { step: 3, loss: 2.5, stepTimeS: 1.1, peakMemoryBytes: [100, 200], lossScale: 32768, skipped: true });
  });

  it('leave them out without loss scaling', () => {
    const collector = new StepCollector(1);
    const record = collector.add(parseRankLine(line(0, {})) as StepEvent);
    assert.deepEqual(record, { step: 3, loss: 2.5, stepTimeS: 0.1, peakMemoryBytes: [100] });
  });
});
