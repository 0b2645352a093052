// The largest sizes the planner and the executor accept, in one place (python/galvatron_runtime/plan.py
// holds the same numbers; the shared validator table, test/fixtures/plan-validation/cases.json, checks both
// sides refuse one past each). Far above any model or cluster built (LLaMA-3.1 405B: 126 layers, hidden
// 16,384, vocabulary 128,256; 16,384 GPUs), so nothing real is refused, while a typo such as 1e12 layers
// or GPUs is refused up front instead of hanging the search or exhausting memory.

export const MODEL_LIMITS = {
  layers: 4096,
  hidden: 1 << 18,
  heads: 1 << 13,
  ffnHidden: 1 << 20,
  vocab: 1 << 23,
  seqLen: 1 << 22,
  imageSize: 1 << 16,
  channels: 1 << 10,
} as const;

/**
 * Node and GPU counts size the search's work; 1024 GiB is also --memory-gib's bound. The rates are bounded
 * far above any hardware (B200: 2,250 dense 16-bit TFLOP/s, 8 TB/s of HBM; NVLink 5: 900 GB/s a direction)
 * so that a typo such as 1e308 is refused instead of pricing every transfer as free.
 */
export const CLUSTER_LIMITS = {
  gpusPerNode: 1024,
  nodes: 1 << 17,
  memoryGiB: 1024,
  tflops: 100_000,
  gbps: 1_000_000,
  latencyUs: 10_000_000,
  nicsPerNode: 1024,
} as const;

/**
 * Samples per iteration: far above any run (GPT-3 175B trained at 1,536 samples of 2,048 tokens), and small
 * enough that walking its divisors stays instant.
 */
export const MAX_GLOBAL_BATCH = 1 << 24;

/** "… must be ≤ N (the largest this planner accepts)", the one wording of every limit. */
export const atMost = (what: string, max: number) => `${what} must be ≤ ${max.toLocaleString('en-US')} (the largest this planner accepts)`;
