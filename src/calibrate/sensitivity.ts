// Which input moves a run's predicted time most: each rate the model assumes is made 10 % slower (or each
// overhead 10 % larger), one at a time, and the prediction is priced again.
import { pricePlan, type PlanInput } from '../cost/plan-cost.js';
import type { ClusterSpec } from '../hardware/spec.js';

/** One input of the model and how to make it 10 % worse in a priced plan. */
export interface SensitivityKnob {
  id: string;
  label: string;
  worsen: (input: PlanInput) => PlanInput;
}

const SLOWER = 1.1;

const withCluster = (input: PlanInput, change: (cluster: ClusterSpec) => ClusterSpec): PlanInput => ({ ...input, cluster: change(input.cluster) });
const withConstant = (input: PlanInput, key: keyof PlanInput['constants'], factor: number): PlanInput => ({
  ...input,
  constants: { ...input.constants, [key]: input.constants[key] * factor },
});

export const SENSITIVITY_KNOBS: SensitivityKnob[] = [
  { id: 'gemm', label: 'GEMM rate', worsen: (i) => withConstant(i, 'gemmEfficiencyScale', 1 / SLOWER) },
  { id: 'attention', label: 'flash-attention rate', worsen: (i) => withConstant(i, 'flashAttentionEfficiency', 1 / SLOWER) },
  { id: 'hbm', label: 'memory-bound bandwidth', worsen: (i) => withConstant(i, 'hbmEfficiency', 1 / SLOWER) },
  {
    id: 'intra',
    label: 'intra-node links (TP, p2p, DP in a node)',
    worsen: (i) =>
      withCluster(i, (c) => ({ ...c, intraNode: { ...c.intraNode, busBandwidthGBps: c.intraNode.busBandwidthGBps / SLOWER, p2pGBps: c.intraNode.p2pGBps / SLOWER } })),
  },
  {
    id: 'inter',
    label: 'inter-node links (DP sync, p2p across nodes)',
    worsen: (i) =>
      withCluster(i, (c) => ({
        ...c,
        interNode: { ...c.interNode, busBandwidthGBps: c.interNode.busBandwidthGBps / SLOWER, p2pGBps: c.interNode.p2pGBps / SLOWER, nicGBps: c.interNode.nicGBps / SLOWER },
      })),
  },
  { id: 'overlap', label: 'overlap slow-down λ − 1', worsen: (i) => withCluster(i, (c) => ({ ...c, overlapSlowdown: 1 + (c.overlapSlowdown - 1) * SLOWER })) },
  { id: 'kernel', label: 'per-kernel and host overheads', worsen: (i) => withConstant(withConstant(i, 'kernelOverheadUs', SLOWER), 'layerHostUs', SLOWER) },
];

/** Relative change of the predicted iteration time when each knob is made 10 % worse. */
export function sensitivities(input: PlanInput): Record<string, number> {
  const base = pricePlan(input).iterationTimeS;
  return Object.fromEntries(SENSITIVITY_KNOBS.map((knob) => [knob.id, pricePlan(knob.worsen(input)).iterationTimeS / base - 1]));
}
