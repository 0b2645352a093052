// GPU and cluster presets. Figures: shared/reference/hardware.md (vendor peaks, nccl-tests bus bandwidths).
import type { ClusterSpecInput, GpuSpec } from './spec.js';

export const GPU_PRESETS: Record<string, GpuSpec> = {
  // gemmEfficiency = hardware.md's "measured large-GEMM ceiling" / peak.
  'a100-40g': { name: 'A100 SXM4 40GB', peakTflops: 312, memoryGiB: 40, hbmGBps: 1555, gemmEfficiency: 230 / 312, fp32PeakTflops: 156, bf16: true },
  'a100-80g': { name: 'A100 SXM4 80GB', peakTflops: 312, memoryGiB: 80, hbmGBps: 2039, gemmEfficiency: 230 / 312, fp32PeakTflops: 156, bf16: true },
  'h100-sxm': { name: 'H100 SXM5 80GB', peakTflops: 989, memoryGiB: 80, hbmGBps: 3350, gemmEfficiency: 0.7, fp32PeakTflops: 495, bf16: true },
  // A 96 GB H100 capped at 500 W (torchtitan's benchmark machines): same silicon, clocks lower by the
  // DVFS rule P ∝ f³ → f × (500/700)^(1/3) ≈ 0.894 under power-bound GEMMs; HBM as the SXM part.
  'h100-96g-500w': { name: 'H100 96GB (500 W cap)', peakTflops: Math.round(989 * Math.cbrt(500 / 700)), memoryGiB: 96, hbmGBps: 3350, gemmEfficiency: 0.7, fp32PeakTflops: Math.round(495 * Math.cbrt(500 / 700)), bf16: true },
  // memoryGiB: what the device reports (nvidia-smi memory.total 143771 MiB, shared/reference/gpu-h200-2026-11-30/env.txt).
  'h200-sxm': { name: 'H200 SXM 141GB', peakTflops: 989, memoryGiB: 140.4, hbmGBps: 4800, gemmEfficiency: 0.7, fp32PeakTflops: 495, bf16: true },
  'rtx4090': { name: 'RTX 4090 24GB', peakTflops: 165, memoryGiB: 24, hbmGBps: 1008, gemmEfficiency: 161 / 165, fp32PeakTflops: 82.6, bf16: true },
  'v100-sxm2-16g': { name: 'V100 SXM2 16GB', peakTflops: 125, memoryGiB: 16, hbmGBps: 900, gemmEfficiency: 95 / 125, fp32PeakTflops: 15.7, bf16: false },
  'v100-sxm2-32g': { name: 'V100 SXM2 32GB', peakTflops: 125, memoryGiB: 32, hbmGBps: 900, gemmEfficiency: 95 / 125, fp32PeakTflops: 15.7, bf16: false },
};

// Intra-node bus bandwidths are nccl-tests all-reduce figures for 8 GPUs (H100/H200: NVLS, which NCCL
// uses by default on NVSwitch systems; ring ≈ 370 GB/s); inter-node is per NIC.
const NVSWITCH_A100 = { busBandwidthGBps: 220, p2pGBps: 230, latencyUs: 6 };
const HDR_X8 = { busBandwidthGBps: 185, p2pGBps: 24, latencyUs: 12, nicsPerNode: 8, nicGBps: 24 };
const NDR_X8 = { busBandwidthGBps: 370, p2pGBps: 47, latencyUs: 12, nicsPerNode: 8, nicGBps: 47 };

export const CLUSTER_PRESETS: Record<string, ClusterSpecInput> = {
  'dgx-a100-80g': { name: 'DGX A100 80GB (NVSwitch, 8×HDR 200 Gb/s)', gpu: 'a100-80g', gpusPerNode: 8, nodes: 1, intraNode: NVSWITCH_A100, interNode: HDR_X8, overlapSlowdown: 1.13 },
  'dgx-a100-40g': { name: 'DGX A100 40GB (NVSwitch, 8×HDR 200 Gb/s)', gpu: 'a100-40g', gpusPerNode: 8, nodes: 1, intraNode: NVSWITCH_A100, interNode: HDR_X8, overlapSlowdown: 1.13 },
  'dgx-h100': { name: 'DGX H100 (NVSwitch, 8×NDR 400 Gb/s)', gpu: 'h100-sxm', gpusPerNode: 8, nodes: 1, intraNode: { busBandwidthGBps: 480, p2pGBps: 360, latencyUs: 5 }, interNode: NDR_X8, overlapSlowdown: 1.13 },
  'hgx-h200': { name: 'HGX H200 (NVSwitch, 8×NDR 400 Gb/s)', gpu: 'h200-sxm', gpusPerNode: 8, nodes: 1, intraNode: { busBandwidthGBps: 475, p2pGBps: 360, latencyUs: 5 }, interNode: NDR_X8, overlapSlowdown: 1.13 },
  // PCIe 4.0 without P2P: traffic bounces through host memory; one 100 Gb/s NIC per node.
  '8x-rtx4090-pcie': { name: '8× RTX 4090 (PCIe 4.0, no P2P, 1×100 Gb/s)', gpu: 'rtx4090', gpusPerNode: 8, nodes: 1, intraNode: { busBandwidthGBps: 22, p2pGBps: 20, latencyUs: 15, topology: 'pcie' }, interNode: { busBandwidthGBps: 11, p2pGBps: 11, latencyUs: 20, nicsPerNode: 1, nicGBps: 11 }, overlapSlowdown: 1.2 },
  // AWS p3.16xlarge: NVLink2 hybrid cube mesh inside, 25 Gb/s Ethernet between nodes.
  '8x-v100-sxm2': { name: '8× V100 SXM2 16GB (NVLink2 cube mesh, 25 Gb/s)', gpu: 'v100-sxm2-16g', gpusPerNode: 8, nodes: 1, intraNode: { busBandwidthGBps: 130, p2pGBps: 45, latencyUs: 8, topology: 'mesh' }, interNode: { busBandwidthGBps: 2.8, p2pGBps: 2.8, latencyUs: 30, nicsPerNode: 1, nicGBps: 2.8 }, overlapSlowdown: 1.2 },
};
