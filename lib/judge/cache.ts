// On-disk judge cache: one JSON file per key, written atomically, so a kill mid-write leaves either
// nothing or a whole entry. Only successful judgments are cached. An entry is read back as warily as a
// server's reply: one that is not JSON, belongs to another judge or input, or holds attempts a judge
// could not have given (a score of 150, a text not in the response) is a miss, with a warning, and is
// replaced by the fresh judgment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { sha256Text } from '../io/hash.ts';
import type { JudgedAttempt } from '../trials/types.ts';
import { checkedAttempts } from './parse.ts';
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

const nullableString = (v: unknown): v is string | null | undefined =>
  v === undefined || v === null || typeof v === 'string';

/** Why `value` cannot be the cached judgment of `input` by `judgeId`, or null when it can. */
function problemWith(value: unknown, input: JudgeInput, judgeId: string): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const e = value as Record<string, unknown>;
  if (e.judge_id !== judgeId) return `judge_id is not ${JSON.stringify(judgeId)}`;
  if (e.input_sha256 !== inputHash(input)) return 'input_sha256 does not match the trial';
  if (!Array.isArray(e.attempts)) return 'attempts is not a list';
  if (!nullableString(e.raw) || !nullableString(e.model)) return 'raw and model must be strings or null';
  try {
    checkedAttempts(e.attempts, input.response);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

export class JudgeCache {
  constructor(
    private readonly dir: string,
    /** Judge settings that change the judgment (id, endpoint, prompt hash, temperature, …). */
    private readonly settings: readonly unknown[],
    private readonly judgeId: string,
    /** Told of each entry refused (default: stderr). */
    private readonly warn: (line: string) => void = (line) => console.error(`warning: ${line}`),
  ) {}

  private path(input: JudgeInput): string {
    const key = sha256Text(JSON.stringify([...this.settings, inputHash(input)]));
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached entry; null when absent, or unusable (then said, recomputed and rewritten). */
  get(input: JudgeInput): CacheEntry | null {
    const path = this.path(input);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return null; // absent: an ordinary miss
    }
    let value: unknown;
    let problem: string | null;
    try {
      value = JSON.parse(text);
      problem = problemWith(value, input, this.judgeId);
    } catch (err) {
      problem = `not JSON (${(err as Error).message})`;
    }
    if (problem !== null) {
      this.warn(`judge cache entry ${path} ignored (${problem}); judging again`);
      return null;
    }
    return value as CacheEntry;
  }

  put(input: JudgeInput, entry: CacheEntry): void {
    writeJsonAtomic(this.path(input), entry);
  }
}
