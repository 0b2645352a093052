// Regression tests for bad input the reliability issue found accepted or crashing: each now exits 2 with
// one line naming the field, and starts nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'galvatron-reliability-'));
const refused = async (args: string[], field: string) => {
  const run = await runCli(args, dir);
  assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  assert.ok(run.stderr.startsWith(`galvatron: ${field}: `), run.stderr);
};

describe('bad input found by the reliability harness', () => {
  it('object-prototype names are not presets (constructor, __proto__, toString, valueOf)', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf']) {
      await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', name, '--global-batch', '8'], '--cluster');
      await refused(['estimate', '--model', name, '--cluster', 'dgx-a100-80g', '--global-batch', '8'], '--model');
    }
    const cluster = join(dir, 'cluster.json');
    writeFileSync(cluster, JSON.stringify({ name: 'x', gpu: 'constructor', gpusPerNode: 8, nodes: 1, intraNode: { busBandwidthGBps: 100, p2pGBps: 100, latencyUs: 5 }, interNode: { busBandwidthGBps: 10, p2pGBps: 10, latencyUs: 10, nicsPerNode: 1, nicGBps: 10 } }));
    await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', cluster, '--global-batch', '8'], 'cluster.gpu');
  });

  it('sizes beyond any cluster are refused up front, naming the largest accepted (they hung the search or exhausted memory)', async () => {
    // --gpus 99999999992 walked the divisors of 1e11 for minutes; --global-batch 1e12 the same.
    await refused(['plan', '--gpus', '99999999992'], '--gpus');
    await refused(['plan', '--global-batch', '1000000000000'], '--global-batch');
    await refused(['baselines', '--global-batch', '1000000000000'], '--global-batch');
    const model = join(dir, 'huge-model.json');
    // layers 1e9 exhausted the heap after 53 s; 1e6 ran past 60 s in plan and baselines.
    for (const layers of [1e12, 1e9, 1e6]) {
      writeFileSync(model, JSON.stringify({ name: 'huge', family: 'gpt', layers, hidden: 64, heads: 8, vocab: 256, seqLen: 32 }));
      for (const command of ['plan', 'baselines']) {
        const run = await runCli([command, '--model', model], dir);
        assert.equal(run.code, 2);
        assert.equal(run.stderr, 'galvatron: model.layers: layers must be ≤ 4,096 (the largest this planner accepts)\n');
      }
    }
  });

  it('--sp with a sequence that TP does not divide (was priced as if it split evenly)', async () => {
    await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--gpus', '8', '--global-batch', '8', '--tp', '8', '--sp', '--seq', '2052'], '--sp');
  });

  it('the runtime\'s refusals end as ours: one line, exit 2, without torchrun\'s report (a missing --data file printed 91 lines and exit 1)', async () => {
    const plan = join(dir, 'train-plan.json');
    const planned = await runCli(['plan', '--model', fileURLToPath(new URL('../../../examples/tiny-gpt.json', import.meta.url)), '--gpus', '2', '--global-batch', '4', '-o', plan], dir);
    assert.equal(planned.code, 0, planned.stderr);
    await refused(['train', '--plan', plan, '--device', 'cpu', '--steps', '1', '--data', join(dir, 'no-such-file.txt')], '--data');
    await refused(['train', '--plan', plan, '--device', 'cpu', '--steps', '1', '--checkpoint-dir', join(dir, 'empty-ckpt'), '--resume'], '--resume');
    // Refused before it starts, not after training to the first save or to NaN.
    await refused(['train', '--plan', plan, '--device', 'cpu', '--steps', '1', '--checkpoint-dir', plan], '--checkpoint-dir');
    await refused(['train', '--plan', plan, '--device', 'cpu', '--steps', '1', '--lr', '1e308'], '--lr');
  });

  it('1e308 bandwidths, latencies and peaks are refused (they priced every transfer as free)', async () => {
    const spec = JSON.parse(readFileSync(new URL('../../../examples/cpu-8-ranks.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
    const cases: [string, (c: typeof spec) => void][] = [
      ['cluster.intraNode.busBandwidthGBps', (c) => (c.intraNode!.busBandwidthGBps = 1e308)],
      ['cluster.interNode.latencyUs', (c) => (c.interNode!.latencyUs = 1e308)],
      ['cluster.gpu.peakTflops', (c) => (c.gpu!.peakTflops = 1e308)],
      ['cluster.gpu.memoryGiB', (c) => (c.gpu!.memoryGiB = 1e308)],
    ];
    for (const [field, edit] of cases) {
      const copy = JSON.parse(JSON.stringify(spec)) as typeof spec;
      edit(copy);
      const path = join(dir, 'huge-link.json');
      writeFileSync(path, JSON.stringify(copy));
      await refused(['plan', '--model', 'gpt3-1.3b', '--cluster', path], field);
    }
  });

  it('a bad figure of a GPU given as an object is named (the union said only "cluster.gpu: Invalid input")', async () => {
    const cluster = join(dir, 'gpu-object.json');
    const spec = JSON.parse(readFileSync(new URL('../../../examples/cpu-8-ranks.json', import.meta.url), 'utf8')) as { gpu: Record<string, unknown> };
    spec.gpu.gemmEfficiency = '8';
    writeFileSync(cluster, JSON.stringify(spec));
    await refused(['plan', '--model', 'gpt3-1.3b', '--cluster', cluster], 'cluster.gpu.gemmEfficiency');
  });

  it('--memory-gib beyond any GPU (1e308 reached the plan schema as Infinity)', async () => {
    await refused(['plan', '--memory-gib', '1e308'], '--memory-gib');
    await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--global-batch', '8', '--memory-gib', '5000'], '--memory-gib');
  });

  it('-o onto a device node, a FIFO or a symlink is refused and leaves it as it is', async () => {
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'keep');
    const link = join(dir, 'link.json');
    symlinkSync(target, link);
    const fifo = join(dir, 'fifo.json');
    spawnSync('mkfifo', [fifo]);
    for (const path of ['/dev/null', link, fifo]) {
      await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--global-batch', '8', '-o', path], '--output');
    }
    assert.equal(readFileSync(target, 'utf8'), 'keep');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.ok(lstatSync(fifo).isFIFO());
    assert.ok(lstatSync('/dev/null').isCharacterDevice());
  });

  it('--vpp 2 with --pp 1', async () => {
    await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--global-batch', '8', '--vpp', '2'], '--vpp');
  });

  it('--master-port 99999 and an empty --master-addr', async () => {
    const plan = join(dir, 'plan.json');
    const example = (name: string) => fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));
    const made = await runCli(['estimate', '--model', example('tiny-gpt.json'), '--cluster', example('cpu-8-ranks.json'), '--gpus', '8', '--global-batch', '8', '-o', plan], dir);
    assert.equal(made.code, 0, made.stderr);
    await refused(['train', '--plan', plan, '--device', 'cpu', '--master-port', '99999'], '--master-port');
    await refused(['train', '--plan', plan, '--device', 'cpu', '--master-addr', ''], '--master-addr');
  });

  it('a stray word is named, with the flag it was likely meant for (`plan llama2-7b` did not say which word)', async () => {
    await refused(['plan', 'llama2-7b'], 'llama2-7b');
    const run = await runCli(['plan', 'llama2-7b'], dir);
    assert.match(run.stderr, /did you mean --model llama2-7b\?/);
    await refused(['plan', '--model', 'gpt3-1.3b', 'dgx-a100-80g'], 'dgx-a100-80g');
    assert.match((await runCli(['plan', 'dgx-a100-80g'], dir)).stderr, /did you mean --cluster dgx-a100-80g\?/);
    await refused(['explain', 'a.json', 'b.json'], 'b.json');
  });

  it('bf16 on a V100 is refused by plan and baselines too (only estimate refused it)', async () => {
    for (const command of ['plan', 'baselines', 'estimate']) {
      await refused([command, '--model', 'gpt3-1.3b', '--cluster', '8x-v100-sxm2', '--global-batch', '8', '--precision', 'bf16'], '--precision');
    }
  });

  it('an HF config field that is an object shows the object ({} was shown as [object Object])', async () => {
    const file = join(dir, 'hf-object.json');
    writeFileSync(file, JSON.stringify({ model_type: 'llama', hidden_size: {}, num_hidden_layers: 2, num_attention_heads: 2 }));
    await refused(['plan', '--model', file], 'config.json hidden_size');
    assert.match((await runCli(['plan', '--model', file], dir)).stderr, /\(got \{\}\)/);
  });

  it('a cp whose 2·cp balanced chunks do not divide the sequence is refused up front (the executor refused it only at train time)', async () => {
    await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--global-batch', '8', '--cp', '4', '--seq', '2052'], '--cp');
  });
});
