// Our Pareto-frontier stage DP against Galvatron's dense 1 MB memory-grid DP on the same stage problem:
// per-layer strategies with a cost and a memory (whole MB), a re-distribution cost between layouts,
// minimise total cost under a memory budget. Both must find the same optimum.
import { performance } from 'node:perf_hooks';
import type { LayerCostContext } from '../src/cost/layer-time.js';
import { loadCluster } from '../src/hardware/load.js';
import { loadModel } from '../src/model/load.js';
import { LayerOptionTable } from '../src/search/layer-options.js';
import { pruneCandidates } from '../src/search/prune-candidates.js';
import { searchContext, searchTasks } from '../src/search/search.js';
import { type Candidate } from '../src/search/stage-frontier.js';
import { paretoFilter, type FrontierPoint } from '../src/search/stage-vector.js';
import { defaultRules } from '../src/strategy/candidates.js';

const MB = 1024 * 1024;

export interface StageProblem {
  layers: number;
  /** cost[s], memoryMb[s]: the same for every layer (a uniform stage). */
  cost: number[];
  memoryMb: number[];
  /** transition[s][t]: cost of moving from strategy s to t between adjacent layers. */
  transition: number[][];
  /** Activation layout of each strategy: transitions depend only on the two layouts. */
  layout: number[];
  budgetMb: number;
}

/**
 * Our stage DP, as prefixFrontiers runs it: one Pareto set of (memory, cost) per layout of the last layer;
 * per target layout the arriving predecessors are filtered once, then each strategy's cost added.
 */
export function frontierStageDp(problem: StageProblem): number {
  const layouts = [...new Set(problem.layout)];
  const members = layouts.map((k) => problem.cost.map((_, s) => s).filter((s) => problem.layout[s] === k));
  const representative = members.map((m) => m[0]!);
  const point = (cost: number, memory: number): FrontierPoint<null> => ({ vector: { busyS: cost, tailS: 0, memoryBytes: memory, transientBytes: 0 }, switches: 0, payload: null });
  const addStrategies = (to: number, predecessors: FrontierPoint<null>[]) => {
    const next: FrontierPoint<null>[] = [];
    for (const t of members[to]!) {
      for (const p of predecessors) {
        const memory = p.vector.memoryBytes + problem.memoryMb[t]!;
        if (memory <= problem.budgetMb) next.push(point(p.vector.busyS + problem.cost[t]!, memory));
      }
    }
    return paretoFilter(next);
  };
  let states = layouts.map((_, to) => addStrategies(to, [point(0, 0)]));
  for (let l = 1; l < problem.layers; l++) {
    states = layouts.map((_, to) => {
      const arriving: FrontierPoint<null>[] = [];
      states.forEach((from, f) => {
        const move = problem.transition[representative[f]!]![representative[to]!]!;
        for (const p of from) arriving.push(move === 0 ? p : point(p.vector.busyS + move, p.vector.memoryBytes));
      });
      return addStrategies(to, paretoFilter(arriving));
    });
  }
  return Math.min(...states.flat().map((p) => p.vector.busyS));
}

/** Galvatron's DP: best[M][s] = least cost of the prefix using exactly ≤ M MB and ending in s. */
export function gridStageDp(problem: StageProblem): number {
  const S = problem.cost.length;
  const M = problem.budgetMb + 1;
  let best = new Float64Array(M * S).fill(Infinity);
  for (let s = 0; s < S; s++) for (let m = problem.memoryMb[s]!; m < M; m++) best[m * S + s] = problem.cost[s]!;
  for (let l = 1; l < problem.layers; l++) {
    const next = new Float64Array(M * S).fill(Infinity);
    for (let t = 0; t < S; t++) {
      const need = problem.memoryMb[t]!;
      for (let m = need; m < M; m++) {
        let value = Infinity;
        const base = (m - need) * S;
        for (let s = 0; s < S; s++) {
          const v = best[base + s]! + problem.transition[s]![t]!;
          if (v < value) value = v;
        }
        next[m * S + t] = value + problem.cost[t]!;
      }
    }
    best = next;
  }
  let answer = Infinity;
  for (let s = 0; s < S; s++) answer = Math.min(answer, best[(M - 1) * S + s]!);
  return answer;
}

/** A real stage problem: GPT-3 13B's layers on one 8-GPU stage, single-stage pipeline, m micro-batches. */
export function realStageProblem(layers: number, budgetGiB: number): StageProblem {
  const model = loadModel('gpt3-13b');
  const cluster = loadCluster('dgx-a100-40g', 8);
  const options = { globalBatch: 64, rules: defaultRules() };
  const ctx = searchContext(model, cluster, options);
  const task = searchTasks(model, ctx, options).find((t) => t.degree === 1 && t.microBatches === 8)!;
  const setup = { ...ctx.setupBase, globalBatch: 64, microBatches: 8 };
  const layerCtx: LayerCostContext = { kernel: { gpu: cluster.gpu, precision: setup.precision, constants: ctx.constants }, cluster, setup };
  const table = new LayerOptionTable(layerCtx, 8, ctx.rope);
  const candidates: Candidate[] = pruneCandidates(task.candidates, table, ctx.layers);
  const shape = ctx.layers[0]!;
  const m = 8;
  const vectors = candidates.map((c) => table.vector(shape, c.strategy, c.key, 1, ctx.constants.activationFragmentation));
  return {
    layers,
    // Single stage: iteration = m·Σ busy + Σ tail (+ constants), additive per layer.
    cost: vectors.map((v) => m * v.busyS + v.tailS),
    memoryMb: vectors.map((v) => Math.ceil((v.memoryBytes + v.transientBytes) / MB)),
    transition: candidates.map((a) => candidates.map((b) => 2 * m * table.transitionS(a.strategy, b.strategy, shape))),
    layout: candidates.map((c) => [...new Set(candidates.map((x) => x.layoutKey))].indexOf(c.layoutKey)),
    budgetMb: Math.round(budgetGiB * 1024),
  };
}

export interface StageDpBench {
  layers: number;
  strategies: number;
  budgetMb: number;
  frontierMs: number;
  gridMs: number;
  frontierCost: number;
  gridCost: number;
}

/** Warm-up calls before timing, so both DPs are measured JIT-compiled. */
const WARM_UP_RUNS = 5;

/** Median wall time of `runs` calls after the warm-up calls, and the result. */
function timed<T>(run: () => T, runs: number): { ms: number; value: T } {
  let value = run();
  for (let i = 1; i < WARM_UP_RUNS; i++) value = run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, value };
}

export function runStageDpBench(layers = 40, budgetGiB = 30, runs = 5): StageDpBench {
  const problem = realStageProblem(layers, budgetGiB);
  const frontier = timed(() => frontierStageDp(problem), runs);
  const grid = timed(() => gridStageDp(problem), runs);
  return { layers, strategies: problem.cost.length, budgetMb: problem.budgetMb, frontierMs: frontier.ms, gridMs: grid.ms, frontierCost: frontier.value, gridCost: grid.value };
}
