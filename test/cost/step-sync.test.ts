import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepSyncS } from '../../src/cost/step-sync.js';
import { loadCluster } from '../../src/hardware/load.js';

test('the step all-reduce of the gradient norm is a tree of link latencies: log2(n) levels up and down', () => {
  const node = loadCluster('dgx-a100-80g', 8);
  assert.equal(stepSyncS(node, 1), 0);
  // 8 GPUs of one node: 2·3 NVLink latencies.
  assert.ok(Math.abs(stepSyncS(node, 8) - 6 * node.intraNode.latencyUs * 1e-6) < 1e-15);
  // 1024 GPUs over 128 nodes: 2·10 network latencies, not a ring's 2·1023.
  const big = loadCluster('dgx-a100-80g', 1024);
  assert.ok(Math.abs(stepSyncS(big, 1024) - 20 * big.interNode.latencyUs * 1e-6) < 1e-15);
  // 6 GPUs round up to 3 levels.
  assert.ok(Math.abs(stepSyncS(node, 6) - 6 * node.intraNode.latencyUs * 1e-6) < 1e-15);
});

test('a measured all-reduce at the world size prices the step sync by its own latency', () => {
  const node = loadCluster('dgx-a100-80g', 8);
  const measured = { ...node, measuredCollectives: [{ kind: 'all-reduce' as const, groupSize: 8, alphaUs: 16500, busBandwidthGBps: 0.6 }] };
  assert.ok(Math.abs(stepSyncS(measured, 8) - 16.5e-3) < 1e-15);
  // Measured at another group size only: the tree of link latencies.
  assert.ok(Math.abs(stepSyncS(measured, 4) - 4 * node.intraNode.latencyUs * 1e-6) < 1e-15);
});
