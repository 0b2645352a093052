// `--global-batch auto`: the batch walk keeps the batch with the most samples/s and stops when the gain
// stalls; checked against independent searches on a tiny model and with a scripted search.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadCostConstants } from '../../src/cost/constants.js';
import { loadCluster } from '../../src/hardware/load.js';
import { resolveModelSpec } from '../../src/model/load.js';
import { autoBatchCandidates, autoGlobalBatch, type AutoBatchSearch } from '../../src/search/auto-batch.js';
import { searchPlan, type SearchOptions, type SearchResult } from '../../src/search/search.js';
import type { TaskResult } from '../../src/search/pipeline-task.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const constants = loadCostConstants();
const tiny = resolveModelSpec({ name: 'tiny-gpt', family: 'gpt', layers: 4, hidden: 1024, heads: 8, vocab: 8192, seqLen: 1024 });
const cluster = loadCluster('dgx-a100-80g', 4);

/** A search whose samples/s per batch is scripted (undefined: nothing fits). */
function scripted(curve: Record<number, number | undefined>): { search: AutoBatchSearch; calls: number[] } {
  const calls: number[] = [];
  const search: AutoBatchSearch = (_model, _cluster, options: SearchOptions): SearchResult => {
    calls.push(options.globalBatch);
    const samplesPerS = curve[options.globalBatch];
    const best = samplesPerS === undefined ? undefined : ({ timeS: options.globalBatch / samplesPerS, cost: { fits: true, samplesPerS } } as unknown as TaskResult);
    return { best, plan: undefined, tasks: 1, improvements: best ? 1 : 0, exact: true, uniform: false };
  };
  return { search, calls };
}

describe('auto global batch', () => {
  it('lists batches gpus·2^j up to 64 per GPU and 4096 in all (the first always)', () => {
    assert.deepEqual(autoBatchCandidates(8), [8, 16, 32, 64, 128, 256, 512]);
    assert.deepEqual(autoBatchCandidates(128), [128, 256, 512, 1024, 2048, 4096]);
    assert.deepEqual(autoBatchCandidates(8192), [8192]);
    assert.deepEqual(autoBatchCandidates(4, { maxSamplesPerGpu: 8 }), [4, 8, 16, 32]);
  });

  it('on a tiny model, keeps a batch whose samples/s is at least every tried batch’s (independent searches)', () => {
    const options = { rules: defaultRules(), maxVirtualStages: 2, constants };
    const result = autoGlobalBatch(tiny, cluster, options);
    assert.ok(result.chosen && result.globalBatch !== undefined, result.reason);
    assert.ok(result.trials.length >= 2);
    const chosen = result.chosen.samplesPerS!;
    for (const trial of result.trials) {
      assert.notEqual(trial.samplesPerS, undefined, `every batch fits the tiny model (batch ${trial.globalBatch})`);
      const alone = searchPlan(tiny, cluster, { ...options, globalBatch: trial.globalBatch });
      assert.ok(alone.best?.cost.fits);
      assert.ok(Math.abs(alone.best.cost.samplesPerS - trial.samplesPerS!) <= 1e-9 * trial.samplesPerS!, `batch ${trial.globalBatch}: same plan as a search on its own`);
      assert.ok(chosen >= alone.best.cost.samplesPerS, `chosen ${result.globalBatch} (${chosen}) ≥ batch ${trial.globalBatch} (${alone.best.cost.samplesPerS})`);
    }
    // The walk stops either at the limit or after two batches in a row without a 2 % gain.
    if (result.stop === 'limit') {
      assert.equal(result.trials.length, autoBatchCandidates(4).length);
    } else {
      const [a, b] = result.trials.slice(-2);
      assert.ok(a!.gain !== undefined && a!.gain < 0.02 && b!.gain !== undefined && b!.gain < 0.02, result.reason);
    }
    assert.match(result.reason, new RegExp(`^global batch ${result.globalBatch} has the most samples/s`));
  });

  it('stops after two batches in a row gain less than 2 %, and keeps the best of them', () => {
    const { search, calls } = scripted({ 8: 100, 16: 150, 32: 151, 64: 152, 128: 400, 256: 500 });
    const result = autoGlobalBatch(tiny, loadCluster('dgx-a100-80g', 8), { rules: defaultRules() }, {}, search);
    assert.deepEqual(calls, [8, 16, 32, 64], 'the rise at 128 is never seen: the walk stopped');
    assert.equal(result.stop, 'stalled');
    assert.equal(result.globalBatch, 64, 'a gain under 2 % still counts for the answer');
    assert.match(result.reason, /stopped because 2 larger batches in a row gained less than 2\.0 % \(32 \+0\.7 %, 64 \+0\.7 %\)/);
  });

  it('a gain of 2 % or more resets the count; batches that do not fit count as no gain', () => {
    const { search, calls } = scripted({ 8: undefined, 16: 100, 32: 101, 64: 104, 128: undefined, 256: 104.5, 512: 900 });
    const result = autoGlobalBatch(tiny, loadCluster('dgx-a100-80g', 8), { rules: defaultRules() }, {}, search);
    assert.deepEqual(calls, [8, 16, 32, 64, 128, 256]);
    assert.equal(result.globalBatch, 256);
    assert.equal(result.trials[4]!.samplesPerS, undefined);
  });

  it('runs to the limit while the gain holds, and reports when nothing fits', () => {
    const rising = scripted({ 8: 1, 16: 2, 32: 3, 64: 4, 128: 5, 256: 6, 512: 7 });
    const result = autoGlobalBatch(tiny, loadCluster('dgx-a100-80g', 8), { rules: defaultRules() }, {}, rising.search);
    assert.equal(result.stop, 'limit');
    assert.equal(result.globalBatch, 512);
    assert.match(result.reason, /stopped at the limit of 512/);

    const none = autoGlobalBatch(tiny, loadCluster('dgx-a100-80g', 8), { rules: defaultRules() }, {}, scripted({}).search);
    assert.equal(none.globalBatch, undefined);
    assert.equal(none.trials.length, 2);
    assert.match(none.reason, /^no plan fits at any global batch tried \(8, 16\)/);
  });
});
