// Turns a --model argument (preset id or JSON file) into a validated ModelSpec. The pure part (presets,
// spec objects, checks) is resolve.ts; this module adds the file.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve as resolvePath } from 'node:path';
import { UserInputError } from '../errors.js';
import { modelInputFromText, presetModelInput, resolveModelSpec, unknownPreset, withSeqLen } from './resolve.js';
import type { ModelSpec, ModelSpecInput } from './spec.js';

export { resolveModelSpec } from './resolve.js';

/** Name for a spec read from a file: the file stem, or the folder for a HF `config.json`. */
function nameFromPath(path: string): string {
  const file = basename(path);
  if (file === 'config.json') return basename(dirname(resolvePath(path)));
  return basename(file, extname(file));
}

function readModelFile(path: string): ModelSpecInput {
  const field = `model ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new UserInputError(field, `cannot read file (${code}); check the path`);
  }
  return modelInputFromText(text, field, nameFromPath(path));
}

const looksLikePath = (arg: string) => arg.includes('/') || arg.includes('\\') || arg.toLowerCase().endsWith('.json');

/**
 * `--model` argument → ModelSpec: a preset id, or a JSON file holding a ModelSpec (has "family") or a
 * HuggingFace config.json (has "model_type"). `seqLen` overrides the sequence length (T5: encoder side).
 */
export function loadModel(arg: string, opts: { seqLen?: number } = {}): ModelSpec {
  let input = presetModelInput(arg);
  if (!input) {
    if (looksLikePath(arg) || existsSync(arg)) input = readModelFile(arg);
    else throw unknownPreset(arg);
  }
  return resolveModelSpec(withSeqLen(input, opts.seqLen));
}
