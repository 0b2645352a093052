// The plan explorer in Debian's chromium (playwright-core): `galvatron ui` on a free port, the search in the
// page's worker, and every number the page draws compared with what the CLI prints for the same inputs
// (`galvatron plan --json`, `simulate --json`, `explain --json`, `export`). Screenshots go to docs/ui/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Plan } from '../../src/plan/schema.js';
import type { Explanation } from '../../src/plan/explain.js';
import type { Timeline } from '../../src/simulate/simulate.js';
import { runCli } from '../cli/helpers.js';
import { launchChromium, settled, startUi, type UiServer } from './browser.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-ui-'));
const SCREENSHOTS = fileURLToPath(new URL('../../../docs/ui/', import.meta.url));
const INPUTS = ['--model', 'llama2-7b', '--cluster', 'dgx-a100-40g', '--gpus', '8'];

interface PlanJson {
  plan: Plan;
  baselines: { family: string; label: string; iterationTimeS: number | null; fits: boolean }[];
  speedupOverBestBaseline: number | null;
}

async function galvatron(...args: string[]): Promise<string> {
  const run = await runCli(args, dir);
  assert.equal(run.code, 0, `galvatron ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** Equal to the CLI's figure: the page runs the same library code on the same inputs. */
function same(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: page ${actual}, CLI ${expected}`);
}

const num = async (page: Page, selector: string, attribute = 'data-value') => Number(await page.locator(selector).first().getAttribute(attribute));

/** The stage of each layer: chunk j runs on stage j mod p. */
const stagesOf = (plan: Plan) => plan.layers.map((_, l) => plan.pipeline.chunks.findIndex((c) => l >= c.start && l < c.end) % plan.pipeline.degree);

/** The page's plan against the CLI's: headline figures, the strip (every layer), memory bars, baselines. */
async function assertPageShows(page: Page, cli: PlanJson): Promise<void> {
  const p = cli.plan.predicted;
  same(await num(page, '[data-testid=iteration]'), p.iterationTimeS, 'iteration time');
  same(await num(page, '[data-testid=samples]'), p.samplesPerS, 'samples/s');
  same(await num(page, '[data-testid=mfu]'), p.mfu, 'MFU');
  same(await num(page, '[data-testid=memory]'), p.memoryPerGpuGiB, 'memory per GPU');
  assert.equal(await num(page, '[data-testid=stages]'), cli.plan.pipeline.degree, 'stage count');

  // The strip: one cell per layer and row, and each layer's strategy as the CLI's plan has it.
  const strip = page.locator('[data-testid=plan-strip]');
  assert.equal(Number(await strip.getAttribute('data-stages')), cli.plan.pipeline.degree);
  assert.equal(await strip.locator('[data-row=tp]').count(), cli.plan.layers.length);
  assert.equal(await strip.locator('[data-row=recompute]').count(), cli.plan.layers.length);
  assert.equal(await strip.locator('.cell.boundary[data-row=stage]').count(), cli.plan.pipeline.chunks.length - 1, 'a boundary before every chunk but the first');
  const layers = await page.locator('[data-testid=layer-list] li').evaluateAll((items) =>
    items.map((li) => {
      const d = (li as HTMLElement).dataset;
      return { stage: Number(d['stage']), tp: Number(d['tp']), sequenceParallel: d['sp'] === 'true', cp: Number(d['cp']), dp: Number(d['dp']), dpType: d['dpType'], recompute: d['recompute'], tpConsecutive: d['tpConsecutive'] === 'true' };
    }),
  );
  const stages = stagesOf(cli.plan);
  assert.deepEqual(
    layers,
    cli.plan.layers.map((s, l) => ({ stage: stages[l], tp: s.tp, sequenceParallel: s.sequenceParallel, cp: s.cp, dp: s.dp, dpType: s.dpType, recompute: s.recompute, tpConsecutive: s.tpConsecutive })),
  );

  // Memory per stage: the table's totals are the CLI's, and the chart draws one stacked bar per stage under the budget line.
  const totals = await page.locator('[data-testid=memory-table] tbody tr').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset['total'])));
  assert.equal(totals.length, p.stages.length);
  totals.forEach((t, i) => same(t, p.stages[i]!.memoryGiB, `stage ${i} memory`));
  const chart = page.locator('[data-testid=memory-chart]');
  same(Number(await chart.getAttribute('data-budget')), p.memoryBudgetGiB, 'memory budget');
  assert.equal(await chart.locator('svg path[fill="#5470c6"]').count(), p.stages.length + 1, 'a model-states bar per stage (and its legend mark)');
  assert.equal(await chart.locator('svg path[fill="#91cc75"]').count(), p.stages.length + 1, 'an activations bar per stage (and its legend mark)');
  assert.ok((await chart.locator('svg').textContent())!.includes(`budget ${p.memoryBudgetGiB.toFixed(2)} GiB`), 'the budget line is labelled');

  // Baselines: the same families, times and fits as the CLI's.
  const rows = await page.locator('[data-testid=baseline-table] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ family: (tr as HTMLElement).dataset['family'], iteration: (tr as HTMLElement).dataset['iteration'] })),
  );
  assert.deepEqual(rows.map((r) => r.family), cli.baselines.map((b) => b.family));
  rows.forEach((r, i) => {
    const expected = cli.baselines[i]!.iterationTimeS;
    if (expected === null) assert.equal(r.iteration, '', `${r.family} has no time`);
    else same(Number(r.iteration), expected, `${r.family} iteration time`);
  });
  assert.equal(await page.locator('[data-testid=baseline-chart] svg path[fill="#e15759"]').count(), 1, 'our bar drawn once');
}

/** The Gantt chart against `galvatron simulate plan.json --json`. */
async function assertTimeline(page: Page, timeline: Timeline): Promise<void> {
  const chart = page.locator('[data-testid=timeline-chart]');
  same(Number(await chart.getAttribute('data-iteration')), timeline.iterationS, 'simulated iteration');
  const passes = timeline.stages.reduce((n, s) => n + s.ops.length, 0);
  assert.equal(Number(await chart.getAttribute('data-passes')), passes, 'every forward and backward pass');
  // Every pass is a rectangle in the SVG (plus the sync and optimizer steps).
  const rects = await chart.locator('svg path').count();
  assert.ok(rects >= passes, `${rects} marks drawn for ${passes} passes`);
}

describe('galvatron ui in chromium', { concurrency: false, timeout: 600_000 }, () => {
  let browser: Browser;
  let server: UiServer;
  let page: Page;
  const pageErrors: string[] = [];
  let cli8: PlanJson;
  let cli24: PlanJson;
  let timeline8: Timeline;
  let explain8: Explanation;
  let gpus12: string;
  let megatron8: string;
  let cli13: PlanJson;
  let timeline13: Timeline;
  let nothingFits: string;
  const planPath = join(dir, 'plan.json');
  const plan13Path = join(dir, 'plan13.json');
  // A pipelined plan (LLaMA-2 13B on 16 A100 40GB with 16 GiB per GPU), and the same at 12 GiB, where nothing fits.
  const INPUTS_13B = ['--model', 'llama2-13b', '--cluster', 'dgx-a100-40g', '--gpus', '16', '--global-batch', '32'];
  const QUERY_13B = 'model=llama2-13b&cluster=dgx-a100-40g&gpus=16&batch=32';

  before(async () => {
    // The browser first: a missing chromium fails every test here, naming the fix (it is never skipped).
    browser = await launchChromium();
    // The CLI's answers for the same inputs.
    const [plan8, plan24, bad, plan13, none13] = await Promise.all([
      galvatron('plan', ...INPUTS, '--json', '-o', planPath),
      galvatron('plan', ...INPUTS, '--memory-gib', '24', '--json'),
      runCli(['plan', ...INPUTS.slice(0, 4), '--gpus', '12'], dir),
      galvatron('plan', ...INPUTS_13B, '--memory-gib', '16', '--json', '-o', plan13Path),
      runCli(['plan', ...INPUTS_13B, '--memory-gib', '12'], dir),
    ]);
    cli13 = JSON.parse(plan13) as PlanJson;
    assert.equal(none13.code, 3, 'nothing fits 12 GiB');
    nothingFits = none13.stderr.trim().replace(/^galvatron: /, '');
    cli8 = JSON.parse(plan8) as PlanJson;
    cli24 = JSON.parse(plan24) as PlanJson;
    assert.equal(bad.code, 2);
    gpus12 = bad.stderr.trim();
    const [sim, explain, sim13] = await Promise.all([galvatron('simulate', planPath, '--json'), galvatron('explain', planPath, '--json'), galvatron('simulate', plan13Path, '--json')]);
    timeline8 = JSON.parse(sim) as Timeline;
    timeline13 = JSON.parse(sim13) as Timeline;
    explain8 = JSON.parse(explain) as Explanation;
    server = await startUi();
    page = await browser.newPage({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('LLaMA-2 7B on 8 GPUs of dgx-a100-40g: the strip, memory bars, timeline, baselines and explanation are the CLI\'s', async () => {
    await page.goto(server.url);
    assert.equal(await settled(page), 'ready', 'the default inputs give a plan');
    await page.selectOption('#model', 'llama2-7b');
    await page.selectOption('#cluster', 'dgx-a100-40g');
    await page.fill('#gpus', '8');
    assert.equal(await settled(page), 'ready');
    assert.match(page.url(), /model=llama2-7b/);
    assert.match(page.url(), /cluster=dgx-a100-40g/);
    await assertPageShows(page, cli8);
    await assertTimeline(page, timeline8);
    // The explanation: one binding per stage, as `galvatron explain` says, and the same alternatives.
    const bindings = await page.locator('[data-testid=explanation] tr[data-binding]').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset['binding']));
    assert.deepEqual(bindings, explain8.stages.map((s) => s.binding));
    const alternatives = await page.locator('[data-testid=explanation] table').nth(1).locator('tbody tr td:first-child').allTextContents();
    assert.deepEqual(alternatives, explain8.alternatives.map((a) => a.name));
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, 'llama2-7b-8x-a100-40g.png'), fullPage: true });
  });

  it('downloads the plan and its exports: the plan is the CLI\'s, the Megatron-LM export is `galvatron export`\'s', async () => {
    const [planDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=plan]')]);
    const downloaded = join(dir, 'downloaded.json');
    await planDownload.saveAs(downloaded);
    const plan = JSON.parse(readFileSync(downloaded, 'utf8')) as Plan;
    assert.deepEqual({ ...plan, source: null, predicted: null }, { ...cli8.plan, source: null, predicted: null }, 'the same plan, but for the command that wrote it');
    same(plan.predicted.iterationTimeS, cli8.plan.predicted.iterationTimeS, 'the downloaded plan\'s iteration time');
    assert.match(plan.source.command, /^galvatron plan --model llama2-7b --cluster dgx-a100-40g --gpus 8 --global-batch 64$/);
    megatron8 = await galvatron('export', downloaded, '--to', 'megatron');
    const [megatron] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=megatron]')]);
    const saved = join(dir, 'megatron.sh');
    await megatron.saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), megatron8);
    assert.equal(await page.locator('[data-testid=downloads] button').count(), 5, 'the plan and four exports');
  });

  it('a smaller memory budget changes the plan, to the CLI\'s plan for --memory-gib 24; the URL reopens that view', async () => {
    const before8 = await page.locator('[data-testid=layer-list]').innerHTML();
    await page.fill('#memoryGiB', '24');
    assert.equal(await settled(page), 'ready');
    assert.match(page.url(), /mem=24/);
    await assertPageShows(page, cli24);
    assert.notEqual(await page.locator('[data-testid=layer-list]').innerHTML(), before8, 'the layer strategies changed');
    assert.ok(cli24.plan.predicted.iterationTimeS > cli8.plan.predicted.iterationTimeS, 'less memory, a slower plan');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, 'llama2-7b-8x-a100-40g-24gib.png'), fullPage: true });
    // A shared address shows the same view.
    const other = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await other.goto(page.url());
    assert.equal(await settled(other), 'ready');
    assert.equal(await other.inputValue('#memoryGiB'), '24');
    assert.equal(await other.inputValue('#cluster'), 'dgx-a100-40g');
    same(await num(other, '[data-testid=iteration]'), cli24.plan.predicted.iterationTimeS, 'iteration time from the shared URL');
    await other.close();
  });

  it('opens a plan file and shows it as the CLI priced it', async () => {
    await page.setInputFiles('#planFile', planPath);
    assert.equal(await settled(page), 'ready');
    assert.equal(await page.locator('.summary').getByText('Plan file').count(), 1);
    await assertPageShows(page, cli8);
    await assertTimeline(page, timeline8);
  });

  it('a pipelined plan from a shared URL: stage boundaries in the strip, a row per stage in the timeline; and when nothing fits, the CLI\'s line', async () => {
    const other = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    other.on('pageerror', (e) => pageErrors.push(e.message));
    await other.goto(`${server.url}?${QUERY_13B}&mem=16`);
    assert.equal(await settled(other), 'ready');
    assert.ok(cli13.plan.pipeline.degree > 1, 'the CLI pipelines this case');
    await assertPageShows(other, cli13);
    await assertTimeline(other, timeline13);
    await other.evaluate(() => window.scrollTo(0, 0));
    await other.screenshot({ path: join(SCREENSHOTS, 'llama2-13b-16x-a100-40g-16gib.png'), fullPage: true });
    await other.fill('#memoryGiB', '12');
    assert.equal(await settled(other), 'error');
    assert.equal(await other.locator('[data-error-for="memoryGiB"]').textContent(), nothingFits);
    await other.close();
  });

  it('bad input shows the library\'s one-line message beside the field, and nothing crashes', async () => {
    const errorFor = (input: string) => page.locator(`[data-error-for="${input}"]`);
    // Impossible degrees: 12 GPUs do not make whole 8-GPU nodes. The message is the CLI's, with the page's name for the field.
    await page.fill('#gpus', '12');
    assert.equal(await settled(page), 'error');
    const cliDetail = gpus12.replace(/^galvatron: --gpus: /, '');
    assert.equal(await errorFor('gpus').textContent(), `GPUs: ${cliDetail}`);
    assert.equal(await page.locator('#gpus').getAttribute('aria-invalid'), 'true');
    // A field out of range: more memory per GPU than any GPU has (with the GPU count still impossible: both said).
    await page.fill('#memoryGiB', '5000');
    assert.equal(await settled(page), 'error');
    assert.equal(await errorFor('memoryGiB').textContent(), 'memory per GPU: 5000 is more than 1024 GiB, beyond any GPU; give a value up to 1024');
    assert.equal(await errorFor('gpus').textContent(), `GPUs: ${cliDetail}`);
    await page.fill('#memoryGiB', '24');
    await page.fill('#gpus', '8');
    assert.equal(await settled(page), 'ready');

    // Malformed JSON in the pasted model.
    await page.selectOption('#model', 'custom');
    await page.fill('#modelJson', '{"family": "llama", "layers": 32,');
    assert.equal(await settled(page), 'error');
    assert.match((await errorFor('model').textContent())!, /^model: invalid JSON \(.+\); fix the JSON$/);
    // A ModelSpec with heads that do not divide the hidden size.
    await page.fill('#modelJson', JSON.stringify({ name: 'odd', family: 'llama', layers: 4, hidden: 1000, heads: 16, vocab: 32000, seqLen: 2048, ffnType: 'swiglu', positional: 'rope', tiedEmbeddings: false }));
    assert.equal(await settled(page), 'error');
    assert.equal(await errorFor('model').textContent(), 'model.hidden: 1000 is not divisible by heads 16; pick hidden = heads × head size');
    // Every bad field at once, each with its own message: malformed JSON, impossible degrees, a figure out of range, a batch that is no number.
    await page.fill('#modelJson', '{"family": "llama", "layers": 32,');
    await page.fill('#gpus', '12');
    await page.click('.figures summary');
    await page.fill('[id="cluster.gpu.peakTflops"]', '-5');
    await page.fill('#globalBatch', 'lots');
    assert.equal(await settled(page), 'error');
    assert.match((await errorFor('model').textContent())!, /^model: invalid JSON/);
    assert.equal(await errorFor('gpus').textContent(), `GPUs: ${cliDetail}`);
    assert.equal(await errorFor('cluster.gpu.peakTflops').textContent(), 'cluster.gpu.peakTflops: gpu.peakTflops must be > 0');
    assert.equal(await errorFor('globalBatch').textContent(), 'global batch: must be a positive whole number, got "lots"');
    await page.setViewportSize({ width: 1360, height: 1240 });
    await page.evaluate(() => (window.scrollTo(0, 0), (document.querySelector('form.inputs')!.scrollTop = 0)));
    await page.screenshot({ path: join(SCREENSHOTS, 'bad-input.png') });
    await page.setViewportSize({ width: 1360, height: 900 });
    await page.selectOption('#model', 'llama2-7b');
    await page.fill('#gpus', '8');
    await page.fill('#globalBatch', '64');
    await page.click('text=back to the preset\'s figures');
    assert.equal(await settled(page), 'ready');

    // A plan file with impossible degrees, and one that is not JSON.
    const plan = JSON.parse(readFileSync(planPath, 'utf8')) as Plan;
    plan.layers[3] = { ...plan.layers[3]!, tp: 3 };
    await page.setInputFiles('#planFile', { name: 'impossible.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(plan)) });
    assert.equal(await settled(page), 'error');
    assert.match((await errorFor('planFile').textContent())!, /^plan\.layers\[3\]: tp·cp·dp = 3·1·\d+ = \d+, but every stage has 8 ranks/);
    await page.setInputFiles('#planFile', { name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('not json') });
    assert.equal(await settled(page), 'error');
    assert.match((await errorFor('planFile').textContent())!, /^plan: notes\.json is not JSON/);

    // The plan comes back (the 24 GiB budget is still set): the page and its worker survived every refusal.
    await page.click('#run');
    assert.equal(await settled(page), 'ready');
    await assertPageShows(page, cli24);
    assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
  });
});
