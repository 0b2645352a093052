// Resolves `--cluster` (preset id or JSON file) and `--gpus` into a ClusterSpec. The pure part (presets,
// spec objects, rescaling) is resolve.ts; this module adds the file.
import { readFileSync } from 'node:fs';
import { UserInputError } from '../errors.js';
import { CLUSTER_PRESETS } from './presets.js';
import { clusterFromJson, listClusterPresets, resolveClusterSpec, scaleCluster } from './resolve.js';
import type { ClusterSpec, ClusterSpecInput } from './spec.js';

export { listClusterPresets, resolveClusterSpec, scaleCluster } from './resolve.js';

function readClusterFile(path: string): ClusterSpecInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UserInputError('cluster', `cannot read file "${path}" (${code}); give a preset id (${listClusterPresets().join(', ')}) or a readable JSON file`);
  }
  try {
    return clusterFromJson(JSON.parse(text), path);
  } catch (error) {
    if (error instanceof UserInputError) throw error;
    throw new UserInputError('cluster', `"${path}" is not valid JSON (${(error as Error).message}); fix the file`);
  }
}

/**
 * A cluster from a preset id or a JSON file; `gpus` rescales it to that many GPUs in nodes of its size
 * (a count below one node shrinks the node).
 */
export function loadCluster(arg: string, gpus?: number): ClusterSpec {
  const looksLikeFile = arg.endsWith('.json') || arg.includes('/');
  let input: ClusterSpecInput | undefined = Object.hasOwn(CLUSTER_PRESETS, arg) ? CLUSTER_PRESETS[arg] : undefined;
  if (!input) {
    if (!looksLikeFile) {
      throw new UserInputError('cluster', `unknown cluster preset "${arg}"; use one of ${listClusterPresets().join(', ')} or a JSON file`);
    }
    input = readClusterFile(arg);
  }
  const cluster = resolveClusterSpec(input);
  return gpus === undefined ? cluster : scaleCluster(cluster, gpus);
}
