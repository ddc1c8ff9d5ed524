// A run directory (or store) belongs to one configuration: the first run records its settings and their
// hash (the run key); a rerun with the same settings continues, one with other settings is refused
// rather than mixed in. Stage results inside a run are cached the same way, keyed by what they depend on.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { sha256Text } from '../io/hash.ts';
import { readJson } from '../io/json.ts';

/** The run key of a settings object: sha256 of its JSON. */
function settingsKey(settings: unknown): string {
  return sha256Text(JSON.stringify(settings));
}

export interface Claim {
  key: string;
  /** The settings file, `{key, config}`. */
  file: string;
  /** Writes the settings file (atomically) if it is not there yet. */
  record(): void;
}

/**
 * Checks that `dir` holds no run with other settings (its `file`, default config.json), without writing:
 * call `record()` once the inputs have been checked, so a refused start leaves nothing behind. `extra` is
 * recorded beside the settings (e.g. where each value came from) but is not part of the run's key.
 */
export function checkClaim(
  dir: string,
  settings: unknown,
  o: { file?: string; what?: string; extra?: Record<string, unknown> } = {},
): Claim {
  const key = settingsKey(settings);
  const file = join(dir, o.file ?? 'config.json');
  if (existsSync(file) && readJson(file).key !== key) {
    throw new InputError(
      `${dir}: holds ${o.what ?? 'a run'} with other settings (${o.file ?? 'config.json'}); rerun with the same settings to resume, or use another output directory`,
    );
  }
  return {
    key,
    file,
    record: () => {
      if (existsSync(file)) return;
      mkdirSync(dir, { recursive: true });
      writeJsonAtomic(file, { key, config: settings, ...o.extra });
    },
  };
}

/** Claims `dir` for one configuration at once (check + record); returns the run key. */
export function claimRunDir(
  dir: string,
  settings: unknown,
  o: { file?: string; what?: string; extra?: Record<string, unknown> } = {},
): string {
  const c = checkClaim(dir, settings, o);
  c.record();
  return c.key;
}

/** A stage result stored as `{key, value}`: read back when its key matches, computed and written when absent, refused when written under another key. */
export async function reuseOrCompute<T>(path: string, key: string, make: () => Promise<T>): Promise<T> {
  if (existsSync(path)) {
    const saved = readJson(path);
    if (saved.key !== key) throw new InputError(`${path}: written by a run with other settings; use another --out`);
    return saved.value as T;
  }
  const value = await make();
  writeJsonAtomic(path, { key, value });
  return value;
}
