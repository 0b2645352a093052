// Messages between the page (main.tsx) and the search worker (worker.ts). Everything here is plain data:
// it crosses postMessage by structured clone.
import type { Explanation } from '../../src/plan/explain.js';
import type { Plan } from '../../src/plan/schema.js';
import type { Timeline } from '../../src/simulate/simulate.js';
import type { Inputs } from './inputs.js';

export type RequestBody = { kind: 'search'; inputs: Inputs } | { kind: 'open'; text: string; fileName: string };
export type Request = RequestBody & { id: number };

/** A refusal for one input: `input` is the form field it belongs to ('' when none), `message` the library's one line. */
export interface FieldError {
  input: InputKey | 'planFile' | '';
  field: string;
  message: string;
}

/** The form fields an error can sit beside. Cluster figures are `cluster.<path>` (ClusterField). */
export type InputKey = 'model' | 'cluster' | 'gpus' | 'memoryGiB' | 'globalBatch' | 'seqLen' | `cluster.${string}`;

export interface StageMemoryView {
  stage: number;
  /** GiB per GPU of the stage. */
  modelStatesGiB: number;
  activationsGiB: number;
  /** Runtime reserve and the largest transient buffer. */
  overheadsGiB: number;
  totalGiB: number;
}

export interface BaselineView {
  family: string;
  label: string;
  configuration: string;
  fits: boolean;
  iterationS: number | null;
  samplesPerS: number | null;
  memoryPerGpuGiB: number | null;
  note?: string;
}

export interface ExportView {
  target: string;
  fileName: string;
  content: string;
  differences: string[];
  planIterationS: number;
  exportedIterationS: number;
  error?: string;
}

export interface PlanView {
  source: 'search' | 'file';
  /** File name for an opened plan. */
  fileName?: string;
  plan: Plan;
  /** The `galvatron plan` command that gives the same plan (search) or the plan's own source command. */
  command: string;
  budgetGiB: number;
  deviceGiB: number;
  stageMemory: StageMemoryView[];
  pipelineText: string;
  strategyTexts: string[];
  embeddingText: string;
  timeline: Timeline;
  explanation: Explanation;
  baselines: BaselineView[];
  speedup: { family: string; label: string; speedup: number } | null;
  search?: { exact: boolean; tasks: number; elapsedMs: number; uniform: boolean; evenPartition: boolean };
  exports: ExportView[];
  /** Things worth saying that are not errors (an executor limit of an opened plan). */
  notes: string[];
  /** Worker time from request to this view, ms. */
  workerMs: number;
}

export type Response =
  | { id: number; kind: 'progress'; done: number; total: number; what: string }
  | { id: number; kind: 'result'; view: PlanView }
  | { id: number; kind: 'error'; errors: FieldError[]; nothingFits?: boolean };
