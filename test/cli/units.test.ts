// In-process tests of the CLI's small helpers (no spawning).
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { describe, it } from 'node:test';
import { commanderMessage, reportError } from '../../src/cli/errors.js';
import { colorEnabled, layerRanges, ms, sig } from '../../src/cli/format.js';
import { commandLine, oneOf, positiveInt, positiveNumber } from '../../src/cli/parsers.js';
import { RunFailure, UserInputError } from '../../src/errors.js';

const userError = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof UserInputError && e.message === message);

describe('option parsers', () => {
  it('accept good values and name the flag on bad ones', () => {
    assert.equal(positiveInt('--tp')('8'), 8);
    for (const bad of ['x', '0', '-1', '1.5', '', '1e3']) userError(() => positiveInt('--tp')(bad), `--tp: must be a positive whole number, got "${bad}"`);
    assert.equal(positiveNumber('--memory-gib')('39.5'), 39.5);
    userError(() => positiveNumber('--memory-gib')('-3'), '--memory-gib: must be a positive number, got "-3"');
    assert.equal(oneOf('--recompute', ['none', 'full'] as const)('FULL'), 'full');
    userError(() => oneOf('--recompute', ['none', 'full'] as const)('half'), '--recompute: must be one of none, full, got "half"');
  });

  it('quote the command line only where needed', () => {
    assert.equal(commandLine(['estimate', '--model', 'my model.json', '--tp', '2']), "galvatron estimate --model 'my model.json' --tp 2");
  });
});

describe('errors', () => {
  const capture = () => {
    let text = '';
    return { stream: { write: (t: string) => (text += t) }, text: () => text };
  };

  it('bad input exits 2 with one line; unexpected errors exit 1', () => {
    const out = capture();
    assert.equal(reportError(new UserInputError('--tp', 'bad\nvalue; fix it'), out.stream), 2);
    assert.equal(out.text(), 'galvatron: --tp: bad value; fix it\n');
    const other = capture();
    assert.equal(reportError(new Error('boom'), other.stream), 1);
    assert.match(other.text(), /^galvatron: unexpected error: boom\n$/);
    const failed = capture();
    assert.equal(reportError(new RunFailure('training stopped: torchrun exited with code 1'), failed.stream), 1);
    assert.equal(failed.text(), 'galvatron: training stopped: torchrun exited with code 1\n');
  });

  it('rewords commander errors field first; help exits 0', () => {
    const missing = new CommanderError(1, 'commander.missingMandatoryOptionValue', "error: required option '--global-batch <samples>' not specified");
    assert.equal(commanderMessage(missing), '--global-batch: required; add --global-batch <samples>');
    const value = new CommanderError(1, 'commander.optionMissingArgument', "error: option '-o, --output <file>' argument missing");
    assert.equal(commanderMessage(value), '--output: needs a value; write --output <file>');
    const out = capture();
    assert.equal(reportError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), out.stream), 0);
    assert.equal(out.text(), '');
  });
});

describe('format', () => {
  it('colour only on a terminal without NO_COLOR', () => {
    assert.equal(colorEnabled({ isTTY: true }, {}), true);
    assert.equal(colorEnabled({ isTTY: false }, {}), false);
    assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  });

  it('numbers and layer ranges', () => {
    assert.equal(ms(28.8951), '28,895');
    assert.equal(sig(0.012345), '0.0123');
    assert.equal(sig(3.14159), '3.14');
    assert.equal(layerRanges([{ start: 0, end: 12 }, { start: 24, end: 25 }]), '0–11, 24');
  });
});
