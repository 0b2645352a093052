import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { profileJob, profileWindow } from '../../src/runtime/profile-job.js';

test('each timed profiler run covers 8 samples, never more than the largest micro-batch measured', () => {
  assert.equal(profileWindow([1, 2, 4, 8, 16]), 8);
  assert.equal(profileWindow([1, 2, 4]), 4);
  assert.equal(profileWindow([1]), 1);
  const job = profileJob({ model: loadModel('examples/small-gpt.json'), device: 'cpu', dtype: 'float32', ranks: 8, quick: false, maxMicroBatch: 16 });
  assert.deepEqual(job.microBatches, [1, 2, 4, 8, 16]);
  assert.equal(job.window, 8);
});
