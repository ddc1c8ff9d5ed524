// Checks of numeric flags, so that a bad value is exit 2 naming the flag and what it expects, before any work.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.ts';

/** An integer ≥ min (yargs turns `--seed abc` into NaN: refused here). Undefined passes (optional flags). */
export function intFlag(flag: string, v: number | undefined, min = 0): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
    throw new InputError(`--${flag}: expected an integer ≥ ${min}, found ${v}`);
}

/** A finite number in [min, max] (either bound open when `open` names it). Undefined passes. */
export function numberFlag(
  flag: string,
  v: number | undefined,
  min: number,
  max = Infinity,
  open: { min?: boolean; max?: boolean } = {},
): void {
  if (v === undefined) return;
  const ok = Number.isFinite(v) && (open.min ? v > min : v >= min) && (open.max ? v < max : v <= max);
  if (!ok)
    throw new InputError(
      `--${flag}: expected a number in ${open.min ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}${open.max ? ')' : ']'}`}, found ${v}`,
    );
}

/** The sampling flags shared by generate, find-otd-latents and ablate (those the command has). */
export function checkSamplingFlags(a: {
  'max-tokens'?: number;
  temperature?: number;
  'top-p'?: number;
  'top-k'?: number;
  'repetition-penalty'?: number;
  seed?: number;
}): void {
  intFlag('max-tokens', a['max-tokens'], 1);
  numberFlag('temperature', a.temperature, 0);
  numberFlag('top-p', a['top-p'], 0, 1, { min: true });
  intFlag('top-k', a['top-k'], 0);
  numberFlag('repetition-penalty', a['repetition-penalty'], 0, Infinity, { min: true });
  if (a.seed !== undefined && !Number.isSafeInteger(a.seed))
    throw new InputError(`--seed: expected an integer, found ${a.seed}`);
}

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
