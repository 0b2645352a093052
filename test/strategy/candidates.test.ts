import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  countCandidatesOverPp,
  defaultRules,
  galvatronV1Rules,
  ppDegrees,
  RULE_HELP,
  stageCandidates,
  type CandidateLimits,
  type CandidateRules,
} from '../../src/strategy/candidates.js';
import { DP_TYPES, LayerStrategySchema, RECOMPUTE_KINDS, type LayerStrategy } from '../../src/strategy/layer-strategy.js';

/** A readable key that encodes every field: "tp2+sp cp2 sdp2 dp-first rc-full". */
function label(s: LayerStrategy): string {
  const parts = [`tp${s.tp}${s.sequenceParallel ? '+sp' : ''}`];
  if (s.cp > 1) parts.push(`cp${s.cp}`);
  parts.push(s.dpType === 'zero3' ? `sdp${s.dp}` : `dp${s.dp}${s.dpType === 'ddp' ? '' : `(${s.dpType})`}`);
  if (!s.tpConsecutive) parts.push('dp-first');
  if (s.recompute !== 'none') parts.push(`rc-${s.recompute}`);
  return parts.join(' ');
}
const labels = (n: number, rules: CandidateRules, limits?: CandidateLimits) => stageCandidates(n, rules, limits).map(label);
const v1With = (extra: Partial<CandidateRules>): CandidateRules => ({ ...galvatronV1Rules(), ...extra });

describe('Galvatron v1 counts (2K²+K+1 over all PP degrees for N = 2^K GPUs)', () => {
  // Per stage of 2^k GPUs: tp = 2^k alone (1), dp or sdp alone (2), and each of the k−1 splits with
  // tp > 1 and dp > 1 as dp or sdp × TP- or DP-adjacent (4): 4k − 1, and 1 for k = 0.
  // Summed over k = 0..K: 1 + Σ(4k − 1) = 2K² + K + 1.
  const expected: Array<[number, number]> = [[1, 1], [2, 4], [4, 11], [8, 22], [16, 37], [32, 56], [64, 79]];
  for (const [gpus, count] of expected) {
    const K = Math.log2(gpus);
    it(`${gpus} GPUs: ${count}`, () => {
      assert.equal(count, 2 * K * K + K + 1);
      assert.equal(countCandidatesOverPp(gpus, galvatronV1Rules()), count);
    });
    it(`${gpus} GPUs with recompute none/full: ${2 * count} (doubled)`, () => {
      assert.equal(countCandidatesOverPp(gpus, v1With({ recompute: ['none', 'full'] })), 2 * count);
    });
  }
  it('per stage size 2^k: 4k − 1', () => {
    assert.deepEqual([2, 4, 8, 16, 32, 64].map((n) => stageCandidates(n, galvatronV1Rules()).length), [3, 7, 11, 15, 19, 23]);
  });
  it('fewer layers than GPUs cap the PP degree: 8 GPUs, 2 layers → stages of 8 and 4: 11 + 7', () => {
    assert.equal(countCandidatesOverPp(8, galvatronV1Rules(), 2), 18);
  });
});

describe('hand-listed stages', () => {
  it('n = 1: tp1 dp1 ddp only (one per recompute kind)', () => {
    assert.deepEqual(labels(1, galvatronV1Rules()), ['tp1 dp1']);
    assert.deepEqual(labels(1, defaultRules()), ['tp1 dp1', 'tp1 dp1 rc-selective', 'tp1 dp1 rc-full']);
    assert.deepEqual(stageCandidates(1, galvatronV1Rules())[0], {
      tp: 1, sequenceParallel: false, cp: 1, dp: 1, dpType: 'ddp', recompute: 'none', tpConsecutive: true,
    });
  });

  it('n = 4 under v1: 7, in the documented order', () => {
    assert.deepEqual(labels(4, galvatronV1Rules()), [
      'tp1 dp4', 'tp1 sdp4',
      'tp2 dp2', 'tp2 dp2 dp-first', 'tp2 sdp2', 'tp2 sdp2 dp-first',
      'tp4 dp1',
    ]);
  });

  it('n = 6 under v1: 11 (non-power of two)', () => {
    // Divisor pairs tp × d = 6: 1×6 (dp or sdp: 2), 2×3 and 3×2 (dp or sdp × two orders: 4 each), 6×1 (1).
    assert.deepEqual(labels(6, galvatronV1Rules()), [
      'tp1 dp6', 'tp1 sdp6',
      'tp2 dp3', 'tp2 dp3 dp-first', 'tp2 sdp3', 'tp2 sdp3 dp-first',
      'tp3 dp2', 'tp3 dp2 dp-first', 'tp3 sdp2', 'tp3 sdp2 dp-first',
      'tp6 dp1',
    ]);
  });

  it('n = 12 under v1: 19', () => {
    // 12 has 6 divisors: tp = 1 (dp or sdp: 2), tp = 12 (1), and tp ∈ {2, 3, 4, 6} with 4 each: 2 + 1 + 16.
    const got = labels(12, galvatronV1Rules());
    assert.equal(got.length, 19);
    assert.deepEqual([...new Set(stageCandidates(12, galvatronV1Rules()).map((s) => s.tp))], [1, 2, 3, 4, 6, 12]);
    assert.ok(got.includes('tp4 sdp3 dp-first') && got.includes('tp6 dp2') && !got.includes('tp5 dp2'));
  });

  it('n = 6 with tp, cp, dp (TP adjacent only): all 9 ordered triples tp·cp·dp = 6', () => {
    // 6 = 2·3: each prime goes to one of three slots, 3 × 3 = 9 triples.
    const rules = v1With({ paradigms: ['tp', 'cp', 'dp'], maxCp: Infinity, tpAdjacency: 'tp-first' });
    assert.deepEqual(labels(6, rules), [
      'tp1 dp6', 'tp1 cp2 dp3', 'tp1 cp3 dp2', 'tp1 cp6 dp1',
      'tp2 dp3', 'tp2 cp3 dp1',
      'tp3 dp2', 'tp3 cp2 dp1',
      'tp6 dp1',
    ]);
  });

  it('n = 12 with tp, cp, dp: 18 triples TP-adjacent, 25 with DP-adjacent too', () => {
    // 12 = 2²·3: the two 2s go to three slots in C(4,2) = 6 ways, the 3 in 3: 18 triples.
    // DP-adjacent twins exist where tp > 1 and dp > 1: tp2 (cp 1,2,3), tp3 (cp 1,2), tp4 (cp 1), tp6 (cp 1) = 7.
    const rules = v1With({ paradigms: ['tp', 'cp', 'dp'], maxCp: Infinity, tpAdjacency: 'tp-first' });
    assert.equal(stageCandidates(12, rules).length, 18);
    assert.equal(stageCandidates(12, { ...rules, tpAdjacency: 'both' }).length, 25);
  });

  it('n = 8 under defaultRules: 114', () => {
    // tp1 dp8: 4 DP types × 3 recompute = 12; tp2 dp4 and tp4 dp2: 4 types × SP 2 × order 2 × 3 = 48 each;
    // tp8 dp1: ddp × SP 2 × 3 = 6. CP is off (maxCp 1).
    const all = stageCandidates(8, defaultRules());
    assert.equal(all.length, 12 + 48 + 48 + 6);
    assert.ok(all.every((s) => s.cp === 1));
  });

  it('n = 16 under defaultRules: maxTp 8 drops tp16 → 12 + 3·48 = 156', () => {
    const all = stageCandidates(16, defaultRules());
    assert.equal(all.length, 156);
    assert.equal(Math.max(...all.map((s) => s.tp)), 8);
  });

  it("SP 'on' sets SP exactly where tp > 1; dp = 1 keeps ddp even when only ZeRO types are allowed", () => {
    const rules = v1With({ sequenceParallel: 'on', dpTypes: ['zero2'] });
    assert.deepEqual(labels(4, rules), [
      'tp1 dp4(zero2)', 'tp1 sdp4',
      'tp2+sp dp2(zero2)', 'tp2+sp dp2(zero2) dp-first', 'tp2+sp sdp2', 'tp2+sp sdp2 dp-first',
      'tp4+sp dp1',
    ]);
  });
});

describe('model limits', () => {
  it('heads 12 excludes tp 8 (keeps tp 4)', () => {
    const tps = new Set(stageCandidates(8, galvatronV1Rules(), { heads: 12 }).map((s) => s.tp));
    assert.ok(!tps.has(8) && tps.has(4));
  });
  it('kvHeads 8 allows tp 16 (a multiple: KV heads replicated)', () => {
    assert.ok(stageCandidates(16, galvatronV1Rules(), { kvHeads: 8 }).some((s) => s.tp === 16));
  });
  it('kvHeads 8 excludes tp 3 (neither divides the other)', () => {
    assert.deepEqual(labels(3, galvatronV1Rules(), { kvHeads: 8 }), ['tp1 dp3', 'tp1 sdp3']);
  });
  it('seqLen 4096 excludes cp 3, keeps cp 2', () => {
    const rules = v1With({ paradigms: ['cp', 'dp'], maxCp: Infinity });
    const cps = new Set(stageCandidates(6, rules, { seqLen: 4096 }).map((s) => s.cp));
    assert.deepEqual([...cps], [1, 2]);
  });
  it('seqLen 257 (ViT-H/14) offers no SP at TP 2 or 4; seqLen 256 does', () => {
    const rules = v1With({ paradigms: ['tp', 'dp'], maxTp: Infinity, sequenceParallel: 'both' });
    const spAt = (seqLen: number) => stageCandidates(4, rules, { seqLen }).filter((s) => s.sequenceParallel).length;
    assert.equal(spAt(257), 0);
    assert.ok(spAt(256) > 0);
  });
  it('seqLen 12 keeps cp 2 (4 chunks) but not cp 4 or 12: 2·cp balanced chunks must divide it', () => {
    const rules = v1With({ paradigms: ['cp', 'dp'], maxCp: Infinity });
    const cps = new Set(stageCandidates(12, rules, { seqLen: 12 }).map((s) => s.cp));
    assert.deepEqual([...cps].sort((a, b) => a - b), [1, 2, 3, 6]);
  });
});

describe('ppDegrees', () => {
  it('divisors of the GPU count, capped by layers and maxPp', () => {
    assert.deepEqual(ppDegrees(12, 24, galvatronV1Rules()), [1, 2, 3, 4, 6, 12]);
    assert.deepEqual(ppDegrees(8, 4, galvatronV1Rules()), [1, 2, 4]);
    assert.deepEqual(ppDegrees(8, 32, v1With({ maxPp: 2 })), [1, 2]);
  });
});

describe('rules', () => {
  it('RULE_HELP has one non-empty line per rule', () => {
    assert.deepEqual(Object.keys(RULE_HELP).sort(), Object.keys(defaultRules()).sort());
    for (const line of Object.values(RULE_HELP)) assert.ok(line.length > 0 && !line.includes('\n'));
  });
  it('rejects a stage size that is not a positive integer', () => {
    assert.throws(() => stageCandidates(0, defaultRules()), RangeError);
    assert.throws(() => stageCandidates(1.5, defaultRules()), RangeError);
  });
});

// The rules stated declaratively, per leaf: the enumeration must produce exactly the leaves this accepts.
function admissible(s: LayerStrategy, n: number, r: CandidateRules, lim: CandidateLimits): boolean {
  if (s.tp * s.cp * s.dp !== n) return false;
  if (s.tp > 1 && !(r.paradigms.includes('tp') && s.tp <= r.maxTp)) return false;
  if (s.cp > 1 && !(r.paradigms.includes('cp') && s.cp <= r.maxCp)) return false;
  if (s.dp === 1 && s.dpType !== 'ddp') return false;
  if (s.dp > 1 && !(s.dpType === 'zero3' ? r.paradigms.includes('sdp') : r.paradigms.includes('dp') && (r.dpTypes as string[]).includes(s.dpType))) return false;
  const spFits = lim.seqLen === undefined || (lim.seqLen / s.cp) % s.tp === 0;
  if (s.sequenceParallel !== (s.tp > 1 && spFits && (r.sequenceParallel === 'on' || (r.sequenceParallel === 'both' && s.sequenceParallel)))) return false;
  if (!s.tpConsecutive && !(s.tp > 1 && s.dp > 1 && r.tpAdjacency === 'both')) return false;
  if (!r.recompute.includes(s.recompute)) return false;
  if (lim.heads !== undefined && lim.heads % s.tp !== 0) return false;
  if (lim.kvHeads !== undefined && lim.kvHeads % s.tp !== 0 && s.tp % lim.kvHeads !== 0) return false;
  if (lim.seqLen !== undefined && s.cp > 1 && lim.seqLen % (2 * s.cp) !== 0) return false; // 2·cp balanced chunks
  return true;
}

function bruteForce(n: number, r: CandidateRules, lim: CandidateLimits): Set<string> {
  const out = new Set<string>();
  for (let tp = 1; tp <= n; tp++) for (let cp = 1; cp <= n; cp++) for (let dp = 1; dp <= n; dp++) {
    if (tp * cp * dp !== n) continue;
    for (const dpType of DP_TYPES) for (const sequenceParallel of [false, true]) for (const tpConsecutive of [true, false]) {
      for (const recompute of RECOMPUTE_KINDS) {
        const s = { tp, cp, dp, dpType, sequenceParallel, tpConsecutive, recompute };
        if (admissible(s, n, r, lim)) out.add(label(s));
      }
    }
  }
  return out;
}

const orderKey = (s: LayerStrategy) =>
  [s.tp, s.cp, DP_TYPES.indexOf(s.dpType), Number(s.sequenceParallel), Number(!s.tpConsecutive), RECOMPUTE_KINDS.indexOf(s.recompute)];
function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

describe('properties (n ∈ [1, 64], random rules and limits)', () => {
  const degreeCap = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(Infinity));
  const rulesArb: fc.Arbitrary<CandidateRules> = fc.record({
    maxTp: degreeCap,
    maxCp: degreeCap,
    maxPp: degreeCap,
    paradigms: fc.shuffledSubarray(['tp', 'cp', 'dp', 'sdp'] as const).map((a) => [...a]),
    dpTypes: fc.shuffledSubarray(['ddp', 'zero1', 'zero2'] as const).map((a) => [...a]),
    recompute: fc.shuffledSubarray([...RECOMPUTE_KINDS]),
    sequenceParallel: fc.constantFrom('off' as const, 'on' as const, 'both' as const),
    tpAdjacency: fc.constantFrom('tp-first' as const, 'both' as const),
  });
  const limitsArb: fc.Arbitrary<CandidateLimits> = fc.record(
    { heads: fc.integer({ min: 1, max: 64 }), kvHeads: fc.integer({ min: 1, max: 16 }), seqLen: fc.integer({ min: 1, max: 8192 }) },
    { requiredKeys: [] },
  );

  it('every candidate is valid, unique, in the documented order, and none is missing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), rulesArb, limitsArb, (n, rules, limits) => {
        const all = stageCandidates(n, rules, limits);
        for (const s of all) {
          assert.deepEqual(LayerStrategySchema.parse(s), s);
          assert.equal(s.tp * s.cp * s.dp, n);
          if (s.dp === 1) assert.equal(s.dpType, 'ddp');
          if (s.sequenceParallel) assert.ok(s.tp > 1);
          assert.ok(s.tp === 1 || s.tp <= rules.maxTp);
          assert.ok(s.cp === 1 || s.cp <= rules.maxCp);
          assert.ok(admissible(s, n, rules, limits), label(s));
        }
        for (let i = 1; i < all.length; i++) assert.ok(lexLess(orderKey(all[i - 1]!), orderKey(all[i]!)), `order at ${i}`);
        const got = all.map(label);
        assert.equal(new Set(got).size, got.length);
        assert.deepEqual(new Set(got), bruteForce(n, rules, limits));
      }),
      { numRuns: 150 },
    );
  });

  it('countCandidatesOverPp sums stageCandidates over ppDegrees', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 80 }), rulesArb, (gpus, layers, rules) => {
        const degrees = ppDegrees(gpus, layers, rules);
        assert.ok(degrees.every((p) => gpus % p === 0 && p <= layers && p <= rules.maxPp));
        const sum = degrees.reduce((acc, p) => acc + stageCandidates(gpus / p, rules).length, 0);
        assert.equal(countCandidatesOverPp(gpus, rules, layers), sum);
      }),
      { numRuns: 100 },
    );
  });
});
