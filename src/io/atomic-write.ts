// Files are written whole or not at all: write a temporary sibling, then rename over the target. Only a
// new path or a regular file is replaced: renaming over a device node, a FIFO or a symlink would replace
// the node or the link itself (as root, `-o /dev/null` would replace the system's /dev/null).
import { lstatSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The target exists and is not a regular file; `code` reads as the reason in "cannot write … (code)". */
export class NotARegularFileError extends Error {
  readonly code = 'not a regular file; give a new path or a regular file';
  constructor(path: string) {
    super(`${path} is not a regular file`);
    this.name = 'NotARegularFileError';
  }
}

export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  let existing;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined; // a new path
  }
  if (existing && !existing.isFile()) throw new NotARegularFileError(path);
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, contents);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
