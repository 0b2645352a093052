// The plan explorer: a form (model, cluster, GPUs, memory, batch, sequence), the search in a Web Worker
// (worker.ts: the library's own calls), and the plan drawn from what the worker returns. The inputs live
// in the URL's query string, so a view can be shared.
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { listModelPresets } from '../../src/model/presets.js';
import { CLUSTER_PRESETS } from '../../src/hardware/presets.js';
import { BaselineChart, MemoryChart, TimelineChart } from './charts.js';
import { CLUSTER_FIELDS, CUSTOM_MODEL, inputsFromQuery, inputsToQuery, presetClusterObject, valueAt, type Inputs } from './inputs.js';
import type { FieldError, PlanView, Request, RequestBody, Response } from './protocol.js';
import { PlanStrip } from './strip.js';
import './style.css';

const MODEL_PRESETS = listModelPresets();
const CLUSTER_IDS = Object.keys(CLUSTER_PRESETS);

const msText = (s: number) => (s * 1000).toLocaleString('en-US', { maximumFractionDigits: s < 1 ? 1 : 0 });
const fixed = (x: number, d: number) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The worker, restarted when a newer request arrives while it is busy (a search cannot be interrupted). */
class SearchWorker {
  private worker: Worker | undefined;
  private busy = false;
  private nextId = 1;
  constructor(private readonly onMessage: (message: Response) => void) {}
  private start(): Worker {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (event: MessageEvent<Response>) => {
      if (event.data.kind !== 'progress') this.busy = false;
      this.onMessage(event.data);
    };
    worker.onerror = (event) => {
      this.busy = false;
      this.onMessage({ id: this.nextId - 1, kind: 'error', errors: [{ input: '', field: '', message: `the search worker failed: ${event.message}` }] });
    };
    return worker;
  }
  send(request: RequestBody): number {
    if (this.busy && this.worker) {
      this.worker.terminate();
      this.worker = undefined;
    }
    this.worker ??= this.start();
    const id = this.nextId++;
    this.busy = true;
    this.worker.postMessage({ ...request, id } as Request);
    return id;
  }
}

function ErrorText({ errors, input }: { errors: FieldError[]; input: string }) {
  const mine = errors.filter((e) => e.input === input);
  if (mine.length === 0) return null;
  return (
    <div class="field-error" role="alert" data-error-for={input}>
      {mine.map((e) => (
        <div>{e.message}</div>
      ))}
    </div>
  );
}

function NumberField(props: { id: keyof Inputs; label: string; value: string; placeholder?: string; step?: string; errors: FieldError[]; onInput: (v: string) => void }) {
  const bad = props.errors.some((e) => e.input === props.id);
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        id={props.id}
        name={props.id}
        type="text"
        inputMode="decimal"
        value={props.value}
        placeholder={props.placeholder}
        aria-invalid={bad}
        class={bad ? 'bad' : ''}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      <ErrorText errors={props.errors} input={props.id} />
    </label>
  );
}

function download(fileName: string, content: string, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function Summary({ view }: { view: PlanView }) {
  const p = view.plan.predicted;
  const metric = (id: string, label: string, text: string, value: number) => (
    <div class="metric">
      <div class="metric-value" data-testid={id} data-value={String(value)}>
        {text}
      </div>
      <div class="metric-label">{label}</div>
    </div>
  );
  return (
    <section class="summary">
      <div class="metrics">
        {metric('iteration', 'ms per iteration', msText(p.iterationTimeS), p.iterationTimeS)}
        {metric('samples', 'samples/s', fixed(p.samplesPerS, 2), p.samplesPerS)}
        {metric('tokens', 'tokens/s per GPU', fixed(p.tokensPerSPerGpu, 0), p.tokensPerSPerGpu)}
        {metric('mfu', 'MFU', percent(p.mfu), p.mfu)}
        {metric('memory', `GiB per GPU of ${fixed(view.budgetGiB, 1)}`, fixed(p.memoryPerGpuGiB, 2), p.memoryPerGpuGiB)}
        {metric('stages', 'pipeline stages', String(view.plan.pipeline.degree), view.plan.pipeline.degree)}
      </div>
      <p class="muted" data-testid="pipeline-text">
        {view.plan.model.name} on {view.plan.cluster.gpusPerNode * view.plan.cluster.nodes} × {view.plan.cluster.gpu.name}: {view.pipelineText}; global batch {view.plan.training.globalBatch}, sequence{' '}
        {view.plan.training.seqLen}, {view.plan.training.precision}.
      </p>
      {view.speedup ? (
        <p data-testid="speedup">
          <b>{view.speedup.speedup >= 1.0005 ? `${fixed(view.speedup.speedup, 2)}× faster than` : view.speedup.speedup > 0.9995 ? 'As fast as' : `${fixed(view.speedup.speedup, 2)}× the speed of`}</b> the best fitting
          baseline, {view.speedup.label}.
        </p>
      ) : (
        <p data-testid="speedup">No baseline fits; this plan is the only one that does.</p>
      )}
      {view.search && (
        <p class="muted">
          {view.search.exact ? 'Proven optimal on the cost model within the search space' : 'Good but not proven optimal (a frontier was thinned)'}; {view.search.tasks} tasks in{' '}
          {fixed(view.search.elapsedMs / 1000, 2)} s{view.search.evenPartition ? '; the even partition beat the thinned search' : ''}. Same as <code>{view.command}</code>
        </p>
      )}
      {view.source === 'file' && (
        <p class="muted">
          Plan file <b>{view.fileName}</b>, written by <code>{view.command}</code>
        </p>
      )}
      {view.notes.map((n) => (
        <p class="note">{n}</p>
      ))}
    </section>
  );
}

function MemoryTable({ view }: { view: PlanView }) {
  return (
    <table class="numbers" data-testid="memory-table">
      <thead>
        <tr>
          <th>stage</th>
          <th>model states</th>
          <th>activations</th>
          <th>overheads</th>
          <th>total GiB</th>
          <th>of budget</th>
        </tr>
      </thead>
      <tbody>
        {view.stageMemory.map((s) => (
          <tr data-stage={s.stage} data-total={String(s.totalGiB)}>
            <td>{s.stage}</td>
            <td>{fixed(s.modelStatesGiB, 2)}</td>
            <td>{fixed(s.activationsGiB, 2)}</td>
            <td>{fixed(s.overheadsGiB, 2)}</td>
            <td>{fixed(s.totalGiB, 2)}</td>
            <td>{percent(s.totalGiB / view.budgetGiB)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BaselineTable({ view }: { view: PlanView }) {
  return (
    <table class="numbers" data-testid="baseline-table">
      <thead>
        <tr>
          <th>baseline</th>
          <th>configuration</th>
          <th>iteration ms</th>
          <th>GiB/GPU</th>
          <th>plan ×</th>
        </tr>
      </thead>
      <tbody>
        {view.baselines.map((b) => (
          <tr data-family={b.family} data-iteration={b.iterationS === null ? '' : String(b.iterationS)} class={b.fits ? '' : 'unfit'}>
            <td>{b.label}</td>
            <td class="left">{b.configuration}</td>
            <td>{b.iterationS === null ? (b.fits ? '—' : 'does not fit') : msText(b.iterationS)}</td>
            <td>{b.memoryPerGpuGiB === null ? '—' : fixed(b.memoryPerGpuGiB, 1)}</td>
            <td>{b.iterationS === null ? '—' : `${fixed(b.iterationS / view.plan.predicted.iterationTimeS, 2)}×`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Explanation({ view }: { view: PlanView }) {
  const e = view.explanation;
  const gibOf = (bytes: number) => fixed(bytes / 1024 ** 3, 2);
  return (
    <div class="explain" data-testid="explanation">
      <h3>What binds each stage</h3>
      <table class="numbers">
        <thead>
          <tr>
            <th>stage</th>
            <th>memory GiB</th>
            <th>of budget</th>
            <th>binds</th>
            <th class="left">why</th>
          </tr>
        </thead>
        <tbody>
          {e.stages.map((s) => (
            <tr data-binding={s.binding}>
              <td>{s.stage}</td>
              <td>{gibOf(s.memoryBytes)}</td>
              <td>{percent(s.memoryBytes / s.budgetBytes)}</td>
              <td>{s.binding}</td>
              <td class="left">
                {s.blockedBy
                  ? `${s.blockedBy.name}: ${msText(s.blockedBy.iterationS)} ms, but ${gibOf(s.blockedBy.memoryPerGpuBytes)} GiB does not fit`
                  : 'nothing faster for this stage without recompute or ZeRO'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Nearest alternatives</h3>
      <table class="numbers">
        <thead>
          <tr>
            <th class="left">the plan changed in one way</th>
            <th>iteration ms</th>
            <th>vs this plan</th>
            <th>memory GiB</th>
            <th>fits</th>
          </tr>
        </thead>
        <tbody>
          {e.alternatives.map((a) => (
            <tr class={a.fits ? '' : 'unfit'}>
              <td class="left">{a.name}</td>
              <td>{msText(a.iterationS)}</td>
              <td>
                {a.iterationS >= e.plan.iterationS ? '+' : ''}
                {percent(a.iterationS / e.plan.iterationS - 1)}
              </td>
              <td>{gibOf(a.memoryPerGpuBytes)}</td>
              <td>{a.fits ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Where the iteration goes</h3>
      <div class="shares">
        {e.shares.map((s) => (
          <div class="share" style={{ flexGrow: Math.max(s.share, 0.001) }} title={`${s.kind}: ${msText(s.seconds)} ms (${percent(s.share)})`}>
            <span>
              {s.kind} {percent(s.share)}
            </span>
          </div>
        ))}
      </div>
    </div>
  );
}

function Downloads({ view }: { view: PlanView }) {
  return (
    <div class="downloads" data-testid="downloads">
      <button type="button" data-download="plan" onClick={() => download('plan.json', `${JSON.stringify(view.plan, null, 2)}\n`, 'application/json')}>
        plan.json
      </button>
      {view.exports.map((x) =>
        x.error ? (
          <span class="note" title={x.error}>
            {x.target}: {x.error}
          </span>
        ) : (
          <button type="button" data-download={x.target} title={x.differences.length ? x.differences.join('\n') : 'exact'} onClick={() => download(x.fileName, x.content)}>
            {x.target}: {x.fileName}
            {x.differences.length > 0 ? ` (${x.differences.length} difference${x.differences.length > 1 ? 's' : ''})` : ' (exact)'}
          </button>
        ),
      )}
    </div>
  );
}

function App() {
  const [inputs, setInputs] = useState<Inputs>(() => inputsFromQuery(location.search || location.hash));
  const current = useRef(inputs);
  const [view, setView] = useState<PlanView | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [progress, setProgress] = useState<{ done: number; total: number; what: string } | null>(null);
  const [busy, setBusy] = useState(true);
  /** The query string of the inputs behind what is on screen (the view or the errors). */
  const [doneQuery, setDoneQuery] = useState<string | null>(null);
  const pending = useRef({ id: 0, query: '' });
  const changedAt = useRef(performance.now());
  const [lastMs, setLastMs] = useState<number | null>(null);

  const onMessage = useCallback((m: Response) => {
    if (m.id !== pending.current.id) return;
    if (m.kind === 'progress') {
      setProgress({ done: m.done, total: m.total, what: m.what });
      return;
    }
    setBusy(false);
    setProgress(null);
    setDoneQuery(pending.current.query);
    if (m.kind === 'error') {
      setErrors(m.errors);
      return;
    }
    setErrors([]);
    setView(m.view);
    // Time from the change to the view on screen: after the next frame is painted.
    requestAnimationFrame(() => setTimeout(() => setLastMs(performance.now() - changedAt.current), 0));
  }, []);
  const worker = useMemo(() => new SearchWorker((m) => onMessage(m)), [onMessage]);

  const run = useCallback(
    (next: Inputs) => {
      setBusy(true);
      setProgress({ done: 0, total: 0, what: 'starting' });
      pending.current = { id: worker.send({ kind: 'search', inputs: next }), query: inputsToQuery(next) };
    },
    [worker],
  );

  // Every change: the URL at once (shareable), then the search after a short pause in typing.
  const set = (patch: Partial<Inputs>) => {
    const next = { ...current.current, ...patch };
    current.current = next;
    history.replaceState(null, '', `${location.pathname}?${inputsToQuery(next)}`);
    changedAt.current = performance.now();
    setBusy(true);
    setInputs(next);
  };
  useEffect(() => {
    if (location.search.slice(1) !== inputsToQuery(inputs)) history.replaceState(null, '', `${location.pathname}?${inputsToQuery(inputs)}`);
    const timer = setTimeout(() => run(inputs), 120);
    return () => clearTimeout(timer);
  }, [inputs, run]);

  const clusterPreset = useMemo(() => presetClusterObject(inputs.cluster), [inputs.cluster]);

  const openFile = async (file: File | undefined) => {
    if (!file) return;
    changedAt.current = performance.now();
    setBusy(true);
    const text = await file.text();
    pending.current = { id: worker.send({ kind: 'open', text, fileName: file.name }), query: location.search.slice(1) };
  };

  const status = busy ? 'busy' : errors.length > 0 ? 'error' : view ? 'ready' : 'idle';
  return (
    <div class="app" data-status={status} data-done-query={doneQuery ?? ''} data-last-ms={lastMs === null ? '' : lastMs.toFixed(1)} data-worker-ms={view ? view.workerMs.toFixed(1) : ''}>
      <header>
        <h1>Galvatron-TS plan explorer</h1>
        <div class="status" data-testid="status">
          {busy && progress ? (
            <>
              <progress value={progress.total > 0 ? progress.done : undefined} max={progress.total > 0 ? progress.total : undefined} />
              <span>
                {progress.what}
                {progress.total > 0 ? ` ${progress.done}/${progress.total} tasks` : '…'}
              </span>
            </>
          ) : lastMs !== null ? (
            <span class="muted">updated in {fixed(lastMs / 1000, 2)} s</span>
          ) : null}
        </div>
      </header>
      <main>
        <form class="inputs" onSubmit={(e) => (e.preventDefault(), run(inputs))}>
          <h2>Model</h2>
          <label class="field">
            <span>preset</span>
            <select id="model" value={inputs.model} onChange={(e) => set({ model: (e.target as HTMLSelectElement).value })}>
              {MODEL_PRESETS.map((m) => (
                <option value={m.id}>
                  {m.name} ({m.id})
                </option>
              ))}
              <option value={CUSTOM_MODEL}>paste a ModelSpec or HF config.json…</option>
            </select>
          </label>
          {inputs.model === CUSTOM_MODEL && (
            <label class="field">
              <span>ModelSpec or HuggingFace config.json</span>
              <textarea
                id="modelJson"
                rows={8}
                spellcheck={false}
                value={inputs.modelJson}
                class={errors.some((e) => e.input === 'model') ? 'bad' : ''}
                placeholder='{"model_type": "llama", "hidden_size": 4096, …}'
                onInput={(e) => set({ modelJson: (e.target as HTMLTextAreaElement).value })}
              />
            </label>
          )}
          <ErrorText errors={errors} input="model" />
          <NumberField id="seqLen" label="sequence length" placeholder="the model's own" value={inputs.seqLen} errors={errors} onInput={(v) => set({ seqLen: v })} />

          <h2>Cluster</h2>
          <label class="field">
            <span>preset</span>
            <select id="cluster" value={inputs.cluster} onChange={(e) => set({ cluster: (e.target as HTMLSelectElement).value, clusterEdits: {} })}>
              {CLUSTER_IDS.map((id) => (
                <option value={id}>
                  {CLUSTER_PRESETS[id]!.name} ({id})
                </option>
              ))}
            </select>
          </label>
          <ErrorText errors={errors} input="cluster" />
          <details class="figures" open={Object.keys(inputs.clusterEdits).length > 0}>
            <summary>edit its figures{Object.keys(inputs.clusterEdits).length > 0 ? ` (${Object.keys(inputs.clusterEdits).length} changed)` : ''}</summary>
            {CLUSTER_FIELDS.map((f) => {
              const key = `cluster.${f.path}`;
              const edited = Object.hasOwn(inputs.clusterEdits, f.path);
              const value = edited ? inputs.clusterEdits[f.path]! : String(valueAt(clusterPreset, f.path) ?? '');
              const bad = errors.some((e) => e.input === key);
              return (
                <label class={`field small${edited ? ' edited' : ''}`}>
                  <span>{f.label}</span>
                  <input
                    id={key}
                    type="text"
                    inputMode="decimal"
                    value={value}
                    class={bad ? 'bad' : ''}
                    onInput={(e) => set({ clusterEdits: { ...inputs.clusterEdits, [f.path]: (e.target as HTMLInputElement).value } })}
                  />
                  <ErrorText errors={errors} input={key} />
                </label>
              );
            })}
            {Object.keys(inputs.clusterEdits).length > 0 && (
              <button type="button" onClick={() => set({ clusterEdits: {} })}>
                back to the preset's figures
              </button>
            )}
          </details>

          <h2>Training</h2>
          <NumberField id="gpus" label="GPUs" value={inputs.gpus} errors={errors} onInput={(v) => set({ gpus: v })} />
          <NumberField
            id="memoryGiB"
            label="memory per GPU, GiB"
            placeholder={clusterPreset ? `the GPU's ${String(valueAt(clusterPreset, 'gpu.memoryGiB'))}` : ''}
            value={inputs.memoryGiB}
            errors={errors}
            onInput={(v) => set({ memoryGiB: v })}
          />
          <NumberField id="globalBatch" label="global batch (samples)" value={inputs.globalBatch} errors={errors} onInput={(v) => set({ globalBatch: v })} />
          <button type="submit" id="run" disabled={busy}>
            {busy ? 'searching…' : 'search again'}
          </button>

          <h2>Plan file</h2>
          <label class="field">
            <span>open a galvatron.plan/v1 JSON file</span>
            <input id="planFile" type="file" accept=".json,application/json" onChange={(e) => void openFile((e.target as HTMLInputElement).files?.[0])} />
          </label>
          <ErrorText errors={errors} input="planFile" />
          <ErrorText errors={errors} input="" />
        </form>

        <div class={`results${errors.length > 0 || busy ? ' stale' : ''}`}>
          {view ? (
            <>
              {errors.length > 0 && !busy && <p class="stale-note">This is the last plan found; the inputs marked on the left have no plan yet.</p>}
              <Summary view={view} />
              <section>
                <h2>Plan per layer</h2>
                <PlanStrip view={view} />
              </section>
              <section>
                <h2>Memory per GPU, by stage</h2>
                <MemoryChart view={view} />
                <MemoryTable view={view} />
              </section>
              <section>
                <h2>
                  Pipeline timeline <span class="muted">(simulated: {msText(view.timeline.iterationS)} ms; closed form {msText(view.timeline.analyticIterationS)} ms)</span>
                </h2>
                <TimelineChart view={view} />
              </section>
              <section>
                <h2>Against the baselines</h2>
                <BaselineChart view={view} />
                <BaselineTable view={view} />
              </section>
              <section>
                <h2>Why this plan</h2>
                <Explanation view={view} />
              </section>
              <section>
                <h2>Download</h2>
                <Downloads view={view} />
              </section>
            </>
          ) : (
            <p class="muted">{busy ? 'Searching…' : errors.length > 0 ? 'Fix the inputs marked on the left.' : ''}</p>
          )}
        </div>
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
