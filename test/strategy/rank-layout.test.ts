// rank-layout.ts against the golden file it shares with the executor (test/fixtures/rank-layout/golden.json):
// the group lists, and the placements the cost model prices (group size and stride).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { groupStrides, layerGroupPlacements, rankGroups } from '../../src/strategy/rank-layout.js';
import type { LayerStrategy } from '../../src/strategy/layer-strategy.js';

interface GoldenCase {
  tp: number;
  cp: number;
  dp: number;
  tpConsecutive: boolean;
  tpGroups: number[][];
  cpGroups: number[][];
  dpGroups: number[][];
  syncGroups: number[][];
}
const golden = JSON.parse(readFileSync(new URL('../../../test/fixtures/rank-layout/golden.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };
const sorted = (groups: number[][]) => groups.map((g) => [...g].sort((a, b) => a - b)).sort((a, b) => a[0]! - b[0]!);

for (const c of golden.cases) {
  const strategy: LayerStrategy = { tp: c.tp, cp: c.cp, dp: c.dp, tpConsecutive: c.tpConsecutive, sequenceParallel: false, dpType: 'ddp', recompute: 'none' };
  test(`rank layout tp${c.tp} cp${c.cp} dp${c.dp}${c.tpConsecutive ? '' : ' (DP adjacent)'} matches the golden file`, () => {
    const groups = rankGroups(strategy);
    assert.deepEqual(sorted(groups.tp), sorted(c.tpGroups));
    assert.deepEqual(sorted(groups.cp), sorted(c.cpGroups));
    assert.deepEqual(sorted(groups.dp), sorted(c.dpGroups));
    assert.deepEqual(sorted(groups.sync), sorted(c.syncGroups));
    // What the cost model prices: each group's size and the stride between its members, on 8-GPU nodes.
    const strides = groupStrides(strategy);
    const placements = layerGroupPlacements(strategy, 8);
    assert.equal(placements.tp.size, c.tp);
    assert.equal(placements.gradientSync.size, c.cp * c.dp);
    if (c.tp > 1) assert.equal(c.tpGroups[0]![1]! - c.tpGroups[0]![0]!, strides.tp);
    if (c.dp > 1) assert.equal(c.dpGroups[0]![1]! - c.dpGroups[0]![0]!, strides.dp);
  });
}
