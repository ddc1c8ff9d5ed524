// Checks of output paths on the file system, so that a bad one is exit 2 naming the flag, before any work.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.ts';

/** An output file path: refused when a directory (or a non-directory parent) is in the way. */
export function outFileFlag(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  if (existsSync(path) && statSync(path).isDirectory())
    throw new InputError(`--${flag} ${path}: is a directory (expected a file path)`);
  const parent = dirname(resolve(path));
  if (existsSync(parent) && !statSync(parent).isDirectory())
    throw new InputError(`--${flag} ${path}: ${parent} is not a directory`);
}

/** An output directory path: refused when a file is in the way. */
export function outDirFlag(flag: string, path: string | undefined): void {
  if (path !== undefined && existsSync(path) && !statSync(path).isDirectory())
    throw new InputError(`--${flag} ${path}: exists and is not a directory`);
}
