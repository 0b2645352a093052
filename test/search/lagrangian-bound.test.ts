// The one-stage Lagrangian bound must never exceed the true optimum (else the search would lose plans):
// checked against an exhaustive enumeration on random option tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SuffixBound } from '../../src/search/lagrangian-bound.js';
import type { StageVector } from '../../src/search/stage-vector.js';

const vectorArb = fc.record({
  busyS: fc.double({ min: 0.001, max: 1, noNaN: true }),
  tailS: fc.double({ min: 0, max: 0.2, noNaN: true }),
  memoryBytes: fc.integer({ min: 1, max: 1000 }),
  transientBytes: fc.integer({ min: 0, max: 100 }),
});

interface Instance {
  layers: StageVector[][];
  ends: StageVector[];
  m: number;
  budget: number;
  prefixLength: number;
}

const instanceArb: fc.Arbitrary<Instance> = fc
  .record({
    layers: fc.array(fc.array(vectorArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
    ends: fc.array(vectorArb, { minLength: 1, maxLength: 3 }),
    m: fc.integer({ min: 1, max: 8 }),
    budget: fc.integer({ min: 200, max: 4000 }),
  })
  .chain((r) => fc.record({ layers: fc.constant(r.layers), ends: fc.constant(r.ends), m: fc.constant(r.m), budget: fc.constant(r.budget), prefixLength: fc.integer({ min: 0, max: r.layers.length }) }));

/** Least m·Σ busy + Σ tail over every choice of the layers from `from` on plus one end, within the memory left. */
function bruteForce(instance: Instance, from: number, prefix: StageVector): number {
  let best = Infinity;
  const walk = (l: number, sum: StageVector) => {
    if (l === instance.layers.length) {
      for (const end of instance.ends) {
        const memory = sum.memoryBytes + end.memoryBytes;
        const transient = Math.max(sum.transientBytes, end.transientBytes);
        if (memory + transient > instance.budget) continue;
        best = Math.min(best, instance.m * (sum.busyS + end.busyS) + sum.tailS + end.tailS);
      }
      return;
    }
    for (const option of instance.layers[l]!) {
      walk(l + 1, {
        busyS: sum.busyS + option.busyS,
        tailS: sum.tailS + option.tailS,
        memoryBytes: sum.memoryBytes + option.memoryBytes,
        transientBytes: Math.max(sum.transientBytes, option.transientBytes),
      });
    }
  };
  walk(from, prefix);
  return best;
}

test('the Lagrangian bound of any prefix is ≤ the best completion found by brute force', () => {
  fc.assert(
    fc.property(instanceArb, (instance) => {
      const bound = new SuffixBound(instance.layers, instance.ends, instance.m, instance.budget);
      // The prefix: the first option of each of its layers.
      let prefix: StageVector = { busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 };
      for (let l = 0; l < instance.prefixLength; l++) {
        const o = instance.layers[l]![0]!;
        prefix = { busyS: prefix.busyS + o.busyS, tailS: prefix.tailS + o.tailS, memoryBytes: prefix.memoryBytes + o.memoryBytes, transientBytes: Math.max(prefix.transientBytes, o.transientBytes) };
      }
      const optimum = bruteForce(instance, instance.prefixLength, prefix);
      const lower = bound.boundS(instance.prefixLength, prefix);
      if (Number.isFinite(optimum)) assert.ok(lower <= optimum * (1 + 1e-12), `bound ${lower} > optimum ${optimum}`);
    }),
    { numRuns: 300, seed: 20261125 },
  );
});

test('with memory to spare the bound is exact: every layer at its least m·busy + tail', () => {
  const layers: StageVector[][] = [
    [{ busyS: 1, tailS: 0.5, memoryBytes: 10, transientBytes: 0 }, { busyS: 2, tailS: 0, memoryBytes: 5, transientBytes: 0 }],
    [{ busyS: 3, tailS: 0, memoryBytes: 10, transientBytes: 0 }],
  ];
  const ends: StageVector[] = [{ busyS: 0.25, tailS: 0.125, memoryBytes: 1, transientBytes: 0 }];
  const bound = new SuffixBound(layers, ends, 2, 1e9);
  // Layer 0: min(2·1 + 0.5, 2·2 + 0) = 2.5; layer 1: 6; ends: 0.5 + 0.125.
  assert.equal(bound.boundS(0, { busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 }), 2.5 + 6 + 0.625);
});

test('a tight budget raises the bound to the only fitting choice', () => {
  // The fast option needs 100 bytes per layer, the slow one 10: with 40 bytes only the slow ones fit.
  const options: StageVector[] = [
    { busyS: 1, tailS: 0, memoryBytes: 100, transientBytes: 0 },
    { busyS: 2, tailS: 0, memoryBytes: 10, transientBytes: 0 },
  ];
  const bound = new SuffixBound([options, options], [{ busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 }], 1, 40);
  const lower = bound.boundS(0, { busyS: 0, tailS: 0, memoryBytes: 0, transientBytes: 0 });
  assert.ok(lower > 2, `memory-blind bound would be 2; got ${lower}`);
  assert.ok(lower <= 4);
});
