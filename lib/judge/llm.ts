// Asks a chat model for a judgment, re-asking (bounded, with backoff) when the output is unusable.
import type { JudgedAttempt } from '../trials/types.ts';
import type { Chat, ChatMessage } from './backends.ts';
import type { Budget } from './http.ts';
import { InvalidJudgeOutput, type JudgeFormat, parseJudgment } from './parse.ts';
import { capRaw } from '../trials/store.ts';

export interface LlmJudgment {
  attempts: JudgedAttempt[];
  raw: string;
  format: JudgeFormat;
  /** The model id the API returned. */
  model: string | null;
}

export interface RetryPolicy {
  /** Extra tries after an invalid output. */
  invalidOutputRetries: number;
  /** Wait backoffMs · 2^i before retry i (within the judgment's budget). */
  backoffMs: number;
  onInvalid: () => void;
}

/** Thrown when every try gave an unusable output; carries the last output for the record. */
export class JudgeGaveUp extends Error {
  constructor(
    message: string,
    readonly raw: string | null,
  ) {
    super(message);
    this.name = 'JudgeGaveUp';
  }
}

/**
 * Sends the rendered judge prompt; on an invalid output, shows the model its reply and what was
 * wrong with it, and asks again. HTTP-level failures are thrown (the HTTP policy has retried them already).
 */
export async function askJudge(
  chat: Chat,
  judgePrompt: string,
  response: string,
  policy: RetryPolicy,
  budget: Budget,
): Promise<LlmJudgment> {
  const first: ChatMessage = { role: 'user', content: judgePrompt };
  let messages = [first];
  let problem = '';
  let raw = '';
  for (let attempt = 0; attempt <= policy.invalidOutputRetries; attempt++) {
    if (attempt > 0) {
      try {
        await budget.wait(policy.backoffMs * 2 ** (attempt - 1), `re-asking after an invalid output: ${problem}`);
      } catch (err) {
        throw new JudgeGaveUp((err as Error).message, capRaw(raw));
      }
    }
    const reply = await chat(messages, budget);
    raw = reply.text;
    try {
      const parsed = parseJudgment(raw, response);
      return { attempts: parsed.attempts, raw: capRaw(raw), format: parsed.format, model: reply.model };
    } catch (err) {
      if (!(err instanceof InvalidJudgeOutput)) throw err;
      policy.onInvalid();
      problem = err.message + (reply.truncated ? ' (the output hit the token limit)' : '');
    }
    messages = [
      first,
      { role: 'assistant', content: capRaw(raw.trim()) || '(empty reply)' },
      {
        role: 'user',
        content: `That reply could not be used: ${problem}. Answer again, following the instructions exactly: one JSON object inside the tags they name.`,
      },
    ];
  }
  throw new JudgeGaveUp(`invalid output after ${policy.invalidOutputRetries + 1} tries: ${problem}`, capRaw(raw));
}
