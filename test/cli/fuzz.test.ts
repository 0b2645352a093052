// Generated bad input, in-process (issue 15): model, cluster, plan and Galvatron profile files and numeric flags, each
// one field made bad at a time. The contract for every case: exit 2, exactly one line on stderr that names
// the field (the flag, or the path inside the file), nothing on stdout even with --json, and no -o file
// written. 13,000 cases in all; fast-check prints the seed and the smallest failing case.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { runProgram } from '../../src/cli/program.js';
import { CLUSTER_LIMITS } from '../../src/hardware/spec.js';
import { MODEL_LIMITS } from '../../src/model/spec.js';

const RUNS_PER_FAMILY = 2600;
const dir = mkdtempSync(join(tmpdir(), 'galvatron-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const out = join(dir, 'out.json');
const input = join(dir, 'input.json');
const example = (name: string) => readFileSync(new URL(`../../../examples/${name}`, import.meta.url), 'utf8');
const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/plan-validation/${name}`, import.meta.url), 'utf8');

/** One command line run in this process, its output captured. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await runProgram(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

/** The contract: exit 2, one stderr line naming `field` first, stdout empty, no output file. */
async function refused(args: string[], field: string, what: string): Promise<void> {
  rmSync(out, { force: true });
  const r = await run(args);
  const detail = `${what}\n  args: ${args.join(' ')}\n  code ${r.code}, stderr: ${r.stderr}`;
  assert.equal(r.code, 2, detail);
  assert.equal(r.stdout, '', detail);
  assert.equal(r.stderr.split('\n').length, 2, `one line: ${detail}`);
  assert.ok(r.stderr.startsWith(`galvatron: ${field}: `), `names ${field}: ${detail}`);
  assert.ok(!existsSync(out), `no file written: ${detail}`);
}

type Kind = 'posInt' | 'nonNegInt' | 'posNum' | 'nonNegNum' | 'enum' | 'bool' | 'fraction' | 'slowdown';

/** Values no field of that kind accepts (the number bounds: above the largest accepted, where one is stated). */
function badValue(kind: Kind, max?: number): fc.Arbitrary<unknown> {
  const wrongType = fc.constantFrom<unknown>('8', '', null, [], {}, [1]);
  switch (kind) {
    case 'posInt':
      return fc.oneof(wrongType, fc.constantFrom<unknown>(true, 0, -1, 0.5, 1.5, -0.0001, 1e400), fc.integer({ max: 0 }), fc.double({ min: 0.01, max: 1e6, noInteger: true, noNaN: true }), ...(max ? [fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER })] : []));
    case 'nonNegInt':
      return fc.oneof(wrongType, fc.constantFrom<unknown>(true, -1, 0.5, 1e400), fc.integer({ max: -1 }), fc.double({ min: 0.01, max: 1e6, noInteger: true, noNaN: true }));
    case 'posNum':
      return fc.oneof(wrongType, fc.constantFrom<unknown>(true, 0, -1, -1e-9, 1e400), fc.double({ max: 0, noNaN: true, noDefaultInfinity: true }), ...(max ? [fc.double({ min: max * 1.001, max: 1e308, noNaN: true })] : []));
    case 'nonNegNum':
      return fc.oneof(wrongType, fc.constantFrom<unknown>(true, -1, -1e-9, 1e400), fc.double({ max: -1e-9, noNaN: true, noDefaultInfinity: true }), ...(max ? [fc.double({ min: max * 1.001, max: 1e308, noNaN: true })] : []));
    case 'fraction':
      return fc.oneof(wrongType, fc.constantFrom<unknown>(0, -0.5, 1.0001, 2, 1e400));
    case 'slowdown': // λ in [1, 3]
      return fc.oneof(wrongType, fc.constantFrom<unknown>(0, 0.999, -1, 3.001, 1e400), fc.double({ min: 3.0001, max: 1e9, noNaN: true }));
    case 'enum':
      return fc.oneof(fc.constantFrom<unknown>('', 'GPT', 'unknown', 'constructor', '__proto__', 0, true, null), fc.string({ minLength: 1, maxLength: 12 }).map((s) => `x${s}`));
    case 'bool':
      return fc.constantFrom<unknown>('true', 'false', 0, 1, null, 'yes', []);
  }
}

/** `root` with the value at `path` (dots and [i]) replaced. */
function withValue(root: unknown, path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(root)) as Record<string, unknown>;
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
  return copy;
}

/** JSON text of `value`; 1e400 stays 1e400 (JSON.parse reads it as Infinity). */
const jsonText = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (v === Infinity ? '__INF__' : v)).replace(/"__INF__"/g, '1e400');

/** A field of a JSON file, the kind of value it takes and its largest accepted value. */
type Field = [path: string, kind: Kind, max?: number];

function fileFamily(name: string, base: unknown, fields: Field[], prefix: string, args: (path: string) => string[]) {
  it(`${name}: ${RUNS_PER_FAMILY} files with one bad field, each refused naming it`, async () => {
    const arb = fc.constantFrom(...fields).chain(([path, kind, max]) => fc.tuple(fc.constant(path), badValue(kind, max)));
    await fc.assert(
      fc.asyncProperty(arb, async ([path, value]) => {
        writeFileSync(input, jsonText(withValue(base, path, value)));
        await refused(args(input), `${prefix}.${path}`, `${path} = ${jsonText(value)}`);
      }),
      { numRuns: RUNS_PER_FAMILY },
    );
  });
}

describe('generated bad input: exit 2, one line naming the field, nothing written', () => {
  const model = JSON.parse(example('tiny-gpt.json')) as unknown;
  const modelFields: Field[] = [
    ['layers', 'posInt', MODEL_LIMITS.layers],
    ['hidden', 'posInt', MODEL_LIMITS.hidden],
    ['heads', 'posInt', MODEL_LIMITS.heads],
    ['kvHeads', 'posInt', MODEL_LIMITS.heads],
    ['ffnHidden', 'posInt', MODEL_LIMITS.ffnHidden],
    ['vocab', 'posInt', MODEL_LIMITS.vocab],
    ['seqLen', 'posInt', MODEL_LIMITS.seqLen],
    ['family', 'enum'],
    ['ffnType', 'enum'],
    ['positional', 'enum'],
    ['tiedEmbeddings', 'bool'],
  ];
  fileFamily('model files', model, modelFields, 'model', (path) => ['plan', '--model', path, '--gpus', '8', '--global-batch', '16', '--json', '-o', out]);

  const cluster = JSON.parse(example('cpu-8-ranks.json')) as unknown;
  const clusterFields: Field[] = [
    ['gpusPerNode', 'posInt', CLUSTER_LIMITS.gpusPerNode],
    ['nodes', 'posInt', CLUSTER_LIMITS.nodes],
    ['gpu.peakTflops', 'posNum', CLUSTER_LIMITS.tflops],
    ['gpu.memoryGiB', 'posNum', CLUSTER_LIMITS.memoryGiB],
    ['gpu.hbmGBps', 'posNum', CLUSTER_LIMITS.gbps],
    ['gpu.gemmEfficiency', 'fraction'],
    ['gpu.bf16', 'bool'],
    ['intraNode.busBandwidthGBps', 'posNum', CLUSTER_LIMITS.gbps],
    ['intraNode.p2pGBps', 'posNum', CLUSTER_LIMITS.gbps],
    ['intraNode.latencyUs', 'nonNegNum', CLUSTER_LIMITS.latencyUs],
    ['intraNode.topology', 'enum'],
    ['interNode.nicsPerNode', 'posInt', CLUSTER_LIMITS.nicsPerNode],
    ['interNode.nicGBps', 'posNum', CLUSTER_LIMITS.gbps],
    ['overlapSlowdown', 'slowdown'],
  ];
  fileFamily('cluster files', cluster, clusterFields, 'cluster', (path) => ['plan', '--model', 'gpt3-1.3b', '--cluster', path, '--json', '-o', out]);

  const plan = JSON.parse(fixture('base-plan.json')) as unknown;
  const planFields: Field[] = [
    ['training.globalBatch', 'posInt'],
    ['training.microBatches', 'posInt'],
    ['training.seqLen', 'posInt'],
    ['training.precision', 'enum'],
    ['training.attention', 'enum'],
    ['training.fp32MainGrads', 'bool'],
    ['pipeline.degree', 'posInt'],
    ['pipeline.schedule', 'enum'],
    ['pipeline.virtualStages', 'posInt'],
    ['pipeline.chunks[0].start', 'nonNegInt'],
    ['pipeline.chunks[1].end', 'posInt'],
    ['embedding.tp', 'posInt'],
    ['layers[0].tp', 'posInt'],
    ['layers[1].dp', 'posInt'],
    ['layers[2].dpType', 'enum'],
    ['layers[3].recompute', 'enum'],
    ['layers[3].sequenceParallel', 'bool'],
    ['model.hidden', 'posInt', MODEL_LIMITS.hidden],
    ['model.layers', 'posInt', MODEL_LIMITS.layers],
    ['cluster.gpusPerNode', 'posInt', CLUSTER_LIMITS.gpusPerNode],
    ['cluster.gpu.memoryGiB', 'posNum', CLUSTER_LIMITS.memoryGiB],
  ];
  fileFamily('plan files (export)', plan, planFields, 'plan', (path) => ['export', path, '--to', 'megatron', '--json', '-o', out]);

  // Galvatron's own profile files: compute times (ms per sample), all-reduce bus bandwidths, λ.
  const galvatronProfile = {
    layertype_0_bsz8_seq2048: 3.5,
    layertype_other_bsz8_seq2048: 1,
    allreduce_size_8_consec_1: 150,
    allreduce_size_16_consec_0: 20,
    overlap_coe: 1.2,
  };
  const profileFields: Field[] = [
    ['layertype_0_bsz8_seq2048', 'posNum', 1e9],
    ['layertype_other_bsz8_seq2048', 'posNum', 1e9],
    ['allreduce_size_8_consec_1', 'posNum', CLUSTER_LIMITS.gbps],
    ['allreduce_size_16_consec_0', 'posNum', CLUSTER_LIMITS.gbps],
    ['overlap_coe', 'slowdown'],
  ];
  fileFamily('Galvatron profile files', galvatronProfile, profileFields, 'profile', (path) => ['plan', '--model', 'gpt3-1.3b', '--profile', path, '--json', '-o', out]);

  it(`numeric flags: ${RUNS_PER_FAMILY} bad values, each refused naming the flag`, async () => {
    const flags: [flag: string, kind: 'posInt' | 'gib'][] = [
      ['--gpus', 'posInt'],
      ['--global-batch', 'posInt'],
      ['--micro-batch', 'posInt'],
      ['--tp', 'posInt'],
      ['--pp', 'posInt'],
      ['--seq', 'posInt'],
      ['--memory-gib', 'gib'],
    ];
    const text = fc.oneof(
      fc.constantFrom('', ' ', '-1', '0', '1.5', 'abc', 'NaN', 'Infinity', '-Infinity', '1e400', '8x', '0x8', '--', '1,024', '½'),
      fc.integer({ max: 0 }).map(String),
      fc.double({ min: 0.01, max: 1e6, noInteger: true, noNaN: true }).map(String),
      fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.startsWith('-')),
    );
    // A value that reads as a positive whole number (" 8", "+8") is a fair answer, not a bad one.
    const wholeNumber = (s: string) => s.trim() !== '' && Number.isInteger(Number(s)) && Number(s) > 0;
    const arb = fc.tuple(fc.constantFrom(...flags), text).filter(([[, kind], value]) => (kind === 'gib' ? !(Number(value) > 0 && Number(value) <= 1024) : !wholeNumber(value)));
    await fc.assert(
      fc.asyncProperty(arb, async ([[flag], value]) => {
        await refused(['estimate', '--model', 'gpt3-1.3b', '--cluster', 'dgx-a100-80g', '--gpus', '8', '--global-batch', '16', flag, value, '--json', '-o', out], flag, `${flag} ${JSON.stringify(value)}`);
      }),
      { numRuns: RUNS_PER_FAMILY },
    );
  });
});
