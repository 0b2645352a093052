// The pure part of `--model`: presets, ModelSpec / HuggingFace config objects and JSON text, the sequence
// length override, and the checks a schema cannot express. No file access, so the web page's worker runs it
// too; load.ts reads files and calls it.
import { UserInputError, zodToUserError } from '../errors.js';
import { modelFromHfConfig } from './hf-import.js';
import { MODEL_PRESETS } from './presets.js';
import { ModelSpecSchema, type ModelSpec, type ModelSpecInput } from './spec.js';

const fail = (field: string, problem: string) => new UserInputError(`model.${field}`, problem);

/** Checks the schema cannot express; fills kvHeads, ffnHidden and (T5) decoderSeqLen defaults. */
function checkSemantics(spec: ModelSpec): ModelSpec {
  const kvHeads = spec.kvHeads ?? spec.heads;
  const onlyFor = (field: keyof ModelSpec, families: ModelSpec['family'][]) => {
    if (spec[field] !== undefined && !families.includes(spec.family)) {
      throw fail(field, `only used by family ${families.join('/')}; remove it (family is ${spec.family})`);
    }
  };
  onlyFor('encoderLayers', ['t5']);
  onlyFor('decoderLayers', ['t5']);
  onlyFor('decoderSeqLen', ['t5']);
  onlyFor('image', ['vit', 'swin']);
  onlyFor('swin', ['swin']);

  if (spec.family !== 'swin' && spec.hidden % spec.heads !== 0) {
    throw fail('hidden', `${spec.hidden} is not divisible by heads ${spec.heads}; pick hidden = heads × head size`);
  }
  if (spec.heads % kvHeads !== 0) {
    throw fail('kvHeads', `heads ${spec.heads} is not divisible by kvHeads ${kvHeads}; use a divisor of heads`);
  }

  if (spec.family === 't5') {
    if (spec.encoderLayers === undefined) throw fail('encoderLayers', 'missing; T5 needs encoderLayers and decoderLayers');
    if (spec.decoderLayers === undefined) throw fail('decoderLayers', 'missing; T5 needs encoderLayers and decoderLayers');
    if (spec.encoderLayers + spec.decoderLayers !== spec.layers) {
      throw fail('layers', `${spec.layers} ≠ encoderLayers ${spec.encoderLayers} + decoderLayers ${spec.decoderLayers}; set layers to their sum`);
    }
  }

  if (spec.family === 'vit' || spec.family === 'swin') {
    const image = spec.image;
    if (!image) throw fail('image', `missing; ${spec.family} needs image {imageSize, patchSize}`);
    if (image.imageSize % image.patchSize !== 0) {
      throw fail('image.imageSize', `${image.imageSize} is not a multiple of patchSize ${image.patchSize}`);
    }
    const side = image.imageSize / image.patchSize;
    const tokens = spec.family === 'vit' ? side * side + 1 : side * side;
    if (spec.seqLen !== tokens) {
      const what = spec.family === 'vit' ? `${side}² patches + CLS` : `${side}² patches`;
      throw fail('seqLen', `${spec.seqLen} does not match the image (${what} = ${tokens}); set seqLen to ${tokens}`);
    }
    if (spec.family === 'swin') checkSwin(spec, side);
  }

  return {
    ...spec,
    kvHeads,
    ffnHidden: spec.ffnHidden ?? 4 * spec.hidden,
    ...(spec.family === 't5' ? { decoderSeqLen: spec.decoderSeqLen ?? spec.seqLen } : {}),
  };
}

function checkSwin(spec: ModelSpec, side: number): void {
  const swin = spec.swin;
  if (!swin) throw fail('swin', 'missing; swin needs swin {depths, stageHeads, windowSize}');
  if (swin.stageHeads.length !== swin.depths.length) {
    throw fail('swin.stageHeads', `has ${swin.stageHeads.length} entries but depths has ${swin.depths.length}; give one per stage`);
  }
  const depthSum = swin.depths.reduce((a, b) => a + b, 0);
  if (depthSum !== spec.layers) throw fail('layers', `${spec.layers} ≠ sum of swin.depths ${depthSum}; set layers to ${depthSum}`);
  if (spec.heads !== swin.stageHeads[0]) {
    throw fail('heads', `${spec.heads} ≠ swin.stageHeads[0] ${swin.stageHeads[0]}; heads is the first stage's`);
  }
  const downsample = 2 ** (swin.depths.length - 1);
  if (side % downsample !== 0) {
    throw fail('image.imageSize', `patch grid ${side}×${side} cannot be halved ${swin.depths.length - 1} times; use imageSize a multiple of ${spec.image?.patchSize ?? 1}·${downsample}`);
  }
  swin.stageHeads.forEach((heads, i) => {
    if ((spec.hidden * 2 ** i) % heads !== 0) {
      throw fail(`swin.stageHeads.${i}`, `stage width ${spec.hidden * 2 ** i} is not divisible by ${heads} heads`);
    }
  });
}

/** Schema parse plus semantic checks (used for presets and files alike). */
export function resolveModelSpec(input: ModelSpecInput): ModelSpec {
  const parsed = ModelSpecSchema.safeParse(input);
  if (!parsed.success) throw zodToUserError('model', parsed.error, input);
  return checkSemantics(parsed.data);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

export function unknownPreset(arg: string): UserInputError {
  const close = Object.keys(MODEL_PRESETS)
    .map((id) => ({ id, d: editDistance(arg.toLowerCase(), id) }))
    .sort((x, y) => x.d - y.d)
    .slice(0, 3)
    .map((x) => x.id);
  return new UserInputError(
    'model',
    `unknown preset "${arg}" (closest: ${close.join(', ')}); \`galvatron models\` lists them, or pass a path to a JSON file`,
  );
}

/** A preset's spec (a copy), or undefined for an unknown id (case-insensitive; own keys only). */
export function presetModelInput(id: string): ModelSpecInput | undefined {
  const key = id.toLowerCase();
  return Object.hasOwn(MODEL_PRESETS, key) ? structuredClone(MODEL_PRESETS[key]!) : undefined;
}

/**
 * A parsed JSON value holding a ModelSpec (has "family") or a HuggingFace config.json (has "model_type").
 * `field` is the field named by refusals; `name` labels a spec that has none.
 */
export function modelInputFromJson(json: unknown, field: string, name: string): ModelSpecInput {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserInputError(field, 'must hold a JSON object (a ModelSpec or a HuggingFace config.json)');
  }
  const obj = json as Record<string, unknown>;
  if ('family' in obj) {
    // A hand-written spec may leave out its name; the file name serves.
    return (obj.name === undefined ? { ...obj, name } : obj) as ModelSpecInput;
  }
  if ('model_type' in obj) return modelFromHfConfig(obj, name);
  throw new UserInputError(field, 'neither a ModelSpec (no "family") nor a HuggingFace config.json (no "model_type"); add one');
}

/** JSON text holding a ModelSpec or a HuggingFace config.json; `fix` ends the refusal of text that is not JSON. */
export function modelInputFromText(text: string, field: string, name: string, fix = 'fix the file'): ModelSpecInput {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/\s+/g, ' ') : 'parse error';
    throw new UserInputError(field, `invalid JSON (${why}); ${fix}`);
  }
  return modelInputFromJson(json, field, name);
}

/** The spec with `seqLen` as its sequence length (T5: encoder side), refused where it cannot apply. */
export function withSeqLen(input: ModelSpecInput, seqLen: number | undefined): ModelSpecInput {
  if (seqLen === undefined) return input;
  if (!Number.isInteger(seqLen) || seqLen <= 0) {
    throw new UserInputError('seqLen', `must be a positive whole number (got ${seqLen})`);
  }
  if (input.family === 'vit' || input.family === 'swin') {
    throw new UserInputError('seqLen', `${input.family} models take their token count from image.imageSize / image.patchSize; change those instead`);
  }
  return { ...input, seqLen };
}
