// The analytic model's fitted constants, kept as data (calibration.json) and re-fitted by scripts/calibrate.ts
// (published runs) or `galvatron calibrate` (executor runs), each inside its physical range.
import calibration from './calibration.json' with { type: 'json' };
import type { CostConstants } from './types.js';

export function loadCostConstants(): CostConstants {
  return { ...calibration.constants };
}

export interface ConstantRange {
  min: number;
  max: number;
}

/**
 * The range each constant may take, from what the hardware and software can physically do: fits stay
 * inside it and calibration files are checked against it.
 * - gemmEfficiencyScale: training GEMMs reach 60–110 % of the large-GEMM efficiency in hardware.md;
 * - gemmTileOverheadK: 0–512 elements of k per tile (a 3–4 stage pipeline of 32–64-deep k-slices to
 *   fill, then the 128×128 output tile to write);
 * - kernelOverheadUs: 1–40 µs per kernel (launch and tail);
 * - layerHostUs: 0–2 ms to issue one layer's forward from Python (eager PyTorch: tens of ops at 5–30 µs);
 * - hbmEfficiency: memory-bound kernels reach 50–95 % of HBM bandwidth;
 * - flashAttentionEfficiency: flash attention runs at 50–110 % of a GEMM's rate for the same FLOPs;
 * - fixedMemoryGiB: 0–1024 GiB outside the allocator (as --memory-reserve-gib);
 * - activationFragmentation: the allocator holds 1–2 × the activation bytes the model counts.
 */
export const CONSTANT_RANGES: Record<keyof CostConstants, ConstantRange> = {
  gemmEfficiencyScale: { min: 0.6, max: 1.1 },
  gemmTileOverheadK: { min: 0, max: 512 },
  kernelOverheadUs: { min: 1, max: 40 },
  layerHostUs: { min: 0, max: 2000 },
  hbmEfficiency: { min: 0.5, max: 0.95 },
  flashAttentionEfficiency: { min: 0.5, max: 1.1 },
  fixedMemoryGiB: { min: 0, max: 1024 },
  activationFragmentation: { min: 1, max: 2 },
};
