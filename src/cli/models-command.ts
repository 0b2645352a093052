// `galvatron models`: the model presets with their shapes and parameter counts.
import type { Command } from 'commander';
import { parameterCounts } from '../model/derived.js';
import { loadModel } from '../model/load.js';
import { listModelPresets } from '../model/presets.js';
import { num, table } from './format.js';

export interface ModelRow {
  id: string;
  name: string;
  family: string;
  parameters: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffnHidden: number;
  vocab: number;
  seqLen: number;
  source: string;
}

export function modelRows(): ModelRow[] {
  return listModelPresets().map((preset) => {
    const spec = loadModel(preset.id);
    return {
      id: preset.id,
      name: spec.name,
      family: spec.family,
      parameters: parameterCounts(spec).total,
      layers: spec.layers,
      hidden: spec.hidden,
      heads: spec.heads,
      kvHeads: spec.kvHeads ?? spec.heads,
      ffnHidden: spec.ffnHidden ?? 4 * spec.hidden,
      vocab: spec.vocab,
      seqLen: spec.seqLen,
      source: preset.source,
    };
  });
}

function runModels(opts: { json?: boolean }): void {
  const rows = modelRows();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const params = (n: number) => (n >= 1e9 ? num(n / 1e9, 2) : num(n / 1e9, 3));
  process.stdout.write(
    `${table(
      ['id', 'name', 'family', 'params (B)', 'layers', 'hidden', 'heads', 'kv', 'seq'],
      rows.map((r) => [r.id, r.name, r.family, params(r.parameters), String(r.layers), num(r.hidden), String(r.heads), String(r.kvHeads), num(r.seqLen)]),
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
    )}\n`,
  );
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .summary('list the model presets')
    .description('List the model presets: shape, parameter count and sequence length. Pass an id to --model.')
    .option('--json', 'print one JSON array (with ffnHidden, vocab and source too) on stdout')
    .addHelpText('after', '\nExamples:\n  $ galvatron models\n  $ galvatron models --json')
    .action((opts: { json?: boolean }) => runModels(opts));
}
