// Parses and validates a judge model's output, in either of two formats:
// - ours: `<result>{"attempts": [{"text", "score"}]}</result>` (at least one attempt);
// - the paper's: free-form feedback, then `<json>{"attempts": [{"attempt_text", "score"}]}</json>`,
//   where an empty list means the response holds no attempt (e.g. only a clarifying question).
// Every attempt text must be found verbatim in the response (whitespace differences tolerated).
import type { JudgedAttempt } from '../trials/types.ts';
import { shown } from '../io/json.ts';

/** The model's output was unusable; the message says why (it is fed back to the model on retry). */
export class InvalidJudgeOutput extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJudgeOutput';
  }
}

export type JudgeFormat = 'result' | 'paper';

export interface ParsedJudgment {
  format: JudgeFormat;
  /** Empty only in the paper's format: the judge found no attempt in the response. */
  attempts: JudgedAttempt[];
  /** The paper's format: the free-form feedback before the `<json>` block (trimmed); else null. */
  feedback: string | null;
}

const FORMATS = {
  result: { re: /<result>([\s\S]*?)<\/result>/gi, tag: '<result>', textKey: 'text', allowEmpty: false },
  paper: { re: /<json>([\s\S]*?)<\/json>/gi, tag: '<json>', textKey: 'attempt_text', allowEmpty: true },
} as const;

/** Collapses runs of whitespace, so a judge that re-wraps lines still matches the response. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Removes a Markdown code fence some models put around JSON. */
function unfence(text: string): string {
  const m = /^\s*```[a-zA-Z]*\s*\n?([\s\S]*?)\n?\s*```\s*$/.exec(text);
  return m ? m[1] : text;
}

/**
 * Returns the attempts of the last `<result>` block, or (when there is none) of the last `<json>` block.
 * Throws InvalidJudgeOutput when neither block is present, the block is not JSON, has no attempts
 * array, has an empty one (ours only), has a score that is not a number in [0, 100], or an attempt
 * text that is empty or not found in the response.
 */
export function parseJudgment(raw: string, response: string): ParsedJudgment {
  let format: JudgeFormat = 'result';
  let blocks = [...raw.matchAll(FORMATS.result.re)];
  if (!blocks.length) {
    format = 'paper';
    blocks = [...raw.matchAll(FORMATS.paper.re)];
  }
  if (!blocks.length) throw new InvalidJudgeOutput('no <result>…</result> (or <json>…</json>) block in the output');
  const f = FORMATS[format];
  const last = blocks[blocks.length - 1];
  let parsed: unknown;
  try {
    parsed = JSON.parse(unfence(last[1]));
  } catch (err) {
    throw new InvalidJudgeOutput(`the ${f.tag} block is not valid JSON (${(err as Error).message})`);
  }
  const attempts = (parsed as { attempts?: unknown } | null)?.attempts;
  if (!Array.isArray(attempts)) throw new InvalidJudgeOutput('the result has no "attempts" array');
  if (!attempts.length && !f.allowEmpty)
    throw new InvalidJudgeOutput('"attempts" is empty (expected at least one attempt)');
  const out = checkedAttempts(attempts, response, f.textKey);
  return { format, attempts: out, feedback: format === 'paper' ? raw.slice(0, last.index).trim() : null };
}

/**
 * Attempts as a judge (or a cache entry) gives them, checked: each `{[textKey]: non-empty string found
 * verbatim in the response, score: number in [0, 100]}`. Throws InvalidJudgeOutput naming the first bad one.
 */
export function checkedAttempts(attempts: unknown[], response: string, textKey = 'text'): JudgedAttempt[] {
  const haystack = squash(response);
  return attempts.map((a: unknown, i) => {
    const entry = (a ?? {}) as Record<string, unknown>;
    const text = entry[textKey];
    const score = entry.score;
    const where = `attempt ${i + 1}`;
    if (typeof text !== 'string' || !text.trim())
      throw new InvalidJudgeOutput(`${where}: "${textKey}" must be a non-empty string`);
    if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) {
      throw new InvalidJudgeOutput(`${where}: "score" must be a number in 0–100, found ${shown(score)}`);
    }
    if (!haystack.includes(squash(text))) {
      throw new InvalidJudgeOutput(`${where}: its text is not found verbatim in the response`);
    }
    return { text, score };
  });
}

/** The attempts alone (see parseJudgment). */
export function parseJudgeOutput(raw: string, response: string): JudgedAttempt[] {
  return parseJudgment(raw, response).attempts;
}
