// Where settings come from besides the caller: the SAE's esr_defaults.json (per-SAE defaults, e.g. the
// shipped organism's steering layer and labels file) and whether the shipped model and SAE are in use.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { isShippedDefault } from './shipped.ts';
import type { SaeDefaults, Sources } from './table.ts';

export const SAE_DEFAULTS_FILE = 'esr_defaults.json';

/** The defaults file beside an SAE (a directory, or a file inside one): its values by key; null when there is none. */
export function readSaeDefaults(sae: string): SaeDefaults | null {
  const dir = existsSync(sae) && statSync(sae).isDirectory() ? sae : dirname(sae);
  const file = join(dir, SAE_DEFAULTS_FILE);
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: not JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new InputError(`${file}: expected a JSON object`);
  return { file, dir, values: json as Record<string, unknown> };
}

/** The sources of a stage's settings for this model and SAE. */
export function settingSources(paths: { model: string; sae: string }): Sources {
  return { shipped: isShippedDefault(paths), sae: readSaeDefaults(paths.sae) };
}
