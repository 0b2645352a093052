// Iteration time of a pipeline from per-stage busy times (DESIGN.md §4 "Pipeline").
import { overlappedTimeS } from './overlap.js';
import type { Schedule } from './types.js';

/** One pipeline stage (one GPU's share), per micro-batch. */
export interface StageTimes {
  forwardS: number;
  backwardS: number;
  /** Gradient synchronisation once per iteration, overlappable with the stage's last backward. */
  gradientSyncS: number;
  /** ZeRO-1/2 parameter all-gather once per iteration, overlappable with the stage's first forward. */
  parameterGatherS: number;
  optimizerS: number;
}

export interface PipelineTiming {
  /** Forward + backward of all micro-batches through the pipeline, bubble included. */
  pipelineS: number;
  /** Idle time of the slowest stage: pipeline time minus its own work. */
  bubbleS: number;
  /** Gradient sync that could not hide behind backward work. */
  exposedGradientSyncS: number;
  optimizerS: number;
  iterationS: number;
}

/**
 * GPipe and 1F1B: (m − 1)·max C + Σ C. Interleaved with v chunks per GPU: m·max C + (Σ C − max C)/v,
 * which divides the bubble by v (for equal stages: (p − 1)/(v·m) of the ideal time).
 */
export function pipelineTimeS(stageBusyS: number[], microBatches: number, schedule: Schedule, virtualStages: number): number {
  const maxC = Math.max(...stageBusyS);
  const sumC = stageBusyS.reduce((a, b) => a + b, 0);
  const v = schedule === 'interleaved-1f1b' ? virtualStages : 1;
  return microBatches * maxC + (sumC - maxC) / v;
}

/**
 * Communication that overlaps one pass of a stage and, past it, the idle time while other stages work.
 * Gradient sync: stage i finishes its last backward while the stages before it still have Σ_{j<i} B_j
 * of backward to run. Parameter gather (mirror image): stage i starts its first forward only after the
 * stages before it ran theirs, Σ_{j<i} F_j. With v interleaved chunks the last pass and those tails are
 * one chunk's worth: 1/v of the stage times. Returns the part that lengthens the iteration.
 *
 * This form keeps the iteration time non-decreasing in every stage time (a longer pass hides at most
 * (2 − λ)/v of itself while the pipeline grows by ≥ 1/v of it), which the exact search relies on.
 */
export function exposedCommS(passS: number[], commS: number[], lambda: number, virtualStages = 1): number {
  let exposed = 0;
  let idleS = 0;
  passS.forEach((stagePass, i) => {
    const pass = stagePass / virtualStages;
    const endS = overlappedTimeS(pass, commS[i] ?? 0, lambda);
    exposed = Math.max(exposed, endS - pass - idleS);
    idleS += pass;
  });
  return Math.max(0, exposed);
}

export function composePipeline(
  stages: StageTimes[],
  microBatches: number,
  schedule: Schedule,
  virtualStages: number,
  lambda: number,
): PipelineTiming {
  const v = schedule === 'interleaved-1f1b' ? virtualStages : 1;
  const busy = stages.map((s) => s.forwardS + s.backwardS);
  const pipelineS = pipelineTimeS(busy, microBatches, schedule, virtualStages);
  const bubbleS = pipelineS - microBatches * Math.max(...busy);
  const exposed =
    exposedCommS(stages.map((s) => s.backwardS), stages.map((s) => s.gradientSyncS), lambda, v) +
    exposedCommS(stages.map((s) => s.forwardS), stages.map((s) => s.parameterGatherS), lambda, v);
  const optimizerS = Math.max(...stages.map((s) => s.optimizerS));
  return { pipelineS, bubbleS, exposedGradientSyncS: exposed, optimizerS, iterationS: pipelineS + exposed + optimizerS };
}

/**
 * Micro-batches whose activations stage i holds at its peak. 1F1B: min(p − i, m); GPipe: m; interleaved
 * (Megatron's warm-up of 2(p − i − 1) + (v − 1)·p chunks, plus one): ((v + 1)·p − 2i − 1)/v stage-equivalents,
 * p·(1 + (p − 1)/(p·v)) on the first stage.
 */
export function inFlightMicroBatches(stage: number, degree: number, microBatches: number, schedule: Schedule, virtualStages: number): number {
  if (schedule === 'gpipe') return microBatches;
  if (schedule === 'interleaved-1f1b' && virtualStages > 1) {
    const chunks = 2 * (degree - stage - 1) + (virtualStages - 1) * degree + 1;
    return Math.min(microBatches, chunks / virtualStages);
  }
  return Math.min(degree - stage, microBatches);
}
