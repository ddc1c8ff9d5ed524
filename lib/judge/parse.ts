// Parses and validates a judge model's output: <result>{"attempts":[{"text","score"}]}</result>.
import type { JudgedAttempt } from '../trials/types.ts';

/** The model's output was unusable; the message says why (it is fed back to the model on retry). */
export class InvalidJudgeOutput extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidJudgeOutput';
  }
}

const RESULT_RE = /<result>([\s\S]*?)<\/result>/gi;

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
 * Returns the attempts of the last <result> block, or throws InvalidJudgeOutput when the block is
 * missing, is not JSON, has no attempts, has a score that is not a number in [0, 100], or has an
 * attempt text that is empty or not found in the response (whitespace differences are tolerated).
 */
export function parseJudgeOutput(raw: string, response: string): JudgedAttempt[] {
  const blocks = [...raw.matchAll(RESULT_RE)];
  if (!blocks.length) throw new InvalidJudgeOutput('no <result>…</result> block in the output');
  const body = unfence(blocks[blocks.length - 1][1]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new InvalidJudgeOutput(`the <result> block is not valid JSON (${(err as Error).message})`);
  }
  const attempts = (parsed as { attempts?: unknown } | null)?.attempts;
  if (!Array.isArray(attempts)) throw new InvalidJudgeOutput('the result has no "attempts" array');
  if (!attempts.length) throw new InvalidJudgeOutput('"attempts" is empty (expected at least one attempt)');
  const haystack = squash(response);
  return attempts.map((a: unknown, i) => {
    const { text, score } = (a ?? {}) as { text?: unknown; score?: unknown };
    const where = `attempt ${i + 1}`;
    if (typeof text !== 'string' || !text.trim()) throw new InvalidJudgeOutput(`${where}: "text" must be a non-empty string`);
    if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) {
      throw new InvalidJudgeOutput(`${where}: "score" must be a number in 0–100, found ${JSON.stringify(score)}`);
    }
    if (!haystack.includes(squash(text))) {
      throw new InvalidJudgeOutput(`${where}: its text is not found verbatim in the response`);
    }
    return { text, score };
  });
}
