// Galvatron-BMW's bi-objective balancing on a memory-tight pipeline, against the even and the
// time-balanced partitions (each with the exact stage DP inside), and the exact partition search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { balancedPartition, bmwSolve } from '../../src/search/balanced-partitions.js';
import { solveTask } from '../../src/search/pipeline-task.js';
import { searchContext, searchTasks, type SearchOptions } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

/** GPT-3 2.7B on 8 A100-40GB capped at `memoryGiB`, 8 stages of one GPU, 16 micro-batches: stage 0 holds
 * 8 micro-batches of activations, the last stage 1 plus the LM head. */
function memoryTightCase(memoryGiB: number) {
  const model = loadModel('gpt3-2.7b');
  const cluster = loadCluster('dgx-a100-40g', 8);
  const options: SearchOptions = { globalBatch: 16, rules: defaultRules(), memoryGiB };
  const ctx = searchContext(model, cluster, options);
  const task = searchTasks(model, ctx, options).find((t) => t.degree === 8 && t.microBatches === 16 && t.virtualStages === 1)!;
  const timeOf = (mode: 'even' | 'time') => solveTask(ctx, { ...task, fixedPartition: balancedPartition(mode, ctx, task) }, Infinity);
  return { even: timeOf('even'), timeBalanced: timeOf('time'), bmw: bmwSolve(ctx, task, Infinity), exact: solveTask(ctx, task, Infinity) };
}

test('memory-tight: BMW beats the even and the time-balanced partition; the exact search beats BMW', () => {
  const { even, timeBalanced, bmw, exact } = memoryTightCase(10);
  assert.ok(even && timeBalanced && bmw && exact, 'every partition fits');
  const times = { even: even.timeS, timeBalanced: timeBalanced.timeS, bmw: bmw.timeS, exact: exact.timeS };
  assert.ok(bmw.timeS < even.timeS * 0.97, `BMW ${times.bmw} vs even ${times.even}`);
  assert.ok(bmw.timeS < timeBalanced.timeS * 0.97, `BMW ${times.bmw} vs time-balanced ${times.timeBalanced}`);
  assert.ok(exact.timeS <= bmw.timeS, `exact ${times.exact} vs BMW ${times.bmw}`);
  for (const result of [even, timeBalanced, bmw, exact]) assert.equal(result.cost.fits, true);
  // The memory-balanced start gives the first stage (most micro-batches in flight) fewer layers.
  const stageLayers = bmw.input.pipeline.chunks.map((c) => c.end - c.start);
  assert.ok(stageLayers[0]! < 4, `first stage ${stageLayers[0]} layers`);
});

test('tighter still: neither the even nor the time-balanced partition fits; BMW and the exact search do', () => {
  const { even, timeBalanced, bmw, exact } = memoryTightCase(8.5);
  assert.equal(even, undefined);
  assert.equal(timeBalanced, undefined);
  assert.ok(bmw && exact, 'BMW and the exact search find a plan');
  assert.ok(exact.timeS <= bmw.timeS, `exact ${exact.timeS} vs BMW ${bmw.timeS}`);
  assert.equal(bmw.cost.fits, true);
});

test('partitions cover every layer once, in order', () => {
  const model = loadModel('gpt3-2.7b');
  const cluster = loadCluster('dgx-a100-40g', 8);
  const options: SearchOptions = { globalBatch: 16, rules: defaultRules(), memoryGiB: 12 };
  const ctx = searchContext(model, cluster, options);
  const task = searchTasks(model, ctx, options).find((t) => t.degree === 4 && t.microBatches === 8)!;
  for (const mode of ['even', 'memory', 'time'] as const) {
    const ranges = balancedPartition(mode, ctx, task);
    assert.equal(ranges.length, 4);
    assert.equal(ranges[0]!.start, 0);
    assert.equal(ranges[3]!.end, model.layers);
    ranges.forEach((r, i) => {
      assert.ok(r.end > r.start);
      if (i > 0) assert.equal(r.start, ranges[i - 1]!.end);
    });
  }
});
