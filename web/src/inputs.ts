// The page's inputs as the user typed them (strings, so a bad value stays visible), their defaults, and
// their place in the URL's query string (a view can be shared by its address).
import { CLUSTER_PRESETS, GPU_PRESETS } from '../../src/hardware/presets.js';
import type { GpuSpec } from '../../src/hardware/spec.js';
import { DEFAULT_CLUSTER, DEFAULT_GLOBAL_BATCH, DEFAULT_MODEL } from '../../src/search/defaults.js';

/** The model select's value for a pasted ModelSpec or HuggingFace config.json. */
export const CUSTOM_MODEL = 'custom';

export interface Inputs {
  /** A preset id, or CUSTOM_MODEL. */
  model: string;
  /** The pasted JSON when model is CUSTOM_MODEL. */
  modelJson: string;
  cluster: string;
  /** Cluster figures changed from the preset's, by path (ClusterField.path). */
  clusterEdits: Record<string, string>;
  gpus: string;
  /** Empty: the GPU's own memory. */
  memoryGiB: string;
  globalBatch: string;
  /** Empty: the model's own. */
  seqLen: string;
}

export const DEFAULT_INPUTS: Inputs = {
  model: DEFAULT_MODEL,
  modelJson: '',
  cluster: DEFAULT_CLUSTER,
  clusterEdits: {},
  gpus: '8',
  memoryGiB: '',
  globalBatch: String(DEFAULT_GLOBAL_BATCH),
  seqLen: '',
};

export interface ClusterField {
  /** Path in the ClusterSpec, e.g. gpu.peakTflops. */
  path: string;
  label: string;
  step: string;
}

/** The figures the page lets a user edit (the rest of the preset is kept). */
export const CLUSTER_FIELDS: ClusterField[] = [
  { path: 'gpu.peakTflops', label: 'peak TFLOP/s (bf16/fp16)', step: '1' },
  { path: 'gpu.memoryGiB', label: 'GPU memory, GiB', step: '1' },
  { path: 'gpu.hbmGBps', label: 'HBM GB/s', step: '1' },
  { path: 'gpu.gemmEfficiency', label: 'GEMM efficiency (0–1)', step: '0.01' },
  { path: 'gpusPerNode', label: 'GPUs per node', step: '1' },
  { path: 'intraNode.busBandwidthGBps', label: 'intra-node bus GB/s', step: '1' },
  { path: 'intraNode.latencyUs', label: 'intra-node latency µs', step: '0.5' },
  { path: 'interNode.busBandwidthGBps', label: 'inter-node bus GB/s', step: '1' },
  { path: 'interNode.latencyUs', label: 'inter-node latency µs', step: '0.5' },
  { path: 'overlapSlowdown', label: 'overlap slow-down λ', step: '0.01' },
];

/** A preset's cluster with its GPU as figures (an object), so each can be edited; undefined for an unknown id. */
export function presetClusterObject(id: string): Record<string, unknown> | undefined {
  const preset = Object.hasOwn(CLUSTER_PRESETS, id) ? CLUSTER_PRESETS[id] : undefined;
  if (!preset) return undefined;
  const spec = structuredClone(preset) as Record<string, unknown>;
  if (typeof spec.gpu === 'string' && Object.hasOwn(GPU_PRESETS, spec.gpu)) spec.gpu = structuredClone(GPU_PRESETS[spec.gpu] as GpuSpec);
  return spec;
}

export function valueAt(root: unknown, path: string): unknown {
  let value = root;
  for (const key of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

export function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

const PARAMS: [keyof Inputs, string][] = [
  ['model', 'model'],
  ['modelJson', 'modelJson'],
  ['cluster', 'cluster'],
  ['gpus', 'gpus'],
  ['memoryGiB', 'mem'],
  ['globalBatch', 'batch'],
  ['seqLen', 'seq'],
];
const EDIT_PREFIX = 'c.';

/** The query string holding the inputs that differ from the defaults (no leading "?"). */
export function inputsToQuery(inputs: Inputs): string {
  const q = new URLSearchParams();
  for (const [key, name] of PARAMS) {
    const value = inputs[key] as string;
    if (key === 'modelJson' && inputs.model !== CUSTOM_MODEL) continue;
    if (value !== DEFAULT_INPUTS[key] || key === 'model' || key === 'cluster' || key === 'gpus') q.set(name, value);
  }
  for (const [path, value] of Object.entries(inputs.clusterEdits)) q.set(`${EDIT_PREFIX}${path}`, value);
  return q.toString();
}

/** The inputs of a query string or hash ("?model=…" or "#model=…"); absent ones take their defaults. */
export function inputsFromQuery(text: string): Inputs {
  const q = new URLSearchParams(text.replace(/^[?#]/, ''));
  const inputs: Inputs = { ...DEFAULT_INPUTS, clusterEdits: {} };
  for (const [key, name] of PARAMS) {
    const value = q.get(name);
    if (value !== null) (inputs as unknown as Record<string, string>)[key] = value;
  }
  for (const [name, value] of q) {
    if (name.startsWith(EDIT_PREFIX) && CLUSTER_FIELDS.some((f) => f.path === name.slice(EDIT_PREFIX.length))) inputs.clusterEdits[name.slice(EDIT_PREFIX.length)] = value;
  }
  return inputs;
}
