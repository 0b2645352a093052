// `--profile <file>`: our galvatron.profile/v1 JSON, or one of Galvatron's computation/hardware profiles.
import { readFileSync } from 'node:fs';
import { UserInputError, zodToUserError } from '../errors.js';
import { layerGroups } from '../model/derived.js';
import type { ModelSpec } from '../model/spec.js';
import { isGalvatronProfile, profileFromGalvatron } from './galvatron-import.js';
import { ProfileSchema, type Profile } from './schema.js';

export function loadProfile(path: string, model: ModelSpec, gpusPerNode: number): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserInputError('--profile', `cannot read file "${path}" (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserInputError('--profile', `"${path}" is not valid JSON (${(error as Error).message}); fix the file`);
  }
  if (isGalvatronProfile(json)) {
    const typeIds = [...new Set(layerGroups(model).map((g) => g.shape.typeId))];
    return profileFromGalvatron(json as Record<string, unknown>, typeIds, gpusPerNode);
  }
  const parsed = ProfileSchema.safeParse(json);
  if (!parsed.success) throw zodToUserError('profile', parsed.error, json);
  const known = new Set(layerGroups(model).map((g) => g.shape.typeId));
  for (const id of Object.keys(parsed.data.layerTypes)) {
    if (!known.has(id)) {
      throw new UserInputError(`profile.layerTypes.${id}`, `the model has no layer type "${id}" (it has ${[...known].join(', ')}); rename or remove it`);
    }
  }
  return parsed.data;
}
