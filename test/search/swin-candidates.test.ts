// A Swin's one candidate set serves every layer and its ends, whose heads and tokens differ by stage: the
// search offers only what the executor runs (python/galvatron_runtime/plan.py _check_swin_strategy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadCostConstants } from '../../src/cost/constants.js';
import { loadCluster } from '../../src/hardware/load.js';
import { loadModel } from '../../src/model/load.js';
import { searchContext, searchTasks, type SearchOptions } from '../../src/search/search.js';
import { defaultRules } from '../../src/strategy/candidates.js';

const TINY_SWIN = fileURLToPath(new URL('../../../examples/tiny-swin.json', import.meta.url));

function strategies(modelArg: string) {
  const model = loadModel(modelArg);
  const cluster = loadCluster('dgx-a100-80g', 8);
  const options: SearchOptions = { globalBatch: 8, rules: { ...defaultRules(), sequenceParallel: 'both' }, constants: loadCostConstants() };
  return searchTasks(model, searchContext(model, cluster, options), options).flatMap((t) => t.candidates.map((c) => c.strategy));
}

test("Swin-L: no SP at any tp (its last stage's 7×7 = 49 tokens and the head's split over no tp ≤ 8); TP splits every stage's heads", () => {
  const all = strategies('swin-large');
  assert.ok(all.some((s) => s.tp === 2));
  assert.ok(all.every((s) => !s.sequenceParallel));
  assert.ok(all.every((s) => 6 % s.tp === 0)); // 6, 12, 24, 48 heads
});

test("tiny-swin: SP at tp 2 (16 tokens in the last stage), no tp beyond the first stage's 2 heads", () => {
  const all = strategies(TINY_SWIN);
  assert.ok(all.some((s) => s.tp === 2 && s.sequenceParallel));
  assert.ok(all.every((s) => s.tp <= 2));
});
