// How `galvatron train` starts the executor: torchrun (torch.distributed.run) with one process per rank,
// running python/galvatron_runtime.train. On one machine it is started here; for several nodes the exact
// command per node is printed.
import { resolve } from 'node:path';
import { PYTHON_DIR, venvPython } from './python-env.js';

export type Device = 'cpu' | 'cuda';
export const DEFAULT_MASTER_PORT = 29500;
export type Dtype = 'float64' | 'float32' | 'bf16' | 'fp16';
/** python/galvatron_runtime/kernels.py: auto = on for CUDA, off for CPU. */
export const FAST_KERNELS = ['auto', 'off', 'fused', 'on'] as const;
export type FastKernels = (typeof FAST_KERNELS)[number];

/** The flags the runtime's train entry point takes (python/galvatron_runtime/train.py). */
export interface TrainArgs {
  planPath: string;
  steps: number;
  device: Device;
  dtype: Dtype;
  seed: number;
  lr?: number;
  /** "synthetic" or a text file. */
  data: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume: boolean;
  /** Default auto (decided by the runtime, which knows the device it got). */
  fastKernels?: FastKernels;
}

export interface NodeLayout {
  nodes: number;
  nprocPerNode: number;
  /** Rendezvous host and port (several nodes only). */
  masterAddr?: string;
  masterPort?: number;
}

export function runtimeArgs(args: TrainArgs): string[] {
  const out = ['-m', 'galvatron_runtime.train', '--plan', resolve(args.planPath), '--steps', String(args.steps), '--device', args.device, '--dtype', args.dtype, '--seed', String(args.seed)];
  if (args.lr !== undefined) out.push('--lr', String(args.lr));
  out.push('--data', args.data === 'synthetic' ? 'synthetic' : resolve(args.data));
  if (args.checkpointDir !== undefined) out.push('--checkpoint-dir', resolve(args.checkpointDir));
  if (args.checkpointEvery !== undefined) out.push('--checkpoint-every', String(args.checkpointEvery));
  if (args.resume) out.push('--resume');
  if (args.fastKernels !== undefined) out.push('--fast-kernels', args.fastKernels);
  return out;
}

/** torchrun's arguments for one machine running every rank. */
export function localTorchrunArgs(nproc: number, args: TrainArgs): string[] {
  return ['-m', 'torch.distributed.run', '--standalone', '--nnodes', '1', '--nproc-per-node', String(nproc), ...runtimeArgs(args)];
}

/** Environment of the ranks: our package on the path; one BLAS thread per rank on CPU (no oversubscription). */
export function runtimeEnv(device: Device, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const pythonPath = [PYTHON_DIR, base['PYTHONPATH']].filter(Boolean).join(':');
  return { ...base, PYTHONPATH: pythonPath, ...(device === 'cpu' && base['OMP_NUM_THREADS'] === undefined ? { OMP_NUM_THREADS: '1' } : {}) };
}

const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** The command to run on each node of a multi-node job, node 0 first (node 0 hosts the rendezvous). */
export function clusterCommands(layout: NodeLayout, args: TrainArgs): string[] {
  return Array.from({ length: layout.nodes }, (_, node) => {
    const words = [
      `PYTHONPATH=${PYTHON_DIR}`,
      venvPython(),
      '-m',
      'torch.distributed.run',
      '--nnodes',
      String(layout.nodes),
      '--node-rank',
      String(node),
      '--nproc-per-node',
      String(layout.nprocPerNode),
      '--master-addr',
      layout.masterAddr ?? 'NODE0_HOST',
      '--master-port',
      String(layout.masterPort ?? DEFAULT_MASTER_PORT),
      ...runtimeArgs(args),
    ];
    return words.map(quote).join(' ');
  });
}
