// createJudge: turns a spec (`anthropic:<model>`, `openai:<model>`, `heuristic`) into a Judge with
// validation, retries, a concurrency limit, an optional on-disk cache and failure capture.
// Configuration errors are InputErrors thrown here, before any work.
import pLimit from 'p-limit';
import { InputError } from '../errors.ts';
import type { JudgedAttempt, JudgeResult } from '../trials/types.ts';
import { anthropicChat, openaiChat, type Chat } from './backends.ts';
import { inputHash, JudgeCache } from './cache.ts';
import { HEURISTIC_NOTE, heuristicAttempts } from './heuristic.ts';
import { askJudge, JudgeGaveUp } from './llm.ts';
import { sha256Text } from '../io/hash.ts';
import { loadJudgePrompt, renderJudgePrompt } from './prompt.ts';
import { redact } from './redact.ts';
import type { Judge, JudgeInput, JudgeOptions, JudgeProvenance, JudgeStats } from './types.ts';

const REMOTE = {
  anthropic: { keyVar: 'ANTHROPIC_API_KEY', urlVar: 'ANTHROPIC_BASE_URL', chat: anthropicChat },
  openai: { keyVar: 'OPENAI_API_KEY', urlVar: 'OPENAI_BASE_URL', chat: openaiChat },
} as const;

/** Models used when a key is set and no judge is named (see defaultJudgeSpec). */
export const DEFAULT_MODELS = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini' } as const;

const EMPTY_NOTE = 'empty response: scored 0 without asking the judge';
const MAX_ERROR_CHARS = 600;

export interface JudgeSpec {
  backend: 'anthropic' | 'openai' | 'heuristic';
  model: string | null;
}

export function parseJudgeSpec(spec: string): JudgeSpec {
  if (spec === 'heuristic') return { backend: 'heuristic', model: null };
  const m = /^(anthropic|openai):(.+)$/.exec(spec);
  if (!m || !m[2].trim()) {
    throw new InputError(`--judge ${JSON.stringify(spec)}: expected anthropic:<model>, openai:<model> or heuristic`);
  }
  return { backend: m[1] as 'anthropic' | 'openai', model: m[2].trim() };
}

/** `anthropic:…` when ANTHROPIC_API_KEY is set, else `openai:…` when OPENAI_API_KEY is, else `heuristic`. */
export function defaultJudgeSpec(env: Record<string, string | undefined> = process.env): string {
  if (env.ANTHROPIC_API_KEY) return `anthropic:${DEFAULT_MODELS.anthropic}`;
  if (env.OPENAI_API_KEY) return `openai:${DEFAULT_MODELS.openai}`;
  return 'heuristic';
}

function checkNumber(name: string, value: number, min: number, integer: boolean): number {
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new InputError(
      `judge option ${name}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, found ${value}`,
    );
  }
  return value;
}

/** The endpoint as recorded: scheme, host and path only (no credentials, no query). */
function cleanBaseUrl(url: string, from: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${from} ${JSON.stringify(url)}: not a URL (expected e.g. http://127.0.0.1:8000/v1)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InputError(`${from} ${JSON.stringify(url)}: expected an http or https URL`);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

function describeError(err: unknown): string {
  const e = err as Error;
  // The SDKs' error classes keep name 'Error'; their class name says what happened.
  const kind = e?.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : 'Error';
  const text = e instanceof JudgeGaveUp ? e.message : `${kind}: ${e?.message ?? String(err)}`;
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

type Grade = (input: JudgeInput) => Promise<{ attempts: JudgedAttempt[]; raw: string; model: string | null }>;

export function createJudge(spec: string, opts: JudgeOptions = {}): Judge {
  const { backend, model } = parseJudgeSpec(spec);
  const env = opts.env ?? process.env;
  const concurrency = checkNumber('concurrency', opts.concurrency ?? 4, 1, true);
  const stats: JudgeStats = {
    judged: 0,
    cache_hits: 0,
    http_requests: 0,
    invalid_outputs: 0,
    errors: 0,
    no_attempt: 0,
    models_returned: [],
  };
  let secrets: string[] = [];
  let grade: Grade;
  let provenance: JudgeProvenance;
  let cache: JudgeCache | null = null;

  if (backend === 'heuristic') {
    if (opts.promptFile)
      throw new InputError(
        '--judge-prompt: the heuristic judge uses no prompt; name a remote judge (--judge anthropic:<model> or openai:<model>)',
      );
    if (opts.baseUrl)
      throw new InputError(
        '--judge-base-url: the heuristic judge runs offline; name a remote judge to use an endpoint',
      );
    provenance = {
      id: 'heuristic',
      backend,
      model: null,
      base_url: null,
      prompt_sha256: null,
      prompt_source: null,
      temperature: null,
      max_tokens: null,
      approximation: true,
    };
    grade = async ({ prompt, response }) => {
      const attempts = heuristicAttempts(prompt, response);
      if (attempts.some((a) => a.score === null))
        throw new Error('the prompt has no content words to compare the response with');
      return { attempts, raw: HEURISTIC_NOTE, model: null };
    };
  } else {
    const remote = REMOTE[backend];
    const apiKey = env[remote.keyVar];
    if (!apiKey) {
      throw new InputError(
        `--judge ${spec}: ${remote.keyVar} is not set (API keys are read from the environment only; use --judge heuristic to run offline)`,
      );
    }
    secrets = [apiKey];
    const rawUrl = opts.baseUrl ?? env[remote.urlVar] ?? null;
    const baseUrl =
      rawUrl === null || rawUrl === '' ? null : cleanBaseUrl(rawUrl, opts.baseUrl ? '--judge-base-url' : remote.urlVar);
    const prompt = loadJudgePrompt(opts.promptFile);
    const temperature =
      opts.temperature === undefined
        ? 0
        : opts.temperature === null
          ? null
          : checkNumber('temperature', opts.temperature, 0, false);
    const maxTokens = checkNumber('maxTokens', opts.maxTokens ?? 4096, 1, true);
    const chat: Chat = remote.chat({
      model: model!,
      apiKey,
      baseUrl: rawUrl || null,
      temperature,
      maxTokens,
      timeoutMs: checkNumber('timeoutMs', opts.timeoutMs ?? 120_000, 1, false),
      requestTimer: opts.requestTimer,
      httpRetries: checkNumber('httpRetries', opts.httpRetries ?? 4, 0, true),
      onRequest: () => void stats.http_requests++,
      maxServerWaitS:
        opts.maxServerWaitS === undefined ? undefined : checkNumber('maxServerWaitS', opts.maxServerWaitS, 0, false),
      onWait: opts.onWait,
    });
    const policy = {
      invalidOutputRetries: checkNumber('invalidOutputRetries', opts.invalidOutputRetries ?? 2, 0, true),
      backoffMs: checkNumber('backoffMs', opts.backoffMs ?? 1000, 0, false),
      onInvalid: () => void stats.invalid_outputs++,
    };
    provenance = {
      id: spec,
      backend,
      model,
      base_url: baseUrl,
      prompt_sha256: prompt.sha256,
      prompt_source: prompt.source,
      temperature,
      max_tokens: maxTokens,
      approximation: false,
    };
    if (opts.cacheDir) cache = new JudgeCache(opts.cacheDir, [spec, baseUrl, prompt.sha256, temperature, maxTokens]);
    grade = (input) => askJudge(chat, renderJudgePrompt(prompt.template, input), input.response, policy);
  }

  const id = provenance.id;
  const result = (
    attempts: JudgedAttempt[],
    raw: string | null,
    error: string | null,
    returned: string | null = null,
  ): JudgeResult => ({
    id,
    ...(returned === null ? {} : { model: returned }),
    attempts,
    raw: raw === null ? null : redact(raw, secrets),
    error: error === null ? null : redact(error, secrets),
  });
  const counted = (r: JudgeResult): JudgeResult => {
    if (!r.error && r.attempts.length === 0) stats.no_attempt++;
    if (r.model && !stats.models_returned.includes(r.model)) stats.models_returned.push(r.model);
    return r;
  };

  async function judgeOne(input: JudgeInput): Promise<JudgeResult> {
    if (!input.response.trim()) return result([{ text: '', score: 0 }], EMPTY_NOTE, null);
    const hit = cache?.get(input);
    if (hit) {
      stats.cache_hits++;
      return counted(result(hit.attempts, hit.raw, null, hit.model ?? null));
    }
    let judged: JudgeResult;
    try {
      const { attempts, raw, model: returned } = await grade(input);
      judged = counted(result(attempts, raw, null, returned));
    } catch (err) {
      stats.errors++;
      return result([], err instanceof JudgeGaveUp ? err.raw : null, `${id}: ${describeError(err)}`);
    }
    // Outside the try: a cache that cannot be written is a broken run (exit 1), not a judge failure.
    cache?.put(input, {
      judge_id: id,
      prompt_sha256: provenance.prompt_sha256!,
      input_sha256: inputHash(input),
      response_sha256: sha256Text(input.response),
      attempts: judged.attempts,
      raw: judged.raw,
      model: judged.model ?? null,
    });
    return judged;
  }

  const limit = pLimit(concurrency);
  return {
    id,
    provenance,
    stats: () => ({ ...stats, models_returned: [...stats.models_returned] }),
    judge: (input) =>
      limit(async () => {
        const r = await judgeOne(input);
        stats.judged++;
        return r;
      }),
  };
}
