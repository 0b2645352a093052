// Reading a runs file: train --json output (other events skipped), typed-in records with a relative plan
// path or an inline plan, runs out of memory; bad lines refused naming the field and the line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRuns } from '../../src/calibrate/runs.js';
import { UserInputError } from '../../src/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/h200-2026-11-30/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'galvatron-runs-'));
copyFileSync(join(FIXTURES, 'plan-g13-full.json'), join(dir, 'plan.json'));
const runsPath = join(dir, 'runs.jsonl');
const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Record<string, unknown>;

const record = (extra: Record<string, unknown> = {}) => JSON.stringify({ event: 'run', plan: 'plan.json', device: 'cuda', dtype: 'bf16', ranks: 1, steps: 5, stepTimeS: 0.5, peakBytes: 3e10, peakSource: 'cuda-allocator', ...extra });

function refused(text: string, field: string, pattern: RegExp): void {
  assert.throws(
    () => parseRuns(text, runsPath),
    (error: unknown) => error instanceof UserInputError && error.field === field && pattern.test(error.message),
  );
}

describe('runs file', () => {
  it('reads the run record of a train --json output and skips its other lines', () => {
    const text = [
      JSON.stringify({ event: 'start', rank: 0, worldSize: 1 }),
      JSON.stringify({ event: 'step', rank: 0, step: 0, stepTimeS: 2.5, peakMemoryBytes: 1 }),
      JSON.stringify({ event: 'memory', rank: 0 }),
      '',
      record(),
    ].join('\n');
    const runs = parseRuns(text, runsPath);
    assert.equal(runs.length, 1);
    const run = runs[0]!;
    assert.equal(run.id, 'plan');
    assert.equal(run.line, 5);
    assert.equal(run.planPath, 'plan.json');
    assert.equal(run.plan.model.name, 'GPT-3 1.3B');
    assert.equal(run.stepTimeS, 0.5);
    assert.equal(run.peakBytes, 3e10);
    assert.equal(run.outOfMemory, false);
  });

  it('takes a typed-in record with an inline plan, and a run out of memory without a step time', () => {
    const text = [
      JSON.stringify({ plan, device: 'cuda', dtype: 'bf16', stepTimeS: 0.48 }),
      JSON.stringify({ id: 'too-big', plan: 'plan.json', device: 'cuda', dtype: 'bf16', outOfMemory: true }),
    ].join('\n');
    const [inline, oom] = parseRuns(text, runsPath);
    assert.equal(inline!.id, 'GPT-3 1.3B');
    assert.equal(inline!.planPath, undefined);
    assert.equal(inline!.peakBytes, undefined);
    assert.equal(oom!.id, 'too-big');
    assert.equal(oom!.outOfMemory, true);
    assert.equal(oom!.stepTimeS, undefined);
  });

  it('keeps a CPU run\'s accounted peak out of the allocator fit, and tells two runs of one plan apart', () => {
    const runs = parseRuns([record({ device: 'cpu', peakSource: 'accounted' }), record()].join('\n'), runsPath);
    assert.equal(runs[0]!.peakBytes, undefined);
    assert.equal(runs[1]!.peakBytes, 3e10);
    assert.deepEqual(runs.map((r) => r.id), ['plan@1', 'plan@2']);
  });

  it('refuses bad lines naming the field and the line', () => {
    refused('{"event": "run",', 'run', /not JSON.*line 1 of/);
    refused('[1, 2]', 'run', /an array/);
    refused(JSON.stringify({ plan: 'plan.json', device: 'cuda', dtype: 'bf16' }), 'run.stepTimeS', /missing.*outOfMemory/);
    refused(record({ stepTimeS: -1 }), 'run.stepTimeS', /line 1/);
    refused(record({ dtype: 'float64' }), 'run.dtype', /bf16 or float32/);
    refused(record({ outOfMemory: true }), 'run.stepTimeS', /out of memory has no step time/);
    refused(record({ ranks: 2 }), 'run.ranks', /runs on 1 rank/);
    refused(record({ stepTimeMs: 500 }), 'run', /stepTimeMs.*remove it or check its spelling/);
    refused(`\n${record({ plan: 'missing.json' })}`, 'run.plan', /missing\.json.*does not exist.*line 2 of/);
    refused(record({ plan: { ...plan, layers: [] } }), 'run.plan.layers', /plan/);
  });
});
