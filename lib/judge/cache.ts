// On-disk judge cache: one JSON file per key, written atomically, so a kill mid-write leaves either
// nothing or a whole entry (a stray temp file is ignored). Only successful judgments are cached.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import type { JudgedAttempt } from '../trials/types.ts';
import { sha256Text } from '../io/hash.ts';
import type { JudgeInput } from './types.ts';

export interface CacheEntry {
  judge_id: string;
  prompt_sha256: string;
  /** sha256 of the judge input (prompt, response, feature label). */
  input_sha256: string;
  /** sha256 of the response alone, for inspection. */
  response_sha256: string;
  attempts: JudgedAttempt[];
  raw: string | null;
  /** The model id the API returned (absent in entries written before it was recorded). */
  model?: string | null;
}

/** Hash of everything the judgment depends on besides the judge: the trial's prompt, response and label. */
export function inputHash(input: JudgeInput): string {
  return sha256Text(JSON.stringify([input.prompt, input.response, input.featureLabel]));
}

export class JudgeCache {
  constructor(
    private readonly dir: string,
    /** Judge settings that change the judgment (id, endpoint, prompt hash, temperature, …). */
    private readonly settings: readonly unknown[],
  ) {}

  private path(input: JudgeInput): string {
    const key = sha256Text(JSON.stringify([...this.settings, inputHash(input)]));
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached entry, or null when absent or unreadable (then it is recomputed and rewritten). */
  get(input: JudgeInput): CacheEntry | null {
    try {
      return JSON.parse(readFileSync(this.path(input), 'utf8')) as CacheEntry;
    } catch {
      return null;
    }
  }

  put(input: JudgeInput, entry: CacheEntry): void {
    writeJsonAtomic(this.path(input), entry);
  }
}
