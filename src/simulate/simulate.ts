// An event-driven simulation of one iteration, GPU by GPU (one row per pipeline stage: every GPU of a stage
// runs the same passes): each pass starts when its stage is free and its input is ready (the previous
// virtual stage's forward, the next one's backward), takes the cost model's time, and moves its activations
// in or out of memory. After its last backward a stage runs its exposed gradient sync and optimizer step.
// Where stages are uneven or interleaved this is the reference the closed form approximates.
import { pricePlan, type PlanCost, type PlanInput } from '../cost/plan-cost.js';
import { stageSchedule, type PipelineOp } from './schedule.js';

export interface TimelineOp extends PipelineOp {
  startS: number;
  endS: number;
}

export interface StageTimeline {
  stage: number;
  ops: TimelineOp[];
  /** Exposed gradient sync and parameter gathers, then the optimizer step, after the last backward. */
  syncStartS: number;
  optimizerStartS: number;
  endS: number;
  /** Memory of one GPU of the stage after each change (bytes): activations in with a forward, out with its backward. */
  memory: { timeS: number; bytes: number }[];
  peakBytes: number;
}

export interface Timeline {
  format: 'galvatron.timeline/v1';
  schedule: string;
  stages: StageTimeline[];
  iterationS: number;
  /** The cost model's closed form, m·max C + (Σ C − max C)/v + tail, for comparison. */
  analyticIterationS: number;
}

export function simulate(input: PlanInput, cost: PlanCost = pricePlan(input)): Timeline {
  const { degree: pp, schedule } = input.pipeline;
  const v = schedule === 'interleaved-1f1b' ? input.pipeline.virtualStages : 1;
  const m = input.setup.microBatches;
  const vs = pp * v;
  // A chunk's pass takes its share of the stage's time by layer count (the closed form's C / v).
  const layersOf = (stage: number, chunk: number) => {
    const range = input.pipeline.chunks[chunk * pp + stage]!;
    return range.end - range.start;
  };
  const duration = (stage: number, op: PipelineOp) => {
    const s = cost.stages[stage]!;
    const share = layersOf(stage, op.chunk) / s.layers.length;
    return (op.kind === 'F' ? s.forwardS : s.backwardS) * share;
  };
  // Finish times by (virtual stage, micro-batch).
  const forwardDone: number[][] = Array.from({ length: vs }, () => new Array<number>(m).fill(NaN));
  const backwardDone: number[][] = Array.from({ length: vs }, () => new Array<number>(m).fill(NaN));
  const queues = Array.from({ length: pp }, (_, s) => stageSchedule(schedule, pp, v, m, s));
  const next = new Array<number>(pp).fill(0);
  const free = new Array<number>(pp).fill(0);
  const done: TimelineOp[][] = Array.from({ length: pp }, () => []);
  const ready = (stage: number, op: PipelineOp): number => {
    const virtual = op.chunk * pp + stage;
    if (op.kind === 'F') return virtual === 0 ? 0 : forwardDone[virtual - 1]![op.microBatch]!;
    return virtual === vs - 1 ? forwardDone[virtual]![op.microBatch]! : backwardDone[virtual + 1]![op.microBatch]!;
  };
  // Run whichever stage can start its next pass earliest; the schedules are deadlock-free, so one always can.
  for (let remaining = queues.reduce((n, q) => n + q.length, 0); remaining > 0; remaining--) {
    let pick = -1;
    let pickStart = Infinity;
    for (let s = 0; s < pp; s++) {
      const op = queues[s]![next[s]!];
      if (!op) continue;
      const at = ready(s, op);
      if (Number.isNaN(at)) continue;
      const start = Math.max(free[s]!, at);
      if (start < pickStart) {
        pick = s;
        pickStart = start;
      }
    }
    if (pick < 0) throw new Error('pipeline schedule deadlocked (a bug in the schedule)');
    const op = queues[pick]![next[pick]!++]!;
    const endS = pickStart + duration(pick, op);
    free[pick] = endS;
    (op.kind === 'F' ? forwardDone : backwardDone)[op.chunk * pp + pick]![op.microBatch] = endS;
    done[pick]!.push({ ...op, startS: pickStart, endS });
  }
  const stages = done.map((ops, s): StageTimeline => {
    const stageCost = cost.stages[s]!;
    const syncStartS = free[s]!;
    const optimizerStartS = syncStartS + stageCost.exposedCommS;
    const endS = optimizerStartS + stageCost.optimizerS;
    // Memory: states and fixed overheads always; a chunk's activations of one micro-batch from its forward's
    // start to its backward's end; the stage's largest transient on top of the peak.
    const mem = stageCost.memory;
    const base = mem.modelStateBytes + mem.fixedBytes + mem.transientBytes;
    const perChunk = (chunk: number) => (mem.activationBytes / Math.max(mem.inFlightMicroBatches, 1e-12)) * (layersOf(s, chunk) / stageCost.layers.length);
    const events = ops.flatMap((op) => (op.kind === 'F' ? [{ t: op.startS, d: perChunk(op.chunk) }] : [{ t: op.endS, d: -perChunk(op.chunk) }])).sort((a, b) => a.t - b.t || a.d - b.d);
    let bytes = base;
    let peakBytes = base;
    const memory = [{ timeS: 0, bytes }];
    for (const e of events) {
      bytes += e.d;
      peakBytes = Math.max(peakBytes, bytes);
      memory.push({ timeS: e.t, bytes });
    }
    return { stage: s, ops, syncStartS, optimizerStartS, endS, memory, peakBytes };
  });
  return {
    format: 'galvatron.timeline/v1',
    schedule: v > 1 ? `${schedule} (${v} chunks)` : schedule,
    stages,
    iterationS: Math.max(...stages.map((s) => s.endS)),
    analyticIterationS: cost.iterationTimeS,
  };
}
