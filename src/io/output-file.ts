// Writing a file the user named (-o and friends): whole or not at all, and a refusal that names the flag.
import { UserInputError } from '../errors.js';
import { NotARegularFileError, writeFileAtomic } from './atomic-write.js';

export function writeOutputFile(field: string, path: string, contents: string | Uint8Array): void {
  try {
    writeFileAtomic(path, contents);
  } catch (error) {
    if (error instanceof NotARegularFileError) {
      throw new UserInputError(field, `"${path}" is not a regular file (a device, FIFO, directory or symlink), and is left as it is; give a new path or a regular file`);
    }
    const code = (error as NodeJS.ErrnoException).code ?? 'write error';
    throw new UserInputError(field, `cannot write "${path}" (${code}); check that its folder exists and is writable`);
  }
}
