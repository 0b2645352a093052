// `--profile <file>` (repeatable): our galvatron.profile/v2 or v1 JSON, or one of Galvatron's computation
// and hardware profiles. Every file loads into the v2 form; several combine (src/profile/combine.ts).
import { readFileSync } from 'node:fs';
import { UserInputError, zodToUserError } from '../errors.js';
import { layerGroups } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { combineProfiles } from './combine.js';
import { isGalvatronProfile, profileFromGalvatron } from './galvatron-import.js';
import { PROFILE_FORMAT, PROFILE_FORMAT_V1, profileFromV1, ProfileV1Schema, ProfileV2Schema, type Profile } from './schema.js';

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserInputError('profile', `cannot read file "${path}" (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserInputError('profile', `"${path}" is not valid JSON (${(error as Error).message}); fix the file`);
  }
}

/** The zod error as a UserInputError naming the field, with the file it is in. */
function fieldError(error: Parameters<typeof zodToUserError>[1], json: unknown, path: string): UserInputError {
  const e = zodToUserError('profile', error, json);
  return new UserInputError(e.field, `${e.detail} (in "${path}")`);
}

/** One file in the v2 form (not yet checked against a model). */
export function parseProfileJson(json: unknown, path: string, model: ModelSpec, gpusPerNode: number): Profile {
  if (isGalvatronProfile(json)) {
    const typeIds = [...new Set(layerGroups(model).map((g) => g.shape.typeId))];
    return profileFromGalvatron(json as Record<string, unknown>, typeIds, gpusPerNode, model.seqLen);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UserInputError('profile', `"${path}" holds ${Array.isArray(json) ? 'an array' : String(json)}; expected a ${PROFILE_FORMAT} object (\`galvatron profile\` writes one)`);
  }
  const format = (json as { format?: unknown }).format;
  if (format === PROFILE_FORMAT) {
    const parsed = ProfileV2Schema.safeParse(json);
    if (!parsed.success) throw fieldError(parsed.error, json, path);
    return parsed.data;
  }
  if (format === PROFILE_FORMAT_V1) {
    const parsed = ProfileV1Schema.safeParse(json);
    if (!parsed.success) throw fieldError(parsed.error, json, path);
    return profileFromV1(parsed.data);
  }
  const problem = format === undefined ? 'missing' : `${JSON.stringify(format)} is not a profile format`;
  throw new UserInputError('profile.format', `${problem} in "${path}"; expected "${PROFILE_FORMAT}" (or "${PROFILE_FORMAT_V1}", or Galvatron's profile keys)`);
}

function checkLayerTypes(profile: Profile, model: ModelSpec): void {
  const known = new Set(layerGroups(model).map((g) => g.shape.typeId));
  for (const id of Object.keys(profile.layerTypes)) {
    if (!known.has(id)) {
      throw new UserInputError(`profile.layerTypes.${id}`, `the model has no layer type "${id}" (it has ${[...known].join(', ')}); rename or remove it`);
    }
  }
}

/** One `--profile` file. */
export function loadProfile(path: string, model: ModelSpec, gpusPerNode: number): Profile {
  const profile = parseProfileJson(readJson(path), path, model, gpusPerNode);
  checkLayerTypes(profile, model);
  return profile;
}

/** Every `--profile` given, combined into one (a measurement given twice with different values is an error). */
export function loadProfiles(paths: readonly string[], model: ModelSpec, gpusPerNode: number): Profile {
  if (paths.length === 0) throw new UserInputError('profile', 'needs a file');
  return combineProfiles(paths.map((path) => ({ path, profile: loadProfile(path, model, gpusPerNode) })));
}
