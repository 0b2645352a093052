// Resolves `--cluster` (preset id or JSON file) and `--gpus` into a ClusterSpec.
import { readFileSync } from 'node:fs';
import { UserInputError, zodToUserError } from '../errors.js';
import { CLUSTER_PRESETS, GPU_PRESETS } from './presets.js';
import { ClusterSpecSchema, type ClusterSpec, type ClusterSpecInput, type GpuSpec } from './spec.js';

export function listClusterPresets(): string[] {
  return Object.keys(CLUSTER_PRESETS);
}

function resolveGpu(gpu: string | GpuSpec): GpuSpec {
  if (typeof gpu !== 'string') return gpu;
  const preset = GPU_PRESETS[gpu];
  if (!preset) {
    throw new UserInputError('cluster.gpu', `unknown GPU preset "${gpu}"; use one of ${Object.keys(GPU_PRESETS).join(', ')} or give {peakTflops, memoryGiB, hbmGBps, gemmEfficiency}`);
  }
  return preset;
}

export function resolveClusterSpec(input: ClusterSpecInput): ClusterSpec {
  const parsed = ClusterSpecSchema.safeParse(input);
  if (!parsed.success) throw zodToUserError('cluster', parsed.error, input);
  return { ...parsed.data, gpu: resolveGpu(parsed.data.gpu) };
}

function readClusterFile(path: string): ClusterSpecInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UserInputError('--cluster', `cannot read file "${path}" (${code}); give a preset id (${listClusterPresets().join(', ')}) or a readable JSON file`);
  }
  try {
    return JSON.parse(text) as ClusterSpecInput;
  } catch (error) {
    throw new UserInputError('--cluster', `"${path}" is not valid JSON (${(error as Error).message}); fix the file`);
  }
}

/**
 * A cluster from a preset id or a JSON file; `gpus` rescales it to that many GPUs in nodes of its size
 * (a count below one node shrinks the node).
 */
export function loadCluster(arg: string, gpus?: number): ClusterSpec {
  const looksLikeFile = arg.endsWith('.json') || arg.includes('/');
  let input: ClusterSpecInput | undefined = CLUSTER_PRESETS[arg];
  if (!input) {
    if (!looksLikeFile) {
      throw new UserInputError('--cluster', `unknown cluster preset "${arg}"; use one of ${listClusterPresets().join(', ')} or a JSON file`);
    }
    input = readClusterFile(arg);
  }
  const cluster = resolveClusterSpec(input);
  return gpus === undefined ? cluster : scaleCluster(cluster, gpus);
}

export function scaleCluster(cluster: ClusterSpec, gpus: number): ClusterSpec {
  if (!Number.isInteger(gpus) || gpus <= 0) {
    throw new UserInputError('--gpus', `must be a positive whole number, got ${gpus}`);
  }
  if (gpus <= cluster.gpusPerNode) return { ...cluster, gpusPerNode: gpus, nodes: 1 };
  if (gpus % cluster.gpusPerNode !== 0) {
    throw new UserInputError('--gpus', `${gpus} is not a whole number of ${cluster.gpusPerNode}-GPU nodes; use a multiple of ${cluster.gpusPerNode}`);
  }
  return { ...cluster, nodes: gpus / cluster.gpusPerNode };
}
