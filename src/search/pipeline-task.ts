// One search task: a PP degree, micro-batch count and schedule, solved exactly over per-layer strategies,
// the embedding strategy and the partition of layers into stages.
import type { LayerCostContext } from '../cost/layer-time.js';
import { inFlightMicroBatches } from '../cost/pipeline.js';
import { boundaryCrossesNodes, pricePlan, type LayerRange, type PlanCost, type PlanInput } from '../cost/plan-cost.js';
import type { CostConstants, Schedule, TrainingSetup } from '../cost/types.js';
import { stepSyncS } from '../cost/step-sync.js';
import type { ClusterSpec } from '../hardware/spec.js';
import type { EmbeddingShape, LayerShape } from '../model/spec.js';
import type { Profile } from '../profile/schema.js';
import type { LayerStrategy } from '../strategy/layer-strategy.js';
import { evenLayerRanges } from '../cost/uniform-plan.js';
import { LayerOptionTable, sharedPrices, type SharedPrices } from './layer-options.js';
import { droppedLayouts, pruneCandidates } from './prune-candidates.js';
import { extendState, iterationTimeS, lowerBoundS, solvePartition, startState, type PipelineShape } from './partition-dp.js';
import { chainToArray, combineChunkFrontiers, prefixFrontiers, prefixPass, type Candidate, type CombineOptions, type ChoiceChain, type RangeContext, type StagePoint } from './stage-frontier.js';
import { addVectors, paretoFilter, peakMemoryBytes, ZERO_VECTOR, type FrontierPoint, type StageVector } from './stage-vector.js';
import { SuffixBound } from './lagrangian-bound.js';

const GIB = 1024 ** 3;

/** Everything fixed for one search (model, cluster, batch, software setup). */
export interface SearchContext {
  layers: LayerShape[];
  embedding: EmbeddingShape;
  tiedEmbeddings: boolean;
  rope: boolean;
  cluster: ClusterSpec;
  /** Precision, attention kernel, dropout, fp32 grads, TP overlap: everything in TrainingSetup but the batch split. */
  setupBase: Omit<TrainingSetup, 'globalBatch' | 'microBatches'>;
  globalBatch: number;
  constants: CostConstants;
  /** Measured times that replace the analytic ones they cover (the cluster already carries its link figures). */
  profile?: Profile;
  /** Largest stage frontier kept (undefined: no limit, exact). */
  frontierLimit?: number;
  /** Set when any frontier of any task was thinned (the search is then not proven optimal). */
  thinned: { value: boolean };
}

export interface PipelineTask {
  degree: number;
  microBatches: number;
  schedule: Schedule;
  virtualStages: number;
  /** Candidates for the stage size totalGpus / degree whose DP degree divides the micro-batch. */
  candidates: Candidate[];
  /** Fixed layer ranges per stage (a heuristic partition), or undefined for the exact partition search. */
  fixedPartition?: LayerRange[];
}

export interface TaskResult {
  /** pricePlan's iteration time of the plan found. */
  timeS: number;
  /** The same time as the search's own accounting computed it (equal up to rounding). */
  searchTimeS: number;
  /** False when a frontier limit thinned a frontier: the plan is good but not proven optimal. */
  exact: boolean;
  input: PlanInput;
  cost: PlanCost;
}

function dedupeEmbeddingCandidates(candidates: Candidate[]): Candidate[] {
  const seen = new Map<string, Candidate>();
  for (const c of candidates) {
    const key = `${c.layoutKey}:${c.strategy.dpType}`;
    if (!seen.has(key)) seen.set(key, { ...c, strategy: { ...c.strategy, recompute: 'none' }, key: `${key}:none` });
  }
  return [...seen.values()];
}

const tables = new WeakMap<SearchContext, Map<string, LayerOptionTable>>();
const prices = new WeakMap<SearchContext, Map<number, SharedPrices>>();

/**
 * The per-layer option table of a task: it depends only on the search context, the micro-batch count and
 * the virtual stages, so the bound, the solve, the balanced partitions and every BMW move share one; tables
 * of one micro-batch count share their layer and end prices.
 */
export function optionTable(ctx: SearchContext, task: PipelineTask): LayerOptionTable {
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  let byTask = tables.get(ctx);
  if (!byTask) tables.set(ctx, (byTask = new Map()));
  const key = `${task.microBatches}|${v}`;
  let table = byTask.get(key);
  if (!table) {
    let byCount = prices.get(ctx);
    if (!byCount) prices.set(ctx, (byCount = new Map()));
    let shared = byCount.get(task.microBatches);
    if (!shared) byCount.set(task.microBatches, (shared = sharedPrices()));
    const setup: TrainingSetup = { ...ctx.setupBase, globalBatch: ctx.globalBatch, microBatches: task.microBatches };
    const layerCtx: LayerCostContext = { kernel: { gpu: ctx.cluster.gpu, precision: setup.precision, constants: ctx.constants }, cluster: ctx.cluster, setup, profile: ctx.profile };
    table = new LayerOptionTable(layerCtx, ctx.globalBatch / task.microBatches, ctx.rope, v, shared);
    byTask.set(key, table);
  }
  return table;
}

/** `compute` of each layer, evaluated once per layer type (layers of one type share the very value). */
export function perLayerType<T>(layers: LayerShape[], compute: (shape: LayerShape) => T): T[] {
  const byType = new Map<string, T>();
  return layers.map((shape) => {
    if (!byType.has(shape.typeId)) byType.set(shape.typeId, compute(shape));
    return byType.get(shape.typeId)!;
  });
}

/** Each layer's least forward + backward time over the candidates. */
export function fastestBusyS(table: LayerOptionTable, layers: LayerShape[], candidates: Candidate[]): number[] {
  return perLayerType(layers, (shape) =>
    Math.min(...candidates.map((c) => {
      const o = table.option(shape, c.strategy, c.key);
      return o.forwardS + o.backwardS;
    })),
  );
}

/** Each layer's least tail (exposed sync + optimizer work) over the candidates. */
export function fastestTailS(table: LayerOptionTable, layers: LayerShape[], candidates: Candidate[]): number[] {
  return perLayerType(layers, (shape) => Math.min(...candidates.map((c) => table.option(shape, c.strategy, c.key).tailS)));
}

/** What every plan's tail pays whatever its layers: the step's world all-reduce and the optimizer's one launch. */
function tailConstantS(ctx: SearchContext, worldSize: number): number {
  return stepSyncS(ctx.cluster, worldSize) + ctx.constants.kernelOverheadUs * 1e-6;
}

/**
 * A lower bound on any plan of the task: the layers' least total busy time spread evenly over the stages,
 * plus the slowest stage's tail, which is at least the stages' mean (the layers' least tails over p). The least total is memory-aware: all stages together hold at
 * most p budgets, and a layer holds at least its memory at the fewest in-flight micro-batches of any
 * stage, so by Lagrangian relaxation Σ busy ≥ Σ_l min_c (busy + λ·memory) − λ·p·budget for every λ ≥ 0
 * (lagrangian-bound.ts). Cheap (no frontier), used to order and skip tasks.
 */
export function taskLowerBoundS(ctx: SearchContext, task: PipelineTask, stages: TaskStages = taskStages(ctx, task)): number {
  const busy = Math.max(fastestBusyS(stages.table, ctx.layers, task.candidates).reduce((a, b) => a + b, 0), leastTotalBusyS(ctx, task, stages));
  const { shape } = stages;
  // A task none of whose plans fits is never solved (without an incumbent it would build every frontier).
  if (leastStageMemoryBytes(ctx, task, stages, stages.budgetBytes) > stages.budgetBytes) return Infinity;
  const tail = fastestTailS(stages.table, ctx.layers, task.candidates).reduce((a, b) => a + b, 0) / task.degree;
  const bound = lowerBoundS(startState(), busy, task.degree, shape) + tail;
  const oneStage = oneStageBound(ctx, task, stages, task.candidates);
  return oneStage ? Math.max(bound, oneStage.boundS(0, ZERO_VECTOR) + shape.tailConstantS) : bound;
}

/**
 * Interleaved tasks split the layers into fixed even chunks, so every stage's layers are known before any
 * frontier: stage i's busy time is at least the memory-aware least Σ busy of its own layers and ends at its
 * own in-flight count within one budget (Lagrangian, as leastTotalBusyS), and its tail at least the sum of
 * their least tails. pricePlan's T = m·max C + (Σ C − max C)/v + max tail grows with every C and tail, so
 * those per-stage floors bound T. Far tighter than spreading the whole model's least busy time evenly:
 * the first stage holds the most micro-batches in flight and pays for it in recompute or sharding.
 * 0 for other tasks (no bound). Dearer than taskLowerBoundS (a Lagrangian per stage): solveTask asks for it
 * only for a task the cheap bound did not skip.
 */
export function interleavedStagesBoundS(ctx: SearchContext, task: PipelineTask, stages: TaskStages): number {
  const p = task.degree;
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  const L = ctx.layers.length;
  if (v <= 1 || task.candidates.length === 0 || p * v > L) return 0;
  const chunks = evenLayerRanges(L, p * v);
  const embeddings = dedupeEmbeddingCandidates(task.candidates);
  const leastTail = fastestTailS(stages.table, ctx.layers, task.candidates);
  const busyFloors: number[] = [];
  const ownFloors: number[] = [];
  let tailFloor = 0;
  for (let i = 0; i < p; i++) {
    const k = stages.inFlight(i);
    const own: LayerShape[] = [];
    let tailS = 0;
    for (let c = i; c < chunks.length; c += p) {
      for (let l = chunks[c]!.start; l < chunks[c]!.end; l++) {
        own.push(ctx.layers[l]!);
        tailS += leastTail[l]!;
      }
    }
    const options = perLayerType(own, (shape) =>
      task.candidates.map((c): StageVector => {
        const vector = stages.table.vector(shape, c.strategy, c.key, k, stages.fragmentation);
        return { busyS: vector.busyS, tailS: vector.tailS, memoryBytes: vector.memoryBytes, transientBytes: 0 };
      }),
    );
    const holdsEnds = i === 0 || i === p - 1;
    const ends = holdsEnds ? embeddings.map((e) => stages.ends(i, e.strategy)) : [];
    const endOptions = ends.map((e): StageVector => ({ ...e, transientBytes: 0 }));
    const busyOnly = (vectors: StageVector[]) => vectors.map((x) => ({ ...x, tailS: 0 }));
    busyFloors.push(new SuffixBound(options.map(busyOnly), busyOnly(endOptions), 1, stages.budgetBytes).boundS(0, ZERO_VECTOR));
    ownFloors.push(new SuffixBound(options, endOptions, task.microBatches, stages.budgetBytes).boundS(0, ZERO_VECTOR));
    if (holdsEnds) tailS += Math.min(...ends.map((e) => e.tailS));
    tailFloor = Math.max(tailFloor, tailS);
  }
  const busiest = Math.max(...busyFloors);
  const total = busyFloors.reduce((a, b) => a + b, 0);
  // And for each stage i: T ≥ m·C_i + tail_i + Σ_{j≠i} C_j / v (max C ≥ C_i, m ≥ 1/v), with m·busy + tail
  // of stage i floored jointly, so that a fast option with a large exposed sync pays for it.
  const perStage = ownFloors.map((own, i) => own + (total - busyFloors[i]!) / v);
  return Math.max(task.microBatches * busiest + (total - busiest) / v + tailFloor, ...perStage) + stages.shape.tailConstantS;
}

/**
 * The least memory the fullest stage of any plan of the task can need (with `budgetBytes`: that, or any
 * value ≤ the budget when some split fits): each layer at its leanest option
 * at its stage's in-flight count, each end at its leanest, the layers cut into stages (or, interleaved,
 * into the fixed even chunks) to make the fullest stage as lean as possible (min-max DP over prefix sums).
 */
export function leastStageMemoryBytes(ctx: SearchContext, task: PipelineTask, stages: TaskStages, budgetBytes?: number): number {
  const p = task.degree;
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  const L = ctx.layers.length;
  if (task.candidates.length === 0 || p * v > L) return Infinity;
  const embeddings = dedupeEmbeddingCandidates(task.candidates);
  const prefixByK = new Map<number, Float64Array>();
  const prefixAt = (k: number) => {
    let prefix = prefixByK.get(k);
    if (!prefix) {
      prefix = new Float64Array(L + 1);
      const least = perLayerType(ctx.layers, (shape) => Math.min(...task.candidates.map((c) => stages.table.vector(shape, c.strategy, c.key, k, stages.fragmentation).memoryBytes)));
      for (let l = 0; l < L; l++) prefix[l + 1] = prefix[l]! + least[l]!;
      prefixByK.set(k, prefix);
    }
    return prefix;
  };
  // Only the first and last stages hold ends; their leanest is priced once.
  const firstEnds = Math.min(...embeddings.map((e) => peakMemoryBytes(stages.ends(0, e.strategy))));
  const lastEnds = p > 1 ? Math.min(...embeddings.map((e) => peakMemoryBytes(stages.ends(p - 1, e.strategy)))) : firstEnds;
  const endsOf = (i: number) => (i === 0 ? firstEnds : i === p - 1 ? lastEnds : 0);
  // The fullest stage when the layers are cut into p·v even chunks, chunk c on stage c mod p.
  const evenChunksFullest = () => {
    const chunks = evenLayerRanges(L, p * v);
    let fullest = 0;
    for (let i = 0; i < p; i++) {
      const prefix = prefixAt(stages.inFlight(i));
      let bytes = endsOf(i);
      for (let c = i; c < chunks.length; c += p) bytes += prefix[chunks[c]!.end]! - prefix[chunks[c]!.start]!;
      fullest = Math.max(fullest, bytes);
    }
    return fullest;
  };
  // Interleaved chunks are fixed and even.
  if (v > 1) return evenChunksFullest();
  // With a budget to test against, the even split first: when it fits, the least fits too (no DP needed;
  // the value returned is then the even split's, which the budget test reads the same way).
  if (budgetBytes !== undefined) {
    const even = evenChunksFullest();
    if (even <= budgetBytes) return even;
  }
  // best[e]: the least fullest stage over stages 0..i covering layers [0, e).
  let best = new Float64Array(L + 1).fill(Infinity);
  best[0] = 0;
  for (let i = 0; i < p; i++) {
    const next = new Float64Array(L + 1).fill(Infinity);
    const prefix = prefixAt(stages.inFlight(i));
    const ends = endsOf(i);
    for (let start = i; start < L; start++) {
      const before = best[start]!;
      if (before === Infinity) continue;
      const last = i === p - 1 ? L : L - (p - 1 - i);
      const from = prefix[start]!;
      for (let end = i === p - 1 ? L : start + 1; end <= last; end++) {
        const value = Math.max(before, prefix[end]! - from + ends);
        if (value < next[end]!) next[end] = value;
      }
    }
    best = next;
  }
  return best[L]!;
}

/** The memory-aware least Σ busy of all layers of a task (see taskLowerBoundS). */
function leastTotalBusyS(ctx: SearchContext, task: PipelineTask, stages: TaskStages): number {
  if (task.candidates.length === 0) return 0;
  let fewest = Infinity;
  for (let i = 0; i < task.degree; i++) fewest = Math.min(fewest, stages.inFlight(i));
  // Busy time only: the tail is not part of Σ busy, transients are not additive.
  const layerOptions = perLayerType(ctx.layers, (shape) =>
    task.candidates.map((c): StageVector => {
      const vector = stages.table.vector(shape, c.strategy, c.key, fewest, stages.fragmentation);
      return { busyS: vector.busyS, tailS: 0, memoryBytes: vector.memoryBytes, transientBytes: 0 };
    }),
  );
  return new SuffixBound(layerOptions, [], 1, task.degree * stages.budgetBytes).boundS(0, ZERO_VECTOR);
}

/** The memory-aware bound of a one-stage task (pp = 1, no interleaving); undefined for other tasks. */
function oneStageBound(ctx: SearchContext, task: PipelineTask, stages: TaskStages, layerCandidates: Candidate[]): SuffixBound | undefined {
  if (task.degree !== 1 || stages.shape.virtualStages !== 1 || layerCandidates.length === 0) return undefined;
  const k = stages.inFlight(0);
  const layerOptions = perLayerType(ctx.layers, (shape) => layerCandidates.map((c) => stages.table.vector(shape, c.strategy, c.key, k, stages.fragmentation)));
  const endOptions = dedupeEmbeddingCandidates(task.candidates).map((e) => stages.ends(0, e.strategy));
  return new SuffixBound(layerOptions, endOptions, task.microBatches, stages.budgetBytes);
}

/** What every stage of a task needs, whatever its layers: in-flight count, p2p sends, embedding/head ends. */
export interface TaskStages {
  table: LayerOptionTable;
  setup: TrainingSetup;
  budgetBytes: number;
  fragmentation: number;
  gpusPerStage: number;
  /** Pipeline shape for pricePlan's iteration time. */
  shape: PipelineShape;
  inFlight: (stage: number) => number;
  /** Point-to-point cost of stage `stage`, charged to its first layer's strategy. */
  p2pOf: (stage: number) => (first: LayerStrategy) => { forwardS: number; backwardS: number };
  /** Embedding (stage 0) and head (last stage) under the embedding strategy. */
  ends: (stage: number, embedding: LayerStrategy) => StageVector;
}

export function taskStages(ctx: SearchContext, task: PipelineTask): TaskStages {
  const { cluster } = ctx;
  const p = task.degree;
  const m = task.microBatches;
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  const table = optionTable(ctx, task);
  const fragmentation = ctx.constants.activationFragmentation;
  const first = task.candidates[0]!.strategy;
  const gpusPerStage = first.tp * first.cp * first.dp;
  const inFlight = (stage: number) => inFlightMicroBatches(stage, p, m, task.schedule, v);
  return {
    table,
    setup: { ...ctx.setupBase, globalBatch: ctx.globalBatch, microBatches: m },
    budgetBytes: cluster.gpu.memoryGiB * GIB - ctx.constants.fixedMemoryGiB * GIB,
    fragmentation,
    gpusPerStage,
    // Every stage's optimizer step pays the step's world all-reduce and one fixed launch on top of its bandwidth term.
    shape: { layers: ctx.layers.length, stages: p, microBatches: m, virtualStages: v, tailConstantS: tailConstantS(ctx, p * gpusPerStage) },
    inFlight,
    p2pOf: (stage) => {
      const sendsForward = p > 1 ? (stage < p - 1 ? v : v - 1) : 0;
      const sendsBackward = p > 1 ? (stage > 0 ? v : v - 1) : 0;
      const crosses = boundaryCrossesNodes(stage, gpusPerStage, cluster.gpusPerNode);
      return (s: LayerStrategy) => table.p2p(s, ctx.embedding, sendsForward, sendsBackward, crosses);
    },
    ends: (stage, embedding) =>
      table.endsVector(ctx.embedding, embedding, stage === 0, stage === p - 1, ctx.tiedEmbeddings && p > 1, inFlight(stage), fragmentation),
  };
}

/**
 * The time of one candidate on every layer (and, without recompute, on the embedding) over even stages (or
 * even chunks, interleaved), by the search's own accounting; undefined when a stage does not fit. Cheap:
 * no frontier is built.
 */
export function uniformTimeS(ctx: SearchContext, task: PipelineTask, candidate: Candidate, stages: TaskStages = taskStages(ctx, task)): number | undefined {
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  const p = task.degree;
  if (p * v > ctx.layers.length) return undefined;
  const embedding = { ...candidate.strategy, recompute: 'none' as const };
  let state = startState();
  // Stage i runs chunks i, i + p, …: with v = 1 the even stages themselves. Its layers of one type add
  // up to that type's vector times their count.
  const chunks = evenLayerRanges(ctx.layers.length, p * v);
  for (let stage = 0; stage < p; stage++) {
    const k = stages.inFlight(stage);
    const counts = new Map<string, { shape: LayerShape; count: number }>();
    for (let c = stage; c < chunks.length; c += p) {
      const range = chunks[c]!;
      for (let l = range.start; l < range.end; l++) {
        const shape = ctx.layers[l]!;
        const entry = counts.get(shape.typeId);
        if (entry) entry.count++;
        else counts.set(shape.typeId, { shape, count: 1 });
      }
    }
    let vector = stages.ends(stage, embedding);
    for (const { shape, count } of counts.values()) {
      const one = stages.table.vector(shape, candidate.strategy, candidate.key, k, stages.fragmentation);
      vector = addVectors(vector, { busyS: count * one.busyS, tailS: count * one.tailS, memoryBytes: count * one.memoryBytes, transientBytes: one.transientBytes });
    }
    const extra = stages.p2pOf(stage)(candidate.strategy);
    vector = { ...vector, busyS: vector.busyS + extra.forwardS + extra.backwardS };
    if (peakMemoryBytes(vector) > stages.budgetBytes) return undefined;
    state = extendState(state, { vector, switches: 0, payload: undefined }, stage + 1);
  }
  return iterationTimeS(state, stages.shape);
}

/** The plan of one candidate on every layer and the embedding (recompute off there), even stages, priced; `searchTimeS` is its uniformTimeS. */
export function uniformTaskResult(ctx: SearchContext, task: PipelineTask, candidate: Candidate, searchTimeS: number): TaskResult {
  const stages = taskStages(ctx, task);
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  const input: PlanInput = {
    layers: ctx.layers,
    strategies: ctx.layers.map(() => candidate.strategy),
    embedding: ctx.embedding,
    embeddingStrategy: { ...candidate.strategy, recompute: 'none' },
    tiedEmbeddings: ctx.tiedEmbeddings,
    rope: ctx.rope,
    setup: stages.setup,
    pipeline: { degree: task.degree, schedule: task.schedule, virtualStages: v, chunks: evenLayerRanges(ctx.layers.length, task.degree * v) },
    cluster: ctx.cluster,
    constants: ctx.constants,
    profile: ctx.profile,
  };
  const cost = pricePlan(input);
  return { timeS: cost.iterationTimeS, searchTimeS, exact: false, input, cost };
}

export function solveTask(ctx: SearchContext, task: PipelineTask, incumbentS: number): TaskResult | undefined {
  const { layers, cluster } = ctx;
  const L = layers.length;
  const p = task.degree;
  const m = task.microBatches;
  const v = task.schedule === 'interleaved-1f1b' ? task.virtualStages : 1;
  if (task.candidates.length === 0 || p * v > L) return undefined;
  const stages = taskStages(ctx, task);
  const { table, setup, budgetBytes, fragmentation, gpusPerStage, inFlight, p2pOf, shape } = stages;
  // Exact reductions first. The embedding keeps every layout the layers keep (its costs differ from a
  // layer's); a layout the twin rule drops must have embedding options no worse in the SP twin layout too
  // (ends of every stage position compared), so that the embedding can be swapped with the layers.
  const embeddingOptions = dedupeEmbeddingCandidates(task.candidates);
  const endsNoWorse = (a: LayerStrategy, b: LayerStrategy) =>
    [0, p - 1].every((stage) => {
      const x = stages.ends(stage, a);
      const y = stages.ends(stage, b);
      return x.busyS <= y.busyS && x.tailS <= y.tailS && x.memoryBytes <= y.memoryBytes && x.transientBytes <= y.transientBytes;
    });
  const layerCandidates = pruneCandidates(task.candidates, table, layers, (layout, twinLayout) =>
    embeddingOptions
      .filter((e) => e.layoutKey === layout)
      .every((e) => {
        const twin = embeddingOptions.find((t) => t.layoutKey === twinLayout && t.strategy.dpType === e.strategy.dpType);
        return twin !== undefined && endsNoWorse(twin.strategy, e.strategy);
      }),
  );
  const dropped = droppedLayouts(task.candidates, layerCandidates);
  const embeddingCandidates = embeddingOptions.filter((e) => !dropped.has(e.layoutKey));
  const thinned = { value: false };
  const report = () => {
    if (thinned.value) ctx.thinned.value = true;
  };

  // Frontiers of layer ranges: one DP pass from a start gives every end. Cached by the layer types of
  // the range (identical layers share), the in-flight count and the p2p position.
  const typeIds = layers.map((l) => l.typeId);
  const rangeCache = new Map<string, StagePoint[]>();
  const passStates = new Map<string, Map<string, StagePoint[]>>();
  // The first layer takes its activations from the embedding, the head from the last layer: both
  // re-distributions depend on the embedding strategy, so ranges touching either end are keyed by it.
  const fromEmbedding = (embedding: LayerStrategy) => (s: LayerStrategy) => {
    const t = table.transitionS(embedding, s, layers[0]!);
    return { forwardS: t, backwardS: t };
  };
  const intoHead = (embedding: LayerStrategy) => (s: LayerStrategy) => {
    const t = table.transitionS(s, embedding, layers[L - 1]!, true);
    return { forwardS: t, backwardS: t };
  };
  const frontierOf = (start: number, end: number, stage: number, withP2p: boolean, embedding: Candidate, chunk = false): StagePoint[] => {
    const k = inFlight(stage);
    const sendsKey = withP2p ? `${stage === 0 ? 'f' : stage === p - 1 ? 'l' : 'm'}${boundaryCrossesNodes(stage, gpusPerStage, cluster.gpusPerNode) ? 'x' : ''}` : '-';
    const keyOf = (a: number, b: number) =>
      `${typeIds.slice(a, b).join(',')}|${k}|${sendsKey}|${a === 0 ? embedding.layoutKey : ''}|${b === L ? embedding.layoutKey : ''}`;
    const cached = rangeCache.get(keyOf(start, end));
    if (cached) return cached;
    const p2p = withP2p ? p2pOf(stage) : undefined;
    const embed = start === 0 ? fromEmbedding(embedding.strategy) : undefined;
    const firstLayerExtra =
      p2p && embed
        ? (s: LayerStrategy) => {
            const a = p2p(s);
            const b = embed(s);
            return { forwardS: a.forwardS + b.forwardS, backwardS: a.backwardS + b.backwardS };
          }
        : (p2p ?? embed);
    const rangeCtx: RangeContext = {
      table,
      candidates: layerCandidates,
      inFlight: k,
      fragmentation,
      memoryCapBytes: budgetBytes,
      ...(firstLayerExtra ? { firstLayerExtra } : {}),
      ...(ctx.frontierLimit === undefined ? {} : { frontierLimit: ctx.frontierLimit }),
      thinned,
      // One stage holds every layer when p = 1: the rest of the model still has to run on it.
      ...(Number.isFinite(incumbentS) ? { hopeless: (j: number, point: StageVector) => completionBoundS(start, start + j + 1, point) >= incumbentS } : {}),
    };
    const withHead = { ...rangeCtx, lastLayerExtra: intoHead(embedding.strategy) };
    if (chunk) {
      // An interleaved chunk is a fixed range: one pass over exactly its layers (the head's re-distribution
      // on the model's last layer only).
      const prefixes = prefixFrontiers(layers.slice(start, end), end === L ? withHead : rangeCtx);
      prefixes.forEach((points, j) => {
        if (start + j + 1 < end || !rangeCache.has(keyOf(start, end))) rangeCache.set(keyOf(start, start + j + 1), points);
      });
      return rangeCache.get(keyOf(start, end))!;
    }
    if (start === 0 || start === L - 1) {
      // Ranges from layer 0 depend on the embedding throughout (with p > 1 stage 0 ends by layer L − p + 1);
      // a one-layer last range is one step.
      const stop = start === 0 && p > 1 ? L - (p - 1) : L;
      const prefixes = prefixFrontiers(layers.slice(start, stop), stop === L ? withHead : rangeCtx);
      prefixes.forEach((points, j) => rangeCache.set(keyOf(start, start + j + 1), points));
      return rangeCache.get(keyOf(start, end))!;
    }
    // Otherwise only the last layer depends on the embedding: one pass up to it, shared by every
    // embedding, then the last layer once per embedding from the pass's per-layout states.
    const passKey = `${keyOf(start, L - 1)}|states`;
    let states = passStates.get(passKey);
    if (!states) {
      const pass = prefixPass(layers.slice(start, L - 1), rangeCtx);
      pass.prefixes.forEach((points, j) => rangeCache.set(keyOf(start, start + j + 1), points));
      states = pass.states;
      passStates.set(passKey, states);
    }
    if (end === L) {
      const { firstLayerExtra: _startOnly, ...continuation } = withHead;
      rangeCache.set(keyOf(start, L), prefixPass([layers[L - 1]!], continuation, states, L - 1 - start).prefixes[0] ?? []);
    }
    return rangeCache.get(keyOf(start, end))!;
  };

  // A prefix point is hopeless when no completion can beat the incumbent (completionBoundS).
  const oneStage = oneStageBound(ctx, task, stages, layerCandidates);
  const chunks = v > 1 ? evenLayerRanges(L, p * v) : undefined;
  // The least busy time of every layer, and its suffix sums, for the bounds.
  const minBusy = fastestBusyS(table, layers, layerCandidates);
  const suffixBusy = new Array<number>(L + 1).fill(0);
  for (let l = L - 1; l >= 0; l--) suffixBusy[l] = suffixBusy[l + 1]! + minBusy[l]!;
  const minTail = fastestTailS(table, layers, layerCandidates);
  const suffixTail = new Array<number>(L + 1).fill(0);
  for (let l = L - 1; l >= 0; l--) suffixTail[l] = suffixTail[l + 1]! + minTail[l]!;
  // The slowest stage's tail is at least this stage's and at least the mean over the stages.
  const tailBound = (stageTailS: number, othersTailS: number) => Math.max(stageTailS, (stageTailS + othersTailS) / p);
  // A stage prefix over layers [start, next) with busy time C: the plan's stages sum to at least
  // S = C + (the least busy of every other layer), and the busiest stage has at least max(C, S/p), so
  // T ≥ m·M + (S − M)/v + tail with M = max(C, S/p) (T grows with both). It reads only the range's own
  // layers besides the task's constants, as the frontier cache (keyed by the range's layer types) needs.
  // With one stage the rest of the model still has to run, and fit, on it (oneStageBound).
  const completionBoundS = (start: number, next: number, point: StageVector) => {
    const others = suffixBusy[0]! - (suffixBusy[start]! - suffixBusy[next]!);
    const total = others + point.busyS;
    const busiest = Math.max(point.busyS, total / p);
    const spread = m * busiest + (total - busiest) / v + tailBound(point.tailS, suffixTail[0]! - (suffixTail[start]! - suffixTail[next]!));
    return Math.max(spread, oneStage ? oneStage.boundS(next, point) : 0) + shape.tailConstantS;
  };

  // Interleaved: a stage's chunks combine one at a time; a partial sum whose stage, with the rest of its
  // chunks at their least busy time, cannot beat the incumbent is dropped (the bound above, per stage).
  const combineOptions = (stage: number): CombineOptions => {
    const own = (chunks ?? []).filter((_, j) => j % p === stage);
    const chunkMinBusy = own.map((r) => suffixBusy[r.start]! - suffixBusy[r.end]!);
    const stageMinBusy = chunkMinBusy.reduce((a, b) => a + b, 0);
    const restAfter = chunkMinBusy.map((_, k) => chunkMinBusy.slice(k + 1).reduce((a, b) => a + b, 0));
    const chunkMinTail = own.map((r) => suffixTail[r.start]! - suffixTail[r.end]!);
    const stageMinTail = chunkMinTail.reduce((a, b) => a + b, 0);
    const restTailAfter = chunkMinTail.map((_, k) => chunkMinTail.slice(k + 1).reduce((a, b) => a + b, 0));
    return {
      ...(ctx.frontierLimit === undefined ? {} : { frontierLimit: ctx.frontierLimit }),
      thinned,
      ...(Number.isFinite(incumbentS)
        ? {
            hopeless: (combined: number, vector: StageVector) => {
              const stageBusy = vector.busyS + restAfter[combined - 1]!;
              const total = suffixBusy[0]! - stageMinBusy + stageBusy;
              const busiest = Math.max(stageBusy, total / p);
              const tailS = tailBound(vector.tailS, restTailAfter[combined - 1]! + suffixTail[0]! - stageMinTail);
              return m * busiest + (total - busiest) / v + tailS + shape.tailConstantS >= incumbentS;
            },
          }
        : {}),
    };
  };

  // Before any frontier is built: a task whose bound cannot beat the best plan so far is skipped.
  if (lowerBoundS(startState(), suffixBusy[0]!, p, shape) >= incumbentS) return undefined;
  if (v > 1 && Number.isFinite(incumbentS) && interleavedStagesBoundS(ctx, task, stages) >= incumbentS) return undefined;

  let best: { timeS: number; embedding: Candidate; solution: ReturnType<typeof solvePartition> } | undefined;
  let bound = incumbentS;
  // Per embedding: its embedding and head add to the busy time of the first and last stages (the same
  // stage when p = 1), so the bound before any frontier grows by them; an embedding that cannot beat
  // the best plan so far is skipped. (In their own order: among equal times the first embedding wins.)
  const embeddingBoundS = (e: Candidate) => {
    const first = stages.ends(0, e.strategy);
    const last = p > 1 ? stages.ends(p - 1, e.strategy) : ZERO_VECTOR;
    const total = suffixBusy[0]! + first.busyS + last.busyS;
    const busiest = Math.max(total / p, first.busyS, last.busyS);
    return m * busiest + (total - busiest) / v + Math.max(first.tailS, last.tailS, (first.tailS + last.tailS + suffixTail[0]!) / p) + shape.tailConstantS;
  };
  for (const embedding of embeddingCandidates) {
    if (embeddingBoundS(embedding) >= bound) continue;
    const withEnds = (stage: number, points: FrontierPoint<unknown>[]) => {
      const endVector = stages.ends(stage, embedding.strategy);
      const out: FrontierPoint<unknown>[] = [];
      for (const point of points) {
        const vector = addVectors(point.vector, endVector);
        if (peakMemoryBytes(vector) <= budgetBytes) out.push({ ...point, vector });
      }
      return out;
    };
    const found = v > 1
      ? solveInterleaved(chunks!, p, (start, end, stage, withP2p) => frontierOf(start, end, stage, withP2p, embedding, true), withEnds, budgetBytes, shape, bound, combineOptions)
      : solvePartition({
      shape,
      incumbentS: bound,
      remainingBusyS: (start) => suffixBusy[start]!,
      stageEnds: (stage, start) => {
        if (task.fixedPartition) {
          const range = task.fixedPartition[stage];
          return range && range.start === start ? [range.end] : [];
        }
        const ends: number[] = [];
        for (let end = start + 1; end <= L - (p - 1 - stage); end++) ends.push(end);
        return stage === p - 1 ? ends.filter((e) => e === L) : ends;
      },
      stageFrontier: (stage, start, end) => withEnds(stage, frontierOf(start, end, stage, true, embedding)),
    });
    if (found && found.timeS < bound) {
      bound = found.timeS;
      best = { timeS: found.timeS, embedding, solution: found };
    }
  }
  report();
  if (!best?.solution) return undefined;

  // Rebuild the per-layer strategies and price the plan with the cost model itself.
  const strategies: LayerStrategy[] = new Array(L);
  const pipelineChunks: LayerRange[] = v > 1 ? chunks! : best.solution.stages.map((s) => ({ start: s.start, end: s.end }));
  best.solution.stages.forEach((stage, i) => {
    const payload = stage.point.payload as ChoiceChain | ChoiceChain[];
    const chains = Array.isArray(payload) ? payload : [payload];
    const ranges = v > 1 ? pipelineChunks.filter((_, j) => j % p === i) : [pipelineChunks[i]!];
    chains.forEach((chain, c) => {
      const picks = chainToArray(chain);
      const range = ranges[c]!;
      picks.forEach((candidateIndex, offset) => {
        strategies[range.start + offset] = layerCandidates[candidateIndex]!.strategy;
      });
    });
  });
  const input: PlanInput = {
    layers,
    strategies,
    embedding: ctx.embedding,
    embeddingStrategy: best.embedding.strategy,
    tiedEmbeddings: ctx.tiedEmbeddings,
    rope: ctx.rope,
    setup,
    pipeline: { degree: p, schedule: task.schedule, virtualStages: v, chunks: pipelineChunks },
    cluster,
    constants: ctx.constants,
    profile: ctx.profile,
  };
  const cost = pricePlan(input);
  return { timeS: cost.iterationTimeS, searchTimeS: best.timeS, exact: !thinned.value, input, cost };
}

/** Interleaved: each stage is the sum of its v even chunks; only the frontier choice per stage is free. */
function solveInterleaved(
  chunks: LayerRange[],
  p: number,
  frontierOf: (start: number, end: number, stage: number, withP2p: boolean) => StagePoint[],
  withEnds: (stage: number, points: FrontierPoint<unknown>[]) => FrontierPoint<unknown>[],
  budgetBytes: number,
  shape: PipelineShape,
  incumbentS: number,
  combineOptions: (stage: number) => CombineOptions,
) {
  const stageFrontiers: FrontierPoint<unknown>[][] = [];
  for (let i = 0; i < p; i++) {
    const own = chunks.filter((_, j) => j % p === i);
    const parts = own.map((range, c) => frontierOf(range.start, range.end, i, c === 0));
    stageFrontiers.push(withEnds(i, paretoFilter(combineChunkFrontiers(parts, budgetBytes, combineOptions(i)))));
  }
  // Stage i is the single "range" [i, i + 1) of a pipeline whose units are stages.
  return solvePartition({
    shape: { ...shape, layers: p },
    incumbentS,
    remainingBusyS: () => 0,
    stageEnds: (stage, start) => (start === stage ? [stage + 1] : []),
    stageFrontier: (stage) => stageFrontiers[stage]!,
  });
}
