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

export interface ClaimOptions {
  /** The settings file (default config.json). */
  file?: string;
  /** What the directory holds, for messages (default "a run"). */
  what?: string;
  /**
   * Whether the run recorded there has finished any unit of work (a trial, a committed batch). A run that
   * has not — one that failed before its first unit — does not block a run with other settings: the new
   * one takes the directory over (said on `log`). Default: a recorded run always counts as started.
   */
  started?: () => boolean;
  log?: (line: string) => void;
  /** Recorded beside the settings (e.g. where each value came from), not part of the run's key. */
  extra?: Record<string, unknown>;
}

/**
 * Checks that `dir` holds no started run with other settings (its `file`, default config.json), without
 * writing: call `record()` once the inputs have been checked, so a refused start leaves nothing behind. `extra`
 * is recorded beside the settings (e.g. where each value came from) but is not part of the run's key.
 */
export function checkClaim(dir: string, settings: unknown, o: ClaimOptions = {}): Claim {
  const key = settingsKey(settings);
  const name = o.file ?? 'config.json';
  const file = join(dir, name);
  let replace = false;
  if (existsSync(file) && readJson(file).key !== key) {
    if (o.started?.() ?? true) {
      throw new InputError(
        `${dir}: holds ${o.what ?? 'a run'} with other settings (${name}); rerun with the same settings to resume, or use another output directory`,
      );
    }
    replace = true;
  }
  return {
    key,
    file,
    record: () => {
      if (existsSync(file) && !replace) return;
      if (replace)
        o.log?.(`${dir}: ${name} was left by a run with other settings that finished nothing; this run replaces it`);
      mkdirSync(dir, { recursive: true });
      writeJsonAtomic(file, { key, config: settings, ...o.extra });
      replace = false;
    },
  };
}

/** Claims `dir` for one configuration at once (check + record); returns the run key. */
export function claimRunDir(dir: string, settings: unknown, o: ClaimOptions = {}): string {
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
