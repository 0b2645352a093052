// Inputs and outputs of the cost model. Library units: seconds, bytes, FLOP, FLOP/s.
import type { LayerStrategy } from '../strategy/layer-strategy.js';

export type Precision = 'bf16' | 'fp16' | 'fp32';
export type Schedule = 'gpipe' | '1f1b' | 'interleaved-1f1b';
export type AttentionKernel = 'flash' | 'unfused';
/**
 * How the engine runs the memory-bound ops around the GEMMs: fused kernels (Megatron, TransformerEngine,
 * torch.compile: one pass per norm, activation, RoPE) or PyTorch eager ops (one kernel, with its own HBM
 * round trip, per operator: RMSNorm alone is six).
 */
export type ElementwiseKernels = 'fused' | 'eager';
/**
 * What `recompute: selective` re-runs: Megatron's attention core (Korthikanti et al.), or torchtitan's
 * op-level policy (saves every other matmul's output and attention's; re-runs the rest of the layer).
 */
export type SelectiveRecompute = 'attention-core' | 'op-level';

/** The training step being priced, shared by every layer. */
export interface TrainingSetup {
  globalBatch: number;
  /** Micro-batches per iteration (pipeline chunks); each holds globalBatch / microBatches samples. */
  microBatches: number;
  seqLen: number;
  precision: Precision;
  attention: AttentionKernel;
  /** Megatron keeps fp32 main gradients: 18 bytes/param instead of 16 for mixed-precision Adam. */
  fp32MainGrads: boolean;
  /** TP collectives of the forward pass overlap the GEMMs (Megatron-Core --tp-comm-overlap); backward always does. */
  tpOverlap: boolean;
  /** Whether the model uses dropout (GPT/BERT-style training yes, LLaMA no): masks are stored. */
  dropout: boolean;
  /** Default 'fused'. */
  elementwiseKernels?: ElementwiseKernels;
  /** Default 'attention-core'. Prices time only: memory is counted as for the attention core. */
  selectiveRecompute?: SelectiveRecompute;
}

/** Free constants of the analytic model, fitted once to published runs (src/cost/calibration.json). */
export interface CostConstants {
  /** Multiplies each GPU's large-GEMM efficiency: what training GEMMs reach versus cuBLAS peaks. */
  gemmEfficiencyScale: number;
  /**
   * Per-tile prologue and epilogue of a GEMM, in elements of its k-loop: a GEMM with inner dimension k
   * runs at k / (k + this) of the rate a very deep one reaches.
   */
  gemmTileOverheadK: number;
  /** Fixed time per kernel (launch, tail, gaps), µs: small GEMMs and small models lose efficiency to it. */
  kernelOverheadUs: number;
  /**
   * Host time to issue one layer's forward pass, µs (eager PyTorch dispatches every op from Python;
   * backward issues about twice as many): a layer's pass is never faster than this, which is what makes
   * many small micro-batches slower than a few large ones. 0 turns the floor off.
   */
  layerHostUs: number;
  /** Fraction of HBM bandwidth that memory-bound kernels (norms, activations, dropout, softmax) reach. */
  hbmEfficiency: number;
  /** Flash-attention throughput relative to a GEMM of the same FLOPs. */
  flashAttentionEfficiency: number;
  /** Fixed memory per GPU: CUDA context, NCCL buffers, allocator reserve, GiB. */
  fixedMemoryGiB: number;
  /** Allocator fragmentation on activation memory (multiplier ≥ 1). */
  activationFragmentation: number;
}

export interface TimeTerm {
  name: string;
  seconds: number;
}

/** Forward and backward time of one layer for one micro-batch, with the terms that make them. */
export interface LayerTime {
  forwardS: number;
  backwardS: number;
  forwardTerms: TimeTerm[];
  backwardTerms: TimeTerm[];
  /** Gradient reduction over the DP group once per iteration (DDP all-reduce, ZeRO-1/2 reduce-scatter), overlappable with backward. */
  gradientSyncS: number;
  /** ZeRO-1/2 all-gather of the updated parameters once per iteration, overlappable with the next forward. */
  parameterGatherS: number;
}

export interface LayerMemory {
  /** Parameters, gradients, optimizer states held by one GPU for this layer. */
  modelStateBytes: number;
  /** Activations kept for backward, per micro-batch in flight. */
  activationBytesPerMicroBatch: number;
  /** Transient bytes while this layer runs (ZeRO-3 gathered params, recompute working set). */
  peakTransientBytes: number;
}

export interface PricedLayer {
  strategy: LayerStrategy;
  time: LayerTime;
  memory: LayerMemory;
}
