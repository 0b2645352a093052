// The page's search worker: the same library calls as `galvatron plan`, `explain`, `simulate` and `export`
// (src/cli/plan-command.ts and the others), on objects instead of files, off the page's main thread.
// Bad input comes back as the library's one-line messages, each with the form field it belongs to.
import { loadCostConstants } from '../../src/cost/constants.js';
import { memoryBudgetFor, type MemoryBudget } from '../../src/cost/memory-budget.js';
import { pricePlan, type PlanCost } from '../../src/cost/plan-cost.js';
import { UserInputError } from '../../src/errors.js';
import { resolveClusterSpec, scaleCluster } from '../../src/hardware/resolve.js';
import { CLUSTER_PRESETS } from '../../src/hardware/presets.js';
import { totalGpus, type ClusterSpec, type ClusterSpecInput } from '../../src/hardware/spec.js';
import { modelInputFromText, presetModelInput, resolveModelSpec, unknownPreset, withSeqLen } from '../../src/model/resolve.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { pipelineText, planSummary, strategyText } from '../../src/plan/describe.js';
import { explainPlan } from '../../src/plan/explain.js';
import { EXPORT_TARGETS, exportPlan } from '../../src/plan/export/index.js';
import { parsePlan } from '../../src/plan/parse.js';
import type { Plan } from '../../src/plan/schema.js';
import { planInputFromPlan } from '../../src/plan/to-cost.js';
import { validatePlanForExecutor } from '../../src/plan/validate.js';
import { speedupOverBestBaseline, type BaselineResult } from '../../src/search/baselines.js';
import { MAX_GPU_FACTOR, smallestFittingGpus, smallestFittingMemoryGiB } from '../../src/search/infeasible.js';
import { searchPlan } from '../../src/search/search.js';
import { baselinesFor, DEFAULT_FRONTIER_LIMIT, DEFAULT_MAX_VPP, reportedPlan, searchOptionsFor, type SearchSetup } from '../../src/search/setup.js';
import { simulate } from '../../src/simulate/simulate.js';
import { defaultRules } from '../../src/strategy/candidates.js';
import { CUSTOM_MODEL, presetClusterObject, setAt, type Inputs } from './inputs.js';
import type { BaselineView, ExportView, FieldError, InputKey, PlanView, Request, Response } from './protocol.js';

const GIB = 1024 ** 3;
const scope = self as unknown as { postMessage(message: Response): void; onmessage: ((event: MessageEvent<Request>) => void) | null };
const post = (message: Response) => scope.postMessage(message);

/** How the page names the library's config keys in a message ("globalBatch" → "global batch"). */
const KEY_NAMES: Record<string, string> = {
  gpus: 'GPUs',
  globalBatch: 'global batch',
  seqLen: 'sequence length',
  memoryGiB: 'memory per GPU',
  memoryReserveGiB: 'memory reserve',
  model: 'model',
  cluster: 'cluster',
};
const keyName = (key: string) => {
  const space = key.indexOf(' ');
  const head = space < 0 ? key : key.slice(0, space);
  return Object.hasOwn(KEY_NAMES, head) ? KEY_NAMES[head]! + key.slice(head.length) : key;
};

/** The form field a refusal belongs to, from the field it names. */
function inputOf(field: string, clusterEdits: Record<string, string> = {}): FieldError['input'] {
  if (/^(model|config\.json)\b/.test(field)) return 'model';
  if (field.startsWith('plan')) return 'planFile';
  if (field.startsWith('cluster')) {
    const path = field.slice('cluster.'.length);
    return Object.hasOwn(clusterEdits, path) ? (`cluster.${path}` as InputKey) : 'cluster';
  }
  if (field === 'memoryGiB' || field === 'memoryReserveGiB') return 'memoryGiB';
  if (field === 'gpus' || field === 'globalBatch' || field === 'seqLen') return field;
  if (field === 'precision') return 'cluster';
  return '';
}

function fieldError(error: unknown, clusterEdits?: Record<string, string>): FieldError {
  if (error instanceof UserInputError) return { input: inputOf(error.field, clusterEdits), field: error.field, message: error.render(keyName).replace(/\s*\n\s*/g, ' ') };
  const message = error instanceof Error ? error.message : String(error);
  return { input: '', field: '', message: `unexpected error: ${message}` };
}

/** A number field's text: undefined when empty and optional; a refusal naming the key when not a number. */
function numberOf(key: string, text: string, required: boolean, whole: boolean): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') {
    if (required) throw new UserInputError(key, whole ? 'missing; give a positive whole number' : 'missing; give a number');
    return undefined;
  }
  const n = Number(trimmed);
  if (!Number.isFinite(n) || (whole && !/^\+?\d+$/.test(trimmed))) {
    throw new UserInputError(key, whole ? `must be a positive whole number, got "${text}"` : `must be a number, got "${text}"`);
  }
  return n;
}

function modelOf(inputs: Inputs): ModelSpec {
  let input;
  if (inputs.model === CUSTOM_MODEL) {
    if (inputs.modelJson.trim() === '') throw new UserInputError('model', 'paste a ModelSpec or a HuggingFace config.json, or choose a preset');
    input = modelInputFromText(inputs.modelJson, 'model', 'custom model', 'fix the JSON');
  } else {
    input = presetModelInput(inputs.model);
    if (!input) throw unknownPreset(inputs.model);
  }
  return resolveModelSpec(withSeqLen(input, numberOf('seqLen', inputs.seqLen, false, true)));
}

/** The cluster at its own node size: the preset as `galvatron plan --cluster` reads it, or with the figures edited. */
function nodeClusterOf(inputs: Inputs): ClusterSpec {
  const edits = Object.entries(inputs.clusterEdits);
  if (edits.length === 0) {
    const preset = Object.hasOwn(CLUSTER_PRESETS, inputs.cluster) ? CLUSTER_PRESETS[inputs.cluster] : undefined;
    if (!preset) throw new UserInputError('cluster', `unknown cluster preset "${inputs.cluster}"; use one of ${Object.keys(CLUSTER_PRESETS).join(', ')}`);
    return resolveClusterSpec(preset);
  }
  const spec = presetClusterObject(inputs.cluster);
  if (!spec) throw new UserInputError('cluster', `unknown cluster preset "${inputs.cluster}"; use one of ${Object.keys(CLUSTER_PRESETS).join(', ')}`);
  for (const [path, text] of edits) setAt(spec, path, numberOf(`cluster.${path}`, text, true, false));
  spec.name = `${String(spec.name)} (figures edited)`;
  return resolveClusterSpec(spec as ClusterSpecInput);
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The `galvatron plan` command line that searches the same inputs (files stand for a pasted model or edited cluster). */
function planCommand(inputs: Inputs): string {
  const args = ['plan', '--model', inputs.model === CUSTOM_MODEL ? 'model.json' : inputs.model, '--cluster', Object.keys(inputs.clusterEdits).length > 0 ? 'cluster.json' : inputs.cluster];
  args.push('--gpus', inputs.gpus.trim(), '--global-batch', inputs.globalBatch.trim());
  if (inputs.memoryGiB.trim()) args.push('--memory-gib', inputs.memoryGiB.trim());
  if (inputs.seqLen.trim()) args.push('--seq', inputs.seqLen.trim());
  return ['galvatron', ...args.map(quote)].join(' ');
}

function baselineView(b: BaselineResult): BaselineView {
  return {
    family: b.family,
    label: b.label,
    configuration: b.input ? planSummary(b.input) : '—',
    fits: b.fits,
    iterationS: b.fits && b.cost ? b.cost.iterationTimeS : null,
    samplesPerS: b.fits && b.cost ? b.cost.samplesPerS : null,
    memoryPerGpuGiB: b.cost ? b.cost.memoryPerGpuBytes / GIB : null,
    ...(b.note === undefined ? {} : { note: b.note }),
  };
}

function exportsOf(plan: Plan): ExportView[] {
  return EXPORT_TARGETS.map((target) => {
    try {
      const r = exportPlan(plan, target);
      return { target, fileName: r.fileName, content: r.content, differences: r.differences, planIterationS: r.planIterationS, exportedIterationS: r.exportedIterationS };
    } catch (error) {
      return { target, fileName: '', content: '', differences: [], planIterationS: NaN, exportedIterationS: NaN, error: fieldError(error).message };
    }
  });
}

/** Everything the page shows about a plan; `cost` is the plan priced against its budget (the search's own, or re-priced). */
function viewOf(plan: Plan, cost: PlanCost, rest: Pick<PlanView, 'source' | 'command' | 'baselines' | 'speedup' | 'notes'> & Partial<PlanView>, started: number): PlanView {
  const input = planInputFromPlan(plan);
  return {
    ...rest,
    plan,
    budgetGiB: plan.predicted.memoryBudgetGiB,
    deviceGiB: plan.cluster.gpu.memoryGiB,
    stageMemory: cost.stages.map((s) => ({
      stage: s.index,
      modelStatesGiB: s.memory.modelStateBytes / GIB,
      activationsGiB: s.memory.activationBytes / GIB,
      overheadsGiB: (s.memory.fixedBytes + s.memory.transientBytes) / GIB,
      totalGiB: s.memory.totalBytes / GIB,
    })),
    pipelineText: pipelineText(input),
    strategyTexts: plan.layers.map((s) => strategyText(s)),
    embeddingText: strategyText(plan.embedding, false),
    // As `galvatron simulate plan.json` and `galvatron explain plan.json` compute them.
    timeline: simulate(planInputFromPlan(plan)),
    explanation: explainPlan(plan),
    exports: exportsOf(plan),
    workerMs: performance.now() - started,
  };
}

/** Progress messages, at most one per 40 ms. */
function progressPoster(id: number): (done: number, total: number, what: string) => void {
  let last = 0;
  return (done, total, what) => {
    const now = performance.now();
    if (now - last < 40 && done < total) return;
    last = now;
    post({ id, kind: 'progress', done, total, what });
  };
}

const num = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Nothing fits: the memory per GPU or the GPU count that would, from the library's probes (upper bounds). */
function nothingFitsLine(setup: SearchSetup, globalBatch: number, progress: (done: number, total: number, what: string) => void): string {
  const { model, cluster, nodeCluster, options, memory } = setup;
  const gpus = totalGpus(cluster);
  let probes = 0;
  const probeOptions = { ...options, globalBatch, onProbe: () => progress(++probes, 0, `no plan fits; looking for the memory or GPUs that would (${probes} probes)`) };
  const found = smallestFittingMemoryGiB(model, cluster, probeOptions);
  const more = smallestFittingGpus(model, cluster, probeOptions, nodeCluster);
  const budget = memory.requestedGiB;
  const head = `no plan fits ${gpus} × ${num(budget, Number.isInteger(budget) ? 0 : 1)} GiB (${num(memory.margin * 100)} % kept free, ${num(memory.reserveGiB, 1)} GiB runtime reserve)`;
  if (found) {
    const deviceGiB = found.memoryGiB / (1 - memory.margin);
    return `${head}; the smallest that fits needs ${num(Math.ceil(deviceGiB * 10) / 10, 1)} GiB per GPU${more ? ` (or ${num(more.gpus)} GPUs)` : ''}`;
  }
  if (more) return `${head}; more memory per GPU does not help, but ${num(more.gpus)} GPUs would fit`;
  return `${head}, nor with more memory per GPU or up to ${num(gpus * MAX_GPU_FACTOR)} GPUs; check the global batch`;
}

function search(id: number, inputs: Inputs): void {
  const started = performance.now();
  const errors: FieldError[] = [];
  const attempt = <T>(body: () => T): T | undefined => {
    try {
      return body();
    } catch (error) {
      errors.push(fieldError(error, inputs.clusterEdits));
      return undefined;
    }
  };
  // Each input checked on its own, so every bad field gets its message at once.
  const model = attempt(() => modelOf(inputs));
  const nodeCluster = attempt(() => nodeClusterOf(inputs));
  const cluster = nodeCluster && attempt(() => scaleCluster(nodeCluster, numberOf('gpus', inputs.gpus, true, true)!));
  if (!nodeCluster && !Object.hasOwn(inputs.clusterEdits, 'gpusPerNode')) {
    // A bad figure of the cluster leaves its node size as the preset's: the GPU count is still checked against it.
    let preset: ClusterSpec | undefined;
    try {
      preset = nodeClusterOf({ ...inputs, clusterEdits: {} });
    } catch {
      preset = undefined;
    }
    if (preset) attempt(() => scaleCluster(preset, numberOf('gpus', inputs.gpus, true, true)!));
  }
  // The budget needs only the GPU, so it is checked even when the GPU count is refused.
  const memory = nodeCluster && attempt((): MemoryBudget => memoryBudgetFor({ ...optional('memoryGiB', numberOf('memoryGiB', inputs.memoryGiB, false, false)) }, cluster ?? nodeCluster));
  const globalBatch = attempt(() => numberOf('globalBatch', inputs.globalBatch, true, true)!);
  if (errors.length > 0 || !model || !nodeCluster || !cluster || !memory || globalBatch === undefined) {
    post({ id, kind: 'error', errors });
    return;
  }
  const command = planCommand(inputs);
  const rules = defaultRules();
  const setup: SearchSetup = {
    model,
    cluster,
    nodeCluster,
    rules,
    workers: 1,
    memory,
    options: searchOptionsFor({ rules, maxVirtualStages: DEFAULT_MAX_VPP, partition: 'exact', frontierLimit: DEFAULT_FRONTIER_LIMIT, memory, command }),
  };
  const progress = progressPoster(id);
  const result = searchPlan(model, cluster, { ...setup.options, globalBatch, onProgress: (done, total) => progress(done, total, 'searching') });
  if (!result.best || !result.plan) {
    post({ id, kind: 'error', errors: [{ input: 'memoryGiB', field: 'memoryGiB', message: nothingFitsLine(setup, globalBatch, progress) }], nothingFits: true });
    return;
  }
  const searchMs = performance.now() - started;
  progress(1, 1, 'pricing the baselines');
  const baselines = baselinesFor(setup, globalBatch, result);
  const { best, plan, evenPartition } = reportedPlan(setup, result.best, result.plan, result.exact, baselines);
  const vs = speedupOverBestBaseline(best.cost, baselines);
  const view = viewOf(
    plan,
    best.cost,
    {
      source: 'search',
      command,
      baselines: baselines.map(baselineView),
      speedup: vs ? { family: vs.baseline.family, label: vs.baseline.label, speedup: vs.speedup } : null,
      search: { exact: result.exact, tasks: result.tasks, elapsedMs: searchMs, uniform: result.uniform, evenPartition },
      notes: [],
    },
    started,
  );
  post({ id, kind: 'result', view });
}

const optional = <K extends string>(key: K, value: number | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, number>));

/** Refusals that only say the executor cannot run the plan (it can still be viewed and priced). */
const executorOnly = (e: UserInputError) => e.field === 'plan.model.family' || e.field.endsWith('.cp') || (e.field === 'plan.model.positional' && /ALiBi/.test(e.message));

function open(id: number, text: string, fileName: string): void {
  const started = performance.now();
  const notes: string[] = [];
  let plan: Plan;
  let cost: PlanCost;
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new UserInputError('plan', `${fileName} is not JSON (${(error as Error).message}); open a file written by \`galvatron plan -o\``);
    }
    plan = parsePlan(raw);
    try {
      validatePlanForExecutor(plan);
    } catch (error) {
      if (!(error instanceof UserInputError && executorOnly(error))) throw error;
      notes.push(`galvatron train would refuse this plan: ${error.message}`);
    }
    // Priced against the budget it was searched under, with its runtime reserve, as `galvatron explain` does.
    const input = planInputFromPlan(plan, { ...loadCostConstants(), ...optional('fixedMemoryGiB', plan.predicted.memoryReserveGiB) });
    cost = pricePlan({ ...input, cluster: { ...input.cluster, gpu: { ...input.cluster.gpu, memoryGiB: plan.predicted.memoryBudgetGiB } } });
  } catch (error) {
    const e = fieldError(error);
    post({ id, kind: 'error', errors: [{ ...e, input: 'planFile' }] });
    return;
  }
  const progress = progressPoster(id);
  progress(0, 1, 'pricing the baselines');
  let baselines: BaselineResult[] = [];
  try {
    const memory = memoryBudgetFor({ memoryGiB: plan.predicted.memoryBudgetGiB, margin: 0, ...optional('reserveGiB', plan.predicted.memoryReserveGiB) }, plan.cluster);
    const rules = defaultRules();
    const t = plan.training;
    const setup: SearchSetup = {
      model: plan.model,
      cluster: plan.cluster,
      nodeCluster: plan.cluster,
      rules,
      workers: 1,
      memory,
      options: searchOptionsFor({
        rules,
        maxVirtualStages: DEFAULT_MAX_VPP,
        partition: 'exact',
        frontierLimit: DEFAULT_FRONTIER_LIMIT,
        precision: t.precision,
        attention: t.attention,
        fp32MainGrads: t.fp32MainGrads,
        tpOverlap: t.tpOverlap,
        memory,
        command: plan.source.command,
      }),
    };
    baselines = baselinesFor(setup, t.globalBatch);
  } catch (error) {
    notes.push(`baselines not priced: ${fieldError(error).message}`);
  }
  const vs = speedupOverBestBaseline(cost, baselines);
  try {
    const view = viewOf(
      plan,
      cost,
      { source: 'file', fileName, command: plan.source.command, baselines: baselines.map(baselineView), speedup: vs ? { family: vs.baseline.family, label: vs.baseline.label, speedup: vs.speedup } : null, notes },
      started,
    );
    post({ id, kind: 'result', view });
  } catch (error) {
    post({ id, kind: 'error', errors: [{ ...fieldError(error), input: 'planFile' }] });
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  try {
    if (request.kind === 'search') search(request.id, request.inputs);
    else open(request.id, request.text, request.fileName);
  } catch (error) {
    // A bug in the library or here: said on the page, never a dead worker.
    post({ id: request.id, kind: 'error', errors: [fieldError(error, request.kind === 'search' ? request.inputs.clusterEdits : undefined)] });
  }
};
