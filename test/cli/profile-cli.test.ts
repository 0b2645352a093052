// `galvatron profile` end to end on 2 CPU ranks (--quick, tiny GPT): the file it writes is a valid
// galvatron.profile/v2 that `plan`, `estimate` and `baselines` take, and their outputs name the profiled
// terms. Also: malformed and conflicting --profile files exit 2 naming the field or both files, and an
// element of `galvatron clusters --json` loads as --cluster.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProfileV2Schema, type Profile } from '../../src/profile/schema.js';
import { pythonEnvReady } from '../../src/runtime/python-env.js';
import { runCli, type Run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-profile-cli-'));
const TINY = fileURLToPath(new URL('../../../examples/tiny-gpt.json', import.meta.url));
const galvatron = (...args: string[]): Promise<Run> => runCli(args, dir);
const writeJson = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
};

describe('galvatron profile on 2 CPU ranks', () => {
  const path = join(dir, 'tiny-profile.json');
  let run: Run;
  let wallS = 0;
  // A stuck rank fails the suite instead of hanging it.
  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    const started = performance.now();
    run = await galvatron('profile', '--model', TINY, '--device', 'cpu', '--ranks', '2', '--quick', '-o', path, '--json');
    wallS = (performance.now() - started) / 1000;
  }, { timeout: 120_000 });

  it('writes a galvatron.profile/v2 file naming the machine, with every variant, collective and λ', () => {
    assert.equal(run.code, 0, run.stderr);
    assert.ok(wallS < 60, `--quick took ${wallS.toFixed(1)} s`);
    assert.ok(existsSync(path));
    const file = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const parsed = ProfileV2Schema.safeParse(file);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues[0]));
    const profile: Profile = parsed.data;
    // --json prints the same profile.
    assert.deepEqual(JSON.parse(run.stdout), file);
    assert.equal(profile.machine?.ranks, 2);
    assert.equal(profile.machine?.device, 'cpu');
    assert.equal(profile.machine?.backend, 'gloo');
    assert.ok(profile.machine?.hostname && profile.machine.torchVersion.startsWith('2.') && !Number.isNaN(Date.parse(profile.machine.date)));
    const variants = profile.layerTypes['decoder']!.variants;
    const keys = variants.map((v) => `${v.tp}${v.sequenceParallel ? 's' : ''}${v.recompute[0]}`).sort();
    assert.deepEqual(keys, ['1f', '1n', '1s', '2f', '2n', '2s', '2sn']);
    for (const v of variants) {
      assert.deepEqual(v.points.map((p) => p.microBatch), [1, 2, 4, 8]);
      assert.ok(v.memory && v.memory.modelStateBytes > 0 && v.memory.activationBytesPerSample > 0);
    }
    // Full recompute keeps only the layer input: a fraction of what no recompute keeps.
    const act = (tp: number, recompute: string) => variants.find((v) => v.tp === tp && !v.sequenceParallel && v.recompute === recompute)!.memory!.activationBytesPerSample;
    assert.ok(act(1, 'full') < act(1, 'none') / 4, `${act(1, 'full')} vs ${act(1, 'none')}`);
    assert.equal(profile.embedding?.variants.length, 3);
    assert.equal(profile.head?.variants.length, 3);
    assert.deepEqual(profile.collectives.map((c) => c.kind).sort(), ['all-gather', 'all-reduce', 'all-to-all', 'p2p', 'reduce-scatter']);
    for (const c of profile.collectives) {
      assert.equal(c.groupSize, 2);
      assert.deepEqual(c.points.map((p) => p.bytes), [1024, 16384, 262144, 4194304]);
      assert.ok(c.busBandwidthGBps > 0 && c.alphaUs >= 0);
    }
    assert.ok(profile.intraNode && profile.intraNode.busBandwidthGBps > 0 && profile.intraNode.p2pGBps! > 0);
    assert.ok(profile.overlapSlowdown! >= 1 && profile.overlapSlowdown! <= 3 && profile.overlap);
  });

  it('plan, estimate and baselines take it, and name the profiled terms', async () => {
    assert.equal(run.code, 0, run.stderr);
    const common = ['--model', TINY, '--cluster', 'dgx-a100-80g', '--gpus', '2', '--global-batch', '8', '--profile', path];
    const [plan, human, estimate, baselines] = await Promise.all([
      galvatron('plan', ...common, '--json'),
      galvatron('plan', ...common),
      galvatron('estimate', ...common, '--micro-batch', '4', '--tp', '2', '--json'),
      galvatron('baselines', ...common, '--json'),
    ]);
    for (const r of [plan, human, estimate, baselines]) assert.equal(r.code, 0, r.stderr);
    const planJson = JSON.parse(plan.stdout) as { source: Record<string, string>; profileNotes: string[]; plan: { predicted: { breakdown: Record<string, number> } } };
    assert.equal(planJson.source['forward.compute-profiled'], 'profiled');
    assert.equal(planJson.source['backward.compute-profiled'], 'profiled');
    assert.deepEqual(Object.keys(planJson.source).sort(), Object.keys(planJson.plan.predicted.breakdown).sort());
    assert.ok(planJson.profileNotes.some((n) => n.startsWith('the profile was measured in fp32')), planJson.profileNotes.join('\n'));
    assert.match(human.stdout, /forward\.compute-profiled\s*│\s*[\d.,]+\s*│\s*profiled/);
    const report = JSON.parse(estimate.stdout) as { breakdown: Record<string, number>; source: Record<string, string> };
    // tp2 was measured: layers, embedding and head hold their TP communication, none priced apart.
    assert.equal(report.source['forward.compute-profiled'], 'profiled');
    assert.equal(report.breakdown['forward.tp-comm'], undefined);
    const rows = JSON.parse(baselines.stdout) as { family: string; iterationTimeS: number | null }[];
    assert.equal(rows[0]!.family, 'galvatron-ts');
    assert.ok(rows[0]!.iterationTimeS! > 0);
  });
});

describe('--profile and --cluster files', () => {
  const ESTIMATE = ['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--global-batch', '8'];

  it('a malformed profile exits 2 with one line naming the field and the file', async () => {
    const bad = writeJson('bad.json', {
      format: 'galvatron.profile/v2',
      layerTypes: { decoder: { seqLen: 2048, variants: [{ tp: 1, points: [{ microBatch: 2, forwardS: 0.01, backwardS: 0.02 }, { microBatch: 1, forwardS: 0.01, backwardS: 0.02 }], fit: { forward: { fixedS: 0, perSampleS: 0.01 }, backward: { fixedS: 0, perSampleS: 0.02 } } }] } },
    });
    const run = await galvatron(...ESTIMATE, '--profile', bad);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^galvatron: profile\.layerTypes\.decoder\.variants\[0\]\.points\[1\]\.microBatch: points must be in ascending micro-batch order, each size once \(in ".*bad\.json"\)/);
    const noFit = await galvatron('plan', '--model', 'gpt3-1.3b', '--profile', writeJson('nofit.json', { format: 'galvatron.profile/v2', collectives: [{ kind: 'all-reduce', groupSize: 2, alphaUs: 1 }] }));
    assert.equal(noFit.code, 2);
    assert.match(noFit.stderr, /^galvatron: profile\.collectives\[0\]\.busBandwidthGBps: missing; add this field/);
  });

  it('two --profile files that disagree exit 2 naming both', async () => {
    const a = writeJson('hw-a.json', { format: 'galvatron.profile/v2', overlapSlowdown: 1.2 });
    const b = writeJson('hw-b.json', { format: 'galvatron.profile/v2', overlapSlowdown: 1.25 });
    const run = await galvatron(...ESTIMATE, '--profile', a, '--profile', b);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trimEnd(), `galvatron: --profile: overlapSlowdown is 1.2 in "${a}" but 1.25 in "${b}"; give each measurement in one file only`);
  });

  it('an element of `clusters --json` loads as --cluster', async () => {
    const list = await galvatron('clusters', '--json');
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { id: string }[];
    const h100 = rows.find((r) => r.id === 'dgx-h100')!;
    const one = writeJson('h100.json', h100);
    const [fromFile, fromPreset, fromArray, many] = await Promise.all([
      galvatron(...ESTIMATE.slice(0, 3), '--cluster', one, '--global-batch', '8', '--json'),
      galvatron(...ESTIMATE.slice(0, 3), '--cluster', 'dgx-h100', '--global-batch', '8', '--json'),
      galvatron(...ESTIMATE.slice(0, 3), '--cluster', writeJson('one-of.json', [h100]), '--global-batch', '8', '--json'),
      galvatron(...ESTIMATE.slice(0, 3), '--cluster', writeJson('all.json', rows), '--global-batch', '8'),
    ]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromArray.code, 0, fromArray.stderr);
    const time = (r: Run) => (JSON.parse(r.stdout) as { iterationTimeS: number }).iterationTimeS;
    assert.equal(time(fromFile), time(fromPreset));
    assert.equal(time(fromArray), time(fromPreset));
    assert.equal(many.code, 2);
    assert.match(many.stderr, /^galvatron: --cluster: ".*all\.json" holds \d+ clusters \(dgx-a100-80g, .*\); give a file with one of them, or its preset id/);
  });
});
