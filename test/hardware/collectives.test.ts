// Group placement, the link a group spans, and cluster presets / scaling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { busBandwidthBytesPerS, collectiveTimeS, p2pTimeS, placeGroup, spansNodes } from '../../src/hardware/collectives.js';
import { listClusterPresets, loadCluster, scaleCluster } from '../../src/hardware/load.js';
import { UserInputError } from '../../src/errors.js';

test('placement: adjacent ranks stay in a node, strided ranks spread one per node', () => {
  assert.deepEqual(placeGroup(8, 1, 8), { size: 8, membersPerNode: 8 });
  assert.deepEqual(placeGroup(4, 2, 8), { size: 4, membersPerNode: 4 });
  assert.deepEqual(placeGroup(16, 1, 8), { size: 16, membersPerNode: 8 });
  assert.deepEqual(placeGroup(32, 8, 8), { size: 32, membersPerNode: 1 });
  assert.deepEqual(placeGroup(8, 4, 8), { size: 8, membersPerNode: 2 });
  assert.equal(spansNodes(placeGroup(8, 1, 8)), false);
  assert.equal(spansNodes(placeGroup(8, 2, 8)), true);
});

test('a group inside a node gets NVSwitch bandwidth; across nodes the NICs it owns bound it', () => {
  const cluster = loadCluster('dgx-a100-80g', 64);
  assert.equal(busBandwidthBytesPerS(cluster, placeGroup(8, 1, 8)), 220e9);
  // One member per node: one 200 Gb/s HDR NIC each, ≈ 24 GB/s (hardware.md).
  assert.equal(busBandwidthBytesPerS(cluster, placeGroup(8, 8, 8)), 24e9);
  // All 8 GPUs of each node in the ring: 8 NICs, capped at the measured cross-node ring ≈ 185 GB/s.
  assert.equal(busBandwidthBytesPerS(cluster, placeGroup(64, 1, 8)), 185e9);
  // Four members per node own four NICs.
  assert.equal(busBandwidthBytesPerS(cluster, placeGroup(16, 2, 8)), 4 * 24e9);
});

test('on a mesh without a switch (V100 cube mesh) a small group gets a share of the links', () => {
  const cluster = loadCluster('8x-v100-sxm2');
  const full = busBandwidthBytesPerS(cluster, placeGroup(8, 1, 8));
  assert.equal(full, 130e9);
  assert.equal(busBandwidthBytesPerS(cluster, placeGroup(2, 1, 8)), full / 7);
});

test('collective time includes α per ring step; p2p across nodes uses the NIC', () => {
  const cluster = loadCluster('dgx-h100', 16);
  const group = placeGroup(8, 1, 8);
  assert.equal(collectiveTimeS(cluster, 'all-reduce', 0, group), 0);
  assert.equal(collectiveTimeS(cluster, 'all-reduce', 1e9, placeGroup(1, 1, 8)), 0);
  const tiny = collectiveTimeS(cluster, 'all-reduce', 1, group);
  assert.ok(Math.abs(tiny - 2 * 7 * cluster.intraNode.latencyUs * 1e-6) < 1e-9);
  const bytes = 1e8;
  assert.ok(Math.abs(p2pTimeS(cluster, bytes, true) - (cluster.interNode.latencyUs * 1e-6 + bytes / 47e9)) < 1e-12);
  assert.ok(p2pTimeS(cluster, bytes, false) < p2pTimeS(cluster, bytes, true));
});

test('every preset of the issue exists and --gpus scales it in nodes of its size', () => {
  for (const id of ['dgx-a100-80g', 'dgx-a100-40g', 'dgx-h100', 'hgx-h200', '8x-rtx4090-pcie', '8x-v100-sxm2']) {
    assert.ok(listClusterPresets().includes(id), id);
  }
  const scaled = loadCluster('dgx-h100', 1024);
  assert.equal(scaled.nodes, 128);
  assert.equal(scaled.gpusPerNode, 8);
  assert.equal(loadCluster('dgx-a100-40g').gpu.memoryGiB, 40);
  assert.deepEqual([scaleCluster(loadCluster('dgx-h100'), 4).gpusPerNode, scaleCluster(loadCluster('dgx-h100'), 4).nodes], [4, 1]);
  assert.throws(() => loadCluster('dgx-h100', 12), (e: unknown) => e instanceof UserInputError && e.field === 'gpus');
  assert.throws(() => loadCluster('dgx-h200'), (e: unknown) => e instanceof UserInputError && /unknown cluster preset/.test(e.message));
  assert.throws(() => loadCluster('./no-such-cluster.json'), (e: unknown) => e instanceof UserInputError && /cannot read/.test(e.message));
});
