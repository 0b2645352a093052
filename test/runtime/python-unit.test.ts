// The executor's own unit tests (python/tests: plan parsing, schedule order and deadlock-freedom, the
// single-process model) run under Node's test runner too, so CI counts and reports them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runtimeEnv } from '../../src/runtime/launch.js';
import { PYTHON_DIR, pythonEnvReady, venvPython } from '../../src/runtime/python-env.js';

test('python/tests (unittest) pass', () => {
  assert.ok(pythonEnvReady(), 'the Python environment is missing: run `npm test` (it sets up .venv) or `npm run setup:python`');
  const run = spawnSync(venvPython(), ['-m', 'unittest', 'discover', '-s', `${PYTHON_DIR}/tests`, '-t', PYTHON_DIR], { env: runtimeEnv('cpu'), encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr.slice(-4000));
  const ran = /Ran (\d+) tests?/.exec(run.stderr);
  assert.ok(ran && Number(ran[1]) >= 20, `expected the runtime's unit tests to run: ${run.stderr.slice(-500)}`);
});
