// ClusterSpec: GPUs, nodes and the two link levels (DESIGN.md §3). Units: GB/s, µs, GiB, TFLOP/s at this edge.
import { z } from 'zod';
import { CLUSTER_LIMITS, atMost } from '../limits.js';

const positive = (what: string) => z.number({ error: `${what} must be a number` }).positive(`${what} must be > 0`);
const bounded = (what: string, max: number) => positive(what).max(max, atMost(what, max));
const positiveInt = (what: string) => positive(what).int(`${what} must be a whole number`);
export { CLUSTER_LIMITS } from '../limits.js';

export const GpuSpecSchema = z
  .object({
    name: z.string().min(1),
    /** Dense 16-bit tensor-core peak (fp32 accumulate), TFLOP/s. */
    peakTflops: bounded('gpu.peakTflops', CLUSTER_LIMITS.tflops),
    memoryGiB: positive('gpu.memoryGiB').max(CLUSTER_LIMITS.memoryGiB, atMost('gpu.memoryGiB', CLUSTER_LIMITS.memoryGiB)),
    hbmGBps: bounded('gpu.hbmGBps', CLUSTER_LIMITS.gbps),
    /**
     * Bandwidth the memory-bound kernels (norms, activations, the optimizer step) reach, GB/s, when it was
     * measured (`galvatron profile`: the executor's own optimizer step); otherwise hbmGBps × the fitted
     * hbmEfficiency.
     */
    memoryBoundGBps: bounded('gpu.memoryBoundGBps', CLUSTER_LIMITS.gbps).optional(),
    /** Fraction of peak a large, well-shaped training GEMM reaches (before calibration). */
    gemmEfficiency: positive('gpu.gemmEfficiency').max(1, 'gpu.gemmEfficiency must be ≤ 1'),
    /** Dense fp32 peak (TF32 tensor cores where present), TFLOP/s; default peak/8. */
    fp32PeakTflops: bounded('gpu.fp32PeakTflops', CLUSTER_LIMITS.tflops).optional(),
    /** Whether bf16 is supported (V100 is fp16 only). */
    bf16: z.boolean().default(true),
  })
  .strict();

export const LinkSpecSchema = z
  .object({
    /** nccl-tests all-reduce bus bandwidth of a full group on this level, GB/s. */
    busBandwidthGBps: bounded('busBandwidthGBps', CLUSTER_LIMITS.gbps),
    /** Point-to-point bandwidth between two GPUs on this level, GB/s. */
    p2pGBps: bounded('p2pGBps', CLUSTER_LIMITS.gbps),
    /** Per-step latency α of a collective on this level, µs. */
    latencyUs: z.number().nonnegative('latencyUs must be ≥ 0').max(CLUSTER_LIMITS.latencyUs, atMost('latencyUs', CLUSTER_LIMITS.latencyUs)),
  })
  .strict();

export const IntraNodeSpecSchema = LinkSpecSchema.extend({
  /**
   * switch: every group gets the full bus bandwidth (NVSwitch); mesh: direct links only, so a group of
   * n of the node's G GPUs gets (n−1)/(G−1) of it (V100 hybrid cube mesh); pcie: shared host bridge.
   */
  topology: z.enum(['switch', 'mesh', 'pcie']).default('switch'),
}).strict();

export const InterNodeSpecSchema = LinkSpecSchema.extend({
  /** NICs per node; a group with k members in a node uses k·nicsPerNode/gpusPerNode of them. */
  nicsPerNode: positiveInt('interNode.nicsPerNode').max(CLUSTER_LIMITS.nicsPerNode, atMost('interNode.nicsPerNode', CLUSTER_LIMITS.nicsPerNode)),
  /** Reachable bandwidth of one NIC, GB/s (≈ 24 for 200 Gb/s HDR, ≈ 47 for 400 Gb/s NDR). */
  nicGBps: bounded('interNode.nicGBps', CLUSTER_LIMITS.gbps),
}).strict();

export const GpusPerNodeSchema = positiveInt('gpusPerNode').max(CLUSTER_LIMITS.gpusPerNode, atMost('gpusPerNode', CLUSTER_LIMITS.gpusPerNode));
export const NodesSchema = positiveInt('nodes').max(CLUSTER_LIMITS.nodes, atMost('nodes', CLUSTER_LIMITS.nodes));

export const ClusterSpecSchema = z
  .object({
    name: z.string().min(1),
    gpu: z.union([z.string().min(1), GpuSpecSchema]),
    gpusPerNode: GpusPerNodeSchema,
    nodes: NodesSchema,
    intraNode: IntraNodeSpecSchema,
    interNode: InterNodeSpecSchema,
    /** Slow-down λ of compute and communication while they overlap (Galvatron: 1.1–1.3). */
    overlapSlowdown: z.number().min(1, 'overlapSlowdown must be ≥ 1').max(3, 'overlapSlowdown must be ≤ 3').default(1.15),
  })
  .strict();

export type GpuSpec = z.output<typeof GpuSpecSchema>;
export type LinkSpec = z.output<typeof LinkSpecSchema>;
export type IntraNodeSpec = z.output<typeof IntraNodeSpecSchema>;
export type InterNodeSpec = z.output<typeof InterNodeSpecSchema>;
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
/**
 * A collective measured on this machine (a profile's α–β fit, `galvatron profile`): on a group of its size
 * inside one node it replaces the link model, so each kind keeps its own latency and bandwidth (gloo's
 * all-reduce, for one, pays many more steps than its all-to-all). Not part of a cluster file.
 */
export interface MeasuredCollective {
  kind: 'all-reduce' | 'all-gather' | 'reduce-scatter' | 'all-to-all' | 'p2p';
  groupSize: number;
  /** Latency of the whole collective, µs. */
  alphaUs: number;
  /** Bus bandwidth in the convention of src/hardware/collectives.ts (p2p: the message rate), GB/s. */
  busBandwidthGBps: number;
}

/** A cluster with its GPU resolved to a full spec, and the collectives a profile measured on it. */
export type ClusterSpec = Omit<z.output<typeof ClusterSpecSchema>, 'gpu'> & { gpu: GpuSpec; measuredCollectives?: readonly MeasuredCollective[] };

export function totalGpus(cluster: ClusterSpec): number {
  return cluster.gpusPerNode * cluster.nodes;
}
