// Iteration time of a pipeline from per-stage busy times (DESIGN.md §4 "Pipeline").
import { overlappedTimeS } from './overlap.js';
import type { Schedule } from './types.js';

/** One pipeline stage (one GPU's share): busy time per micro-batch, and what runs after its last pass. */
export interface StageTimes {
  forwardS: number;
  backwardS: number;
  /** Gradient sync and parameter gathers that do not hide behind the passes they overlap. */
  exposedCommS: number;
  optimizerS: number;
}

export interface PipelineTiming {
  /** Forward + backward of all micro-batches through the pipeline, bubble included. */
  pipelineS: number;
  /** Idle time of the slowest stage: pipeline time minus its own work. */
  bubbleS: number;
  /** The stage whose exposed communication + optimizer step ends last. */
  tailStage: number;
  /** That stage's exposed gradient sync / parameter gather. */
  exposedCommS: number;
  /** That stage's optimizer step. */
  optimizerS: number;
  iterationS: number;
}

/**
 * What a communication of `commS` overlapping a pass of `passS` adds: max(P, C) + (λ−1)·min(P, C) − P.
 * Per layer: a layer's gradient sync overlaps its own backward in the last micro-batch (its parameter
 * gather its own forward in the first), one chunk's worth (1/v) when interleaved — Galvatron's accounting.
 */
export function commExcessS(passS: number, commS: number, lambda: number): number {
  return commS <= 0 ? 0 : overlappedTimeS(passS, commS, lambda) - passS;
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
 * Iteration time: the pipeline, then the stage whose exposed communication and optimizer step end last:
 * T = m·max C + (Σ C − max C)/v + max_i (exposed_i + optimizer_i). Non-decreasing in every stage's busy
 * time and tail, which the exact search relies on.
 */
export function composePipeline(stages: StageTimes[], microBatches: number, schedule: Schedule, virtualStages: number): PipelineTiming {
  const busy = stages.map((s) => s.forwardS + s.backwardS);
  const pipelineS = pipelineTimeS(busy, microBatches, schedule, virtualStages);
  const bubbleS = pipelineS - microBatches * Math.max(...busy);
  let tailStage = 0;
  stages.forEach((s, i) => {
    const best = stages[tailStage]!;
    if (s.exposedCommS + s.optimizerS > best.exposedCommS + best.optimizerS) tailStage = i;
  });
  const tail = stages[tailStage]!;
  return {
    pipelineS,
    bubbleS,
    tailStage,
    exposedCommS: tail.exposedCommS,
    optimizerS: tail.optimizerS,
    iterationS: pipelineS + tail.exposedCommS + tail.optimizerS,
  };
}

/**
 * Micro-batches whose activations stage i holds at its peak. 1F1B: min(p − i, m); GPipe: m; interleaved
 * (Megatron's warm-up of 2(p − i − 1) + (v − 1)·p chunks, plus one): ((v + 1)·p − 2i − 1)/v stage-equivalents,
 * p·(1 + (p − 1)/(p·v)) on the first stage; with m = p every forward runs first, so all m are in flight
 * (found by the simulator, src/simulate).
 */
export function inFlightMicroBatches(stage: number, degree: number, microBatches: number, schedule: Schedule, virtualStages: number): number {
  if (schedule === 'gpipe') return microBatches;
  if (schedule === 'interleaved-1f1b' && virtualStages > 1) {
    // With as many micro-batches as stages, Megatron (and the executor) run every forward first.
    if (microBatches === degree) return microBatches;
    const chunks = 2 * (degree - stage - 1) + (virtualStages - 1) * degree + 1;
    return Math.min(microBatches, chunks / virtualStages);
  }
  return Math.min(degree - stage, microBatches);
}
