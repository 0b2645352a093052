// `galvatron clusters`: the cluster presets with their GPU, memory and link bandwidths.
import type { Command } from 'commander';
import { listClusterPresets, loadCluster } from '../hardware/load.js';
import type { ClusterSpec } from '../hardware/spec.js';
import { num, table } from './format.js';

export type ClusterRow = { id: string } & ClusterSpec;

export function clusterRows(): ClusterRow[] {
  return listClusterPresets().map((id) => ({ id, ...loadCluster(id) }));
}

function runClusters(opts: { json?: boolean }): void {
  const rows = clusterRows();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const gbps = (n: number) => num(n, n < 10 ? 1 : 0);
  process.stdout.write(
    `${table(
      ['id', 'GPU', 'GPUs/node', 'memory GiB', 'peak TFLOP/s', 'intra-node GB/s', 'inter-node GB/s'],
      rows.map((r) => [
        r.id,
        r.gpu.name,
        String(r.gpusPerNode),
        num(r.gpu.memoryGiB),
        num(r.gpu.peakTflops),
        `${gbps(r.intraNode.busBandwidthGBps)} (${r.intraNode.topology})`,
        `${gbps(r.interNode.busBandwidthGBps)} (${r.interNode.nicsPerNode}×${gbps(r.interNode.nicGBps)} NIC)`,
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
    )}\nBandwidths are all-reduce bus bandwidths (nccl-tests convention); inter-node per node, with its NICs.\nA preset is one node; --gpus N scales it to N/GPUs-per-node nodes.\n`,
  );
}

export function registerClusters(program: Command): void {
  program
    .command('clusters')
    .summary('list the cluster presets')
    .description('List the cluster presets: GPU, GPUs per node, memory and link bandwidths. Pass an id to --cluster.')
    .option('--json', 'print one JSON array of the resolved cluster specs on stdout')
    .addHelpText('after', '\nExamples:\n  $ galvatron clusters\n  $ galvatron clusters --json')
    .action((opts: { json?: boolean }) => runClusters(opts));
}
