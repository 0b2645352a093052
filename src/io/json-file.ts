// Reading a JSON file the user named by a flag: its parsed contents, or a one-line refusal naming the flag.
import { readFileSync } from 'node:fs';
import { UserInputError } from '../errors.js';

/** `writeWith`: the command that writes such a file at `path`; `writtenBy`: the command that writes such files. */
export function readJsonFile(field: string, path: string, hints: { writeWith: string; writtenBy: string }): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserInputError(field, code === 'ENOENT' ? `${path} does not exist; write one with \`${hints.writeWith}\`` : `cannot read ${path} (${code ?? 'error'})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserInputError(field, `${path} is not JSON (${(error as Error).message}); pass a file written by \`${hints.writtenBy}\``);
  }
}
