// Checkpoints that cannot be resumed wrongly (python/galvatron_runtime/checkpoint.py), on 2 CPU ranks:
// - the launcher SIGKILLed at seeded random moments and inside each phase of a save (held there by
//   GALVATRON_CHECKPOINT_FAULT=hang:...): no rank alive 2 s later, `latest` never names an incomplete
//   checkpoint, and a resume continues bit for bit (float64) from the last complete one or refuses cleanly;
// - every kind of damage to a checkpoint, and every way a run differs from the one that wrote it: every
//   rank exits 2, one stderr line in all naming the file or field, nothing loaded;
// - a full disk during a save (injected ENOSPC): every rank exits 1, one line, the previous checkpoint
//   still `latest` and resumable; a rank that never reaches the resume check: a named error, not a hang.
// Refusals are launched rank by rank (torchrun's own exit code is 1 whatever its ranks' were), the
// kills through torchrun, whose death must take its ranks along (PR_SET_PDEATHSIG, lifeline.py).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, openSync, readSync, writeSync, closeSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeEnv } from '../../src/runtime/launch.js';
import { pythonEnvReady, venvPython } from '../../src/runtime/python-env.js';
import { tinyPlan } from './plans.js';

const RANKS = 2;
const STEPS = 4;
const EVERY = 2;
const dir = mkdtempSync(join(tmpdir(), 'galvatron-ckpt-faults-'));
const planPath = join(dir, 'plan.json');
const otherPlanPath = join(dir, 'other-plan.json');
const widePlanPath = join(dir, 'wide-plan.json');
const trainArgs = (ckpt: string, plan = planPath): string[] => ['--plan', plan, '--device', 'cpu', '--dtype', 'float64', '--steps', String(STEPS), '--checkpoint-dir', ckpt];

interface Finished {
  codes: (number | null)[];
  stdout: string;
  stderr: string;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = { ...runtimeEnv('cpu') };
  delete base['GALVATRON_CHECKPOINT_FAULT'];
  return { ...base, ...extra };
}

const closed = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => child.on('close', (code) => resolve(code)));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Every rank started here (what torchrun does, minus torchrun), so that each rank's exit code is seen. */
async function launchRanks(world: number, args: string[], extraEnv: Record<string, string> = {}, onRankExit?: (rank: number, code: number | null, all: ChildProcess[]) => void): Promise<Finished & { rank0: string }> {
  const port = await freePort();
  let stderr = '';
  const stdouts: string[] = Array.from({ length: world }, () => '');
  const children = Array.from({ length: world }, (_, rank) => {
    const child = spawn(venvPython(), ['-m', 'galvatron_runtime.train', ...args], {
      env: env({ ...extraEnv, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(world), RANK: String(rank), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(world) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdouts[rank] += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    return child;
  });
  const codes = await Promise.all(
    children.map(async (child, rank) => {
      const code = await closed(child);
      onRankExit?.(rank, code, children);
      return code;
    }),
  );
  return { codes, stdout: stdouts.join(''), rank0: stdouts[0]!, stderr };
}

/** torchrun with the ranks of this test's plan; stdout() and stderr() so far, while it runs. */
interface Torchrun {
  child: ChildProcess;
  done: Promise<Finished>;
  /** Resolves with Date.now() of the ranks' first stdout line. */
  firstOutput: Promise<number>;
  stdout: () => string;
  stderr: () => string;
}

function torchrun(args: string[], extraEnv: Record<string, string> = {}): Torchrun {
  const all = ['-m', 'torch.distributed.run', '--standalone', '--nnodes', '1', '--nproc-per-node', String(RANKS), '-m', 'galvatron_runtime.train', ...args];
  const child = spawn(venvPython(), all, { env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markFirst: (ms: number) => void = () => undefined;
  const firstOutput = new Promise<number>((resolve) => (markFirst = resolve));
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    if (stdout === '') markFirst(Date.now());
    stdout += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = closed(child).then((code) => ({ codes: [code], stdout, stderr }));
  return { child, done, firstOutput, stdout: () => stdout, stderr: () => stderr };
}

/** Rank 0's losses by step. */
function losses(stdout: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { event?: string; rank?: number; step?: number; loss?: number };
    if (e.event === 'step' && e.rank === 0) out.set(e.step!, e.loss!);
  }
  return out;
}

/** Processes whose command line mentions `marker` (a run's own checkpoint directory). */
function alive(marker: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((l) => l.includes(marker));
}

function killAll(lines: string[]): void {
  for (const l of lines) {
    try {
      process.kill(Number(l.trim().split(/\s+/)[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Small seeded PRNG (mulberry32): the kill moments are the same on every run of the test. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const latestOf = (ckpt: string): string | null => (existsSync(join(ckpt, 'latest')) ? readFileSync(join(ckpt, 'latest'), 'utf8').trim() : null);
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.includes('error'));

describe('checkpoints that cannot be resumed wrongly (2 CPU ranks, gloo)', { timeout: 8 * 60 * 1000 }, () => {
  let reference: Map<number, number>;
  /** How long the reference run took from its first stdout line (its ranks are up) to its end. */
  let referenceMs: number;
  const good = join(dir, 'good');

  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
    writeFileSync(planPath, JSON.stringify(tinyPlan({ gpus: RANKS, dpType: 'zero2' })));
    writeFileSync(otherPlanPath, JSON.stringify(tinyPlan({ gpus: RANKS, tp: 2 })));
    writeFileSync(widePlanPath, JSON.stringify(tinyPlan({ gpus: 4, dpType: 'zero2' })));
    const started = torchrun([...trainArgs(good), '--checkpoint-every', String(EVERY)]);
    const up = await started.firstOutput;
    const run = await started.done;
    referenceMs = Date.now() - up;
    assert.equal(run.codes[0], 0, run.stderr);
    reference = losses(run.stdout);
    assert.deepEqual([...reference.keys()], [0, 1, 2, 3]);
    assert.equal(latestOf(good), 'step-00000004');
  });

  /** A resume of `ckpt` (ranks launched here): it continues bit for bit from `latest`, or, with no
   * checkpoint at all, every rank refuses with one line. */
  async function resumeContinuesOrRefuses(ckpt: string, label: string): Promise<void> {
    const latest = latestOf(ckpt);
    const run = await launchRanks(RANKS, [...trainArgs(ckpt), '--resume']);
    if (latest === null) {
      assert.deepEqual(run.codes, [2, 2], `${label}: ${run.stderr}`);
      assert.equal(errorLines(run.stderr).length, 1, `${label}: ${run.stderr}`);
      assert.match(run.stderr, /galvatron-runtime: error: --resume: no (complete )?checkpoint/, label);
      return;
    }
    assert.deepEqual(run.codes, [0, 0], `${label}: ${run.stderr}`);
    const from = Number(/^step-(\d{8})$/.exec(latest)![1]);
    const got = losses(run.rank0);
    assert.deepEqual([...got.keys()], [...reference.keys()].filter((k) => k >= from), `${label}: resumes at step ${from}`);
    for (const [step, loss] of got) assert.equal(loss, reference.get(step), `${label}: step ${step} after resume`);
  }

  /** SIGKILL of torchrun alone (not its process group): its ranks must be gone 2 s later. */
  async function killLauncher(run: Torchrun, ckpt: string, label: string): Promise<void> {
    run.child.kill('SIGKILL');
    await run.done;
    await sleep(2000);
    const left = alive(ckpt);
    killAll(left);
    assert.deepEqual(left, [], `${label}: ranks still alive 2 s after the launcher's SIGKILL`);
  }

  for (const point of ['shard', 'meta', 'rename', 'latest'] as const) {
    it(`SIGKILL of the launcher inside a save (${point}): latest still names step 2, the resume continues bit for bit`, async () => {
      const ckpt = join(dir, `kill-${point}`);
      // The shard point holds rank 1 mid-write while rank 0 waits; the others are rank 0's.
      const fault = `hang:${point}:${point === 'shard' ? 1 : 0}:4`;
      const run = torchrun([...trainArgs(ckpt), '--checkpoint-every', String(EVERY)], { GALVATRON_CHECKPOINT_FAULT: fault });
      for (let waited = 0; !run.stderr().includes(`hangs at ${point} of step-00000004`); waited += 100) {
        assert.ok(waited < 60_000, `never reached ${point}: ${run.stderr().slice(-2000)}`);
        await sleep(100);
      }
      await killLauncher(run, ckpt, point);
      assert.equal(latestOf(ckpt), 'step-00000002', 'latest names the last complete checkpoint');
      // What the interrupted save left: a temporary directory, or (after the rename) one `latest` never named.
      assert.ok(existsSync(join(ckpt, point === 'latest' ? 'step-00000004' : '.tmp-step-00000004')));
      await resumeContinuesOrRefuses(ckpt, point);
    });
  }

  it('SIGKILL of the launcher while its ranks start (importing torch): they die without writing anything', async () => {
    const ckpt = join(dir, 'kill-startup');
    const run = torchrun([...trainArgs(ckpt), '--checkpoint-every', String(EVERY)]);
    // The ranks' command lines, not torchrun's own: as soon as one exists, the launcher dies.
    const ranks = () => alive(ckpt).filter((l) => !l.includes('torch.distributed.run'));
    for (let waited = 0; ranks().length === 0; waited += 20) {
      assert.ok(waited < 60_000, 'the ranks never started');
      await sleep(20);
    }
    assert.ok(!run.stdout().includes('"event"'), 'killed before any rank reported');
    await killLauncher(run, ckpt, 'start-up');
    assert.ok(!existsSync(ckpt), 'nothing written');
  });

  it('SIGKILL of the launcher at seeded random moments: no rank survives; resume continues or refuses cleanly', async (t) => {
    const random = mulberry32(34); // 0.61, 0.82, 0.12 of the window: mid-run, near the end, early
    for (let i = 0; i < 3; i++) {
      // Between the ranks' first output and a little past the reference run's end: steps and saves.
      const at = Math.round(random() * referenceMs * 1.1);
      const label = `kill ${at} ms after the ranks' first output (reference run: ${referenceMs} ms more)`;
      const ckpt = join(dir, `kill-random-${i}`);
      const run = torchrun([...trainArgs(ckpt), '--checkpoint-every', String(EVERY)]);
      await Promise.race([run.firstOutput.then(() => sleep(at)), run.done]);
      await killLauncher(run, ckpt, label);
      const latest = latestOf(ckpt);
      if (latest !== null) assert.ok(existsSync(join(ckpt, latest, 'meta.json')), `${label}: latest names ${latest}, which is incomplete`);
      t.diagnostic(`${label}: latest ${latest ?? 'none'}, ${losses(run.stdout()).size} step(s) reported`);
      await resumeContinuesOrRefuses(ckpt, label);
    }
  });

  /** A copy of the good checkpoint, damaged by `damage`; the resume must refuse on every rank. */
  async function refused(name: string, damage: (ckpt: string) => void, args?: (ckpt: string) => string[], world = RANKS): Promise<string> {
    const ckpt = join(dir, `damaged-${name}`);
    cpSync(good, ckpt, { recursive: true });
    damage(ckpt);
    const run = await launchRanks(world, args ? args(ckpt) : [...trainArgs(ckpt), '--resume']);
    assert.deepEqual(run.codes, Array(world).fill(2), `${name}: every rank exits 2: ${run.stderr}`);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: one stderr line: ${run.stderr}`);
    assert.equal(run.stdout, '', `${name}: nothing started`);
    return lines[0]!.replace('galvatron-runtime: error: --resume: ', '');
  }

  const shard = (ckpt: string, rank: number) => join(ckpt, 'step-00000004', `rank-0000${rank}.pt`);

  it('refuses each kind of damage, naming the shard or field', async () => {
    const flip = (path: string, offset: number) => {
      const fd = openSync(path, 'r+');
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, offset);
      b[0] = b[0]! ^ 0x10;
      writeSync(fd, b, 0, 1, offset);
      closeSync(fd);
    };
    assert.equal(
      await refused('flip', (c) => flip(shard(c, 1), statSync(shard(c, 1)).size - 1000)),
      'step-00000004/rank-00001.pt: sha256 mismatch (file changed since it was written)',
    );
    const size = statSync(shard(good, 0)).size;
    assert.equal(
      await refused('truncate', (c) => truncateSync(shard(c, 0), size - 7)),
      `step-00000004/rank-00000.pt: ${size - 7} bytes, meta.json lists ${size} (truncated or changed since it was written)`,
    );
    assert.equal(await refused('delete', (c) => rmSync(shard(c, 1))), 'step-00000004/rank-00001.pt: missing (meta.json lists it)');
    assert.equal(
      await refused('swap', (c) => {
        renameSync(shard(c, 0), `${shard(c, 0)}.x`);
        renameSync(shard(c, 1), shard(c, 0));
        renameSync(`${shard(c, 0)}.x`, shard(c, 1));
      }),
      "step-00000004/rank-00000.pt: holds rank 1's shard, not rank 0's (shards swapped or renamed)",
    );
    const meta = (c: string) => join(c, 'step-00000004', 'meta.json');
    assert.match(
      await refused('meta-json', (c) => writeFileSync(meta(c), readFileSync(meta(c), 'utf8').slice(0, 40))),
      /^step-00000004\/meta\.json: not readable JSON/,
    );
    assert.equal(
      await refused('meta-hash', (c) => {
        const m = JSON.parse(readFileSync(meta(c), 'utf8')) as { shards: { sha256: string }[] };
        m.shards[1]!.sha256 = 'f'.repeat(64);
        writeFileSync(meta(c), JSON.stringify(m));
      }),
      'step-00000004/rank-00001.pt: header and meta.json disagree on the payload (file changed since it was written)',
    );
    const latestMissing = join(dir, 'damaged-latest');
    assert.equal(
      await refused('latest', (c) => writeFileSync(join(c, 'latest'), 'step-00000009\n')),
      `latest: names step-00000009, which does not exist in ${latestMissing}`,
    );
  });

  it('refuses a run that differs from the one that wrote the checkpoint, naming what differs', async () => {
    const resume = (extra: string[], plan = planPath) => (c: string) => [...trainArgs(c, plan), '--resume', ...extra];
    const none = () => undefined;
    assert.match(await refused('plan', none, resume([], otherPlanPath)), /^step-00000004 was written with plan = '[0-9a-f]{16}', this run has '[0-9a-f]{16}'$/);
    assert.equal(await refused('world', none, resume([], widePlanPath), 4), 'step-00000004 was written with worldSize = 2, this run has 4');
    assert.equal(await refused('seed', none, resume(['--seed', '1'])), 'step-00000004 was written with seed = 0, this run has 1');
    assert.match(await refused('dtype', none, (c) => [...trainArgs(c), '--resume', '--dtype', 'float32']), /^step-00000004 was written with dtype = 'float64', this run has 'float32'$/);
  });

  it('a full disk during a save: one line, exit 1, the previous checkpoint still latest and resumable', async () => {
    const ckpt = join(dir, 'enospc');
    const run = await launchRanks(RANKS, [...trainArgs(ckpt), '--checkpoint-every', String(EVERY)], { GALVATRON_CHECKPOINT_FAULT: 'enospc:shard:1:4' });
    assert.deepEqual(run.codes, [1, 1], run.stderr);
    const errors = errorLines(run.stderr);
    assert.equal(errors.length, 1, run.stderr);
    assert.equal(
      errors[0],
      'galvatron-runtime: error: checkpoint step-00000004 not saved: rank 1 could not write step-00000004/rank-00001.pt: [Errno 28] No space left on device (injected by GALVATRON_CHECKPOINT_FAULT); the partial save was removed; latest still names step-00000002',
    );
    assert.ok(!run.stderr.includes('Traceback'), run.stderr);
    assert.equal(latestOf(ckpt), 'step-00000002');
    assert.ok(!existsSync(join(ckpt, '.tmp-step-00000004')) && !existsSync(join(ckpt, 'step-00000004')));
    await resumeContinuesOrRefuses(ckpt, 'after ENOSPC');
  });

  it('a rank that never reaches the resume check: a named error within --checkpoint-timeout, not a hang', async () => {
    const ckpt = join(dir, 'stuck');
    cpSync(good, ckpt, { recursive: true });
    const t0 = Date.now();
    // Rank 1 hangs before its verdict; once rank 0 gave up, the test ends rank 1 (torchrun would).
    const run = await launchRanks(RANKS, [...trainArgs(ckpt), '--resume', '--checkpoint-timeout', '3'], { GALVATRON_CHECKPOINT_FAULT: 'hang:verify:1' }, (rank, _code, all) => {
      if (rank === 0) all[1]!.kill('SIGKILL');
    });
    assert.equal(run.codes[0], 1, run.stderr);
    assert.ok(Date.now() - t0 < 30_000, 'ended within seconds');
    assert.deepEqual(errorLines(run.stderr), ['galvatron-runtime: error: --resume: checkpoint check: rank 1 did not arrive within 3 s (--checkpoint-timeout); stopped instead of waiting']);
  });
});
