// The pure part of `--cluster` and `--gpus`: presets, ClusterSpec objects (a GPU preset or its figures),
// rescaling to a GPU count. No file access, so the web page's worker runs it too; load.ts reads files.
import { UserInputError, zodToUserError } from '../errors.js';
import { CLUSTER_PRESETS, GPU_PRESETS } from './presets.js';
import { CLUSTER_LIMITS, ClusterSpecSchema, GpuSpecSchema, type ClusterSpec, type ClusterSpecInput, type GpuSpec } from './spec.js';

export function listClusterPresets(): string[] {
  return Object.keys(CLUSTER_PRESETS);
}

function resolveGpu(gpu: string | GpuSpec): GpuSpec {
  if (typeof gpu !== 'string') return gpu;
  // Own keys only: names such as constructor or __proto__ are not presets.
  const preset = Object.hasOwn(GPU_PRESETS, gpu) ? GPU_PRESETS[gpu] : undefined;
  if (!preset) {
    throw new UserInputError('cluster.gpu', `unknown GPU preset "${gpu}"; use one of ${Object.keys(GPU_PRESETS).join(', ')} or give {peakTflops, memoryGiB, hbmGBps, gemmEfficiency}`);
  }
  return preset;
}

export function resolveClusterSpec(input: ClusterSpecInput): ClusterSpec {
  // A GPU given as an object is checked on its own, so a bad figure is named (a union only says "invalid").
  const gpu: unknown = (input as { gpu?: unknown } | null)?.gpu;
  if (gpu !== null && typeof gpu === 'object' && !Array.isArray(gpu)) {
    const checked = GpuSpecSchema.safeParse(gpu);
    if (!checked.success) throw zodToUserError('cluster.gpu', checked.error, gpu);
  }
  const parsed = ClusterSpecSchema.safeParse(input);
  if (!parsed.success) throw zodToUserError('cluster', parsed.error, input);
  return { ...parsed.data, gpu: resolveGpu(parsed.data.gpu) };
}

/**
 * A cluster file holds one ClusterSpec. An element of `galvatron clusters --json` (a spec with its preset
 * `id`) loads too, the id dropped; so does that array when it holds one cluster.
 */
export function clusterFromJson(json: unknown, path: string): ClusterSpecInput {
  if (Array.isArray(json)) {
    if (json.length !== 1) {
      const ids = json.map((c: unknown) => (c !== null && typeof c === 'object' && typeof (c as { id?: unknown }).id === 'string' ? (c as { id: string }).id : '?'));
      throw new UserInputError('cluster', `"${path}" holds ${json.length} clusters (${ids.join(', ')}); give a file with one of them, or its preset id`);
    }
    return clusterFromJson(json[0], path);
  }
  if (json !== null && typeof json === 'object' && typeof (json as { id?: unknown }).id === 'string') {
    const { id: _id, ...spec } = json as { id: string } & Record<string, unknown>;
    return spec as ClusterSpecInput;
  }
  return json as ClusterSpecInput;
}

export function scaleCluster(cluster: ClusterSpec, gpus: number): ClusterSpec {
  if (!Number.isInteger(gpus) || gpus <= 0) {
    throw new UserInputError('gpus', `must be a positive whole number, got ${gpus}`);
  }
  if (gpus <= cluster.gpusPerNode) return { ...cluster, gpusPerNode: gpus, nodes: 1 };
  if (gpus % cluster.gpusPerNode !== 0) {
    throw new UserInputError('gpus', `${gpus} is not a whole number of ${cluster.gpusPerNode}-GPU nodes; use a multiple of ${cluster.gpusPerNode}`);
  }
  const largest = CLUSTER_LIMITS.nodes * cluster.gpusPerNode;
  if (gpus > largest) throw new UserInputError('gpus', `${gpus} is more than the largest cluster this planner accepts (${CLUSTER_LIMITS.nodes.toLocaleString('en-US')} nodes: ${largest.toLocaleString('en-US')} GPUs)`);
  return { ...cluster, nodes: gpus / cluster.gpusPerNode };
}
