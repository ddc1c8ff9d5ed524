// createJudge: turns a spec (`anthropic:<model>`, `openai:<model>`, `heuristic`, `organism[:PATH]`) into a Judge with
// validation, retries, a concurrency limit, an optional on-disk cache and failure capture.
// Configuration errors are InputErrors thrown here, before any work.
import { rateLimited } from './rate.ts';
import pLimit from 'p-limit';
import { InputError, SettingError, settingRef as ref } from '../errors.ts';
import type { JudgedAttempt, JudgeResult } from '../trials/types.ts';
import { anthropicChat, openaiChat, type Chat } from './backends.ts';
import { inputHash, JudgeCache } from './cache.ts';
import { HEURISTIC_NOTE, heuristicAttempts } from './heuristic.ts';
import { Budget, systemClock } from './http.ts';
import { askJudge, JudgeGaveUp } from './llm.ts';
import { loadOrganism, ORGANISM_NOTE, organismAttempts, SHIPPED_ORGANISM, wellFormedShare } from './organism.ts';
import { sha256Text } from '../io/hash.ts';
import { loadJudgePrompt, renderJudgePrompt } from './prompt.ts';
import { type Scrub, scrubber } from './redact.ts';
import type { Clock, Judge, JudgeInput, JudgeOptions, JudgeProvenance, JudgeStats } from './types.ts';

const REMOTE = {
  anthropic: { keyVar: 'ANTHROPIC_API_KEY', urlVar: 'ANTHROPIC_BASE_URL', chat: anthropicChat },
  openai: { keyVar: 'OPENAI_API_KEY', urlVar: 'OPENAI_BASE_URL', chat: openaiChat },
} as const;

/** Models used when a key is set and no judge is named (see defaultJudgeSpec). */
export const DEFAULT_MODELS = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini' } as const;

const EMPTY_NOTE = 'empty response: scored 0 without asking the judge';
const MAX_ERROR_CHARS = 600;

/** Defaults of the HTTP policy (docs/judge.md "Time limits and retries"). */
export const JUDGE_HTTP_DEFAULTS = {
  timeoutMs: 120_000,
  budgetMs: 600_000,
  httpRetries: 4,
  maxServerWaitS: 60,
  /** 8 MiB: a judgment of 4,096 tokens is some 20 KB; the cap only stops a runaway server. */
  maxBodyBytes: 8 << 20,
  /** First wait before a retry when the server gives no hint (doubling after each try). */
  httpBackoffMs: 500,
} as const;

export interface JudgeSpec {
  backend: 'anthropic' | 'openai' | 'heuristic' | 'organism';
  /** The remote model, or the organism.json path of the organism judge; null for the heuristic judge. */
  model: string | null;
}

/** `anthropic:<model>`, `openai:<model>`, `heuristic` or `organism[:FILE]`; anything else is refused naming `setting`. */
export function parseJudgeSpec(spec: string, setting = 'judge'): JudgeSpec {
  if (spec === 'heuristic') return { backend: 'heuristic', model: null };
  if (spec === 'organism') return { backend: 'organism', model: SHIPPED_ORGANISM };
  const m = /^(anthropic|openai|organism):(.+)$/.exec(spec);
  if (!m?.[2].trim()) {
    throw new SettingError(
      `${ref(setting)} ${JSON.stringify(spec)}: expected anthropic:<model>, openai:<model>, heuristic, or organism[:organism.json]`,
    );
  }
  return { backend: m[1] as JudgeSpec['backend'], model: m[2].trim() };
}

/** `anthropic:…` when ANTHROPIC_API_KEY is set, else `openai:…` when OPENAI_API_KEY is, else `heuristic`. */
export function defaultJudgeSpec(env: Record<string, string | undefined> = process.env): string {
  if (env.ANTHROPIC_API_KEY) return `anthropic:${DEFAULT_MODELS.anthropic}`;
  if (env.OPENAI_API_KEY) return `openai:${DEFAULT_MODELS.openai}`;
  return 'heuristic';
}

/**
 * Bounds of the judge's settings (createJudge and the flags check them). Times stay far below what a
 * timer holds (2^31 ms, about 24.8 days): a longer one fires at once, so `--judge-timeout 3000000` became 1 ms.
 */
export const JUDGE_BOUNDS = {
  /** One HTTP request, headers and whole body (--judge-timeout), seconds. */
  timeoutS: 3600,
  /** One trial's judgment: every request, retry and wait (--judge-budget), seconds. */
  budgetS: 86_400,
  /** Server-asked waits are cut to at most this, seconds. */
  serverWaitS: 3600,
  /** A reply body larger than this is refused, bytes. */
  bodyBytes: 1 << 30,
  httpRetries: 20,
  invalidOutputRetries: 20,
  concurrency: 256,
  /** Requests per second (--judge-rate). */
  rate: 100_000,
  maxTokens: 1_000_000,
} as const;

function checkNumber(name: string, value: number, min: number, integer: boolean, max = Infinity): number {
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new InputError(
      `judge option ${name}: expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max === Infinity ? '∞)' : `${max}]`}, found ${value}`,
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
    throw new SettingError(`${from} ${JSON.stringify(url)}: not a URL (expected e.g. http://127.0.0.1:8000/v1)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SettingError(`${from} ${JSON.stringify(url)}: expected an http or https URL`);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

function describeError(err: unknown, scrub: Scrub): string {
  const e = err as Error;
  const text =
    e instanceof JudgeGaveUp || e?.name === 'JudgeHttpError'
      ? e.message
      : `${e?.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : 'Error'}: ${e?.message ?? String(err)}`;
  const clean = scrub(text);
  return clean.length > MAX_ERROR_CHARS ? `${clean.slice(0, MAX_ERROR_CHARS)}…` : clean;
}

/** Secrets a judge's replies are scrubbed of: the key in use, any other judge key set, credentials in the endpoint URL. */
function secretsOf(apiKey: string, env: Record<string, string | undefined>, url: string | null): string[] {
  const out = [apiKey, ...Object.values(REMOTE).map((r) => env[r.keyVar] ?? '')];
  try {
    if (url) {
      const u = new URL(url);
      out.push(decodeURIComponent(u.username), decodeURIComponent(u.password), u.username, u.password);
    }
  } catch {
    // not a URL: cleanBaseUrl refuses it
  }
  return out;
}

/** A chat client of a remote spec, with the settings it was made with. */
export interface RemoteChat {
  chat: Chat;
  model: string;
  /** Removes the keys and endpoint credentials from any text that came from the server. */
  scrub: Scrub;
  /** The endpoint as recorded (no credentials, no query), or null for the SDK's default. */
  baseUrl: string | null;
  temperature: number | null;
  maxTokens: number;
}

/**
 * The chat client of `anthropic:<model>` or `openai:<model>` with the judge's HTTP policy: the key from the
 * environment (an InputError naming the variable when it is not set), the endpoint from opts.baseUrl or the
 * environment. `setting` names the spec's setting in messages (judge; llm for finetune-data's distraction
 * writer), and `<setting>BaseUrl` its endpoint's.
 */
export function openRemoteChat(spec: string, opts: JudgeOptions, onRequest: () => void, setting = 'judge'): RemoteChat {
  const { backend, model } = parseJudgeSpec(spec, setting);
  if (backend === 'heuristic' || backend === 'organism' || !model)
    throw new SettingError(`${ref(setting)} ${spec}: expected anthropic:<model> or openai:<model>`);
  const env = opts.env ?? process.env;
  const clock: Clock = opts.clock ?? systemClock;
  const remote = REMOTE[backend];
  const apiKey = env[remote.keyVar];
  if (!apiKey) {
    throw new SettingError(
      `${ref(setting)} ${spec}: ${remote.keyVar} is not set (API keys are read from the environment only${setting === 'judge' ? `; use ${ref('judge')} heuristic to run offline` : ''})`,
    );
  }
  const rawUrl = opts.baseUrl ?? env[remote.urlVar] ?? null;
  const scrub = scrubber(secretsOf(apiKey, env, rawUrl));
  const baseUrl =
    rawUrl === null || rawUrl === ''
      ? null
      : cleanBaseUrl(rawUrl, opts.baseUrl ? ref(`${setting}BaseUrl`) : remote.urlVar);
  const temperature =
    opts.temperature === undefined
      ? 0
      : opts.temperature === null
        ? null
        : checkNumber('temperature', opts.temperature, 0, false);
  const maxTokens = checkNumber('maxTokens', opts.maxTokens ?? 4096, 1, true, JUDGE_BOUNDS.maxTokens);
  const D = JUDGE_HTTP_DEFAULTS;
  const unlimited: Chat = remote.chat({
    model,
    apiKey,
    baseUrl: rawUrl || null,
    temperature,
    maxTokens,
    scrub,
    policy: {
      timeoutMs: checkNumber('timeoutMs', opts.timeoutMs ?? D.timeoutMs, 1, false, JUDGE_BOUNDS.timeoutS * 1000),
      retries: checkNumber('httpRetries', opts.httpRetries ?? D.httpRetries, 0, true, JUDGE_BOUNDS.httpRetries),
      maxServerWaitS: checkNumber(
        'maxServerWaitS',
        opts.maxServerWaitS ?? D.maxServerWaitS,
        0,
        false,
        JUDGE_BOUNDS.serverWaitS,
      ),
      maxBodyBytes: checkNumber('maxBodyBytes', opts.maxBodyBytes ?? D.maxBodyBytes, 1, true, JUDGE_BOUNDS.bodyBytes),
      backoffMs: D.httpBackoffMs,
      say: opts.onWait ?? ((line) => console.error(line)),
      clock,
      requestTimer: opts.requestTimer,
    },
    onRequest,
  });
  const chat = rateLimited(unlimited, opts.rate ?? null, clock);
  return { chat, model, scrub, baseUrl, temperature, maxTokens };
}

type Grade = (input: JudgeInput) => Promise<{ attempts: JudgedAttempt[]; raw: string; model: string | null }>;

export function createJudge(spec: string, opts: JudgeOptions = {}): Judge {
  const { backend, model } = parseJudgeSpec(spec);
  const concurrency = checkNumber('concurrency', opts.concurrency ?? 4, 1, true, JUDGE_BOUNDS.concurrency);
  if (opts.rate != null) checkNumber('rate', opts.rate, 1e-9, false, JUDGE_BOUNDS.rate);
  const budgetMs = checkNumber(
    'budgetMs',
    opts.budgetMs ?? JUDGE_HTTP_DEFAULTS.budgetMs,
    1,
    false,
    JUDGE_BOUNDS.budgetS * 1000,
  );
  const clock: Clock = opts.clock ?? systemClock;
  const warn = opts.warn ?? ((line: string) => console.error(`warning: ${line}`));
  const stats: JudgeStats = {
    judged: 0,
    cache_hits: 0,
    http_requests: 0,
    invalid_outputs: 0,
    errors: 0,
    no_attempt: 0,
    models_returned: [],
  };
  let scrub: Scrub = (text) => text;
  let grade: Grade;
  let provenance: JudgeProvenance;
  let cache: JudgeCache | null = null;
  let wellFormed: ((response: string) => number) | undefined;

  if (backend === 'heuristic' || backend === 'organism') {
    if (opts.promptFile)
      throw new SettingError(
        `${ref('judgePrompt')}: the ${backend} judge uses no prompt; name a remote judge (${ref('judge')} anthropic:<model> or openai:<model>)`,
      );
    if (opts.baseUrl)
      throw new SettingError(
        `${ref('judgeBaseUrl')}: the ${backend} judge runs offline; name a remote judge to use an endpoint`,
      );
  }
  if (backend === 'organism') {
    const lang = loadOrganism(model as string);
    provenance = {
      id: spec === 'organism' ? 'organism' : `organism:${model}`,
      backend,
      model: null,
      base_url: null,
      prompt_sha256: lang.sha256,
      prompt_source: lang.path,
      temperature: null,
      max_tokens: null,
      approximation: false,
    };
    grade = async ({ prompt, response }) => ({
      attempts: organismAttempts(lang, prompt, response),
      raw: ORGANISM_NOTE,
      model: null,
    });
    wellFormed = (response) => wellFormedShare(lang, response);
  } else if (backend === 'heuristic') {
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
    const remote = openRemoteChat(spec, { ...opts, clock }, () => void stats.http_requests++);
    scrub = remote.scrub;
    const { chat, baseUrl, temperature, maxTokens } = remote;
    const prompt = loadJudgePrompt(opts.promptFile);
    const policy = {
      invalidOutputRetries: checkNumber(
        'invalidOutputRetries',
        opts.invalidOutputRetries ?? 2,
        0,
        true,
        JUDGE_BOUNDS.invalidOutputRetries,
      ),
      backoffMs: checkNumber('backoffMs', opts.backoffMs ?? 1000, 0, false, JUDGE_BOUNDS.serverWaitS * 1000),
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
    if (opts.cacheDir)
      cache = new JudgeCache(opts.cacheDir, [spec, baseUrl, prompt.sha256, temperature, maxTokens], spec, warn);
    grade = (input) =>
      askJudge(chat, renderJudgePrompt(prompt.template, input), input.response, policy, new Budget(clock, budgetMs));
  }

  const id = provenance.id;
  // Everything that came from a server is scrubbed again here (a cache entry written by an older version included).
  const result = (
    attempts: JudgedAttempt[],
    raw: string | null,
    error: string | null,
    returned: string | null = null,
  ): JudgeResult => ({
    id,
    ...(returned === null ? {} : { model: scrub(returned) }),
    attempts: attempts.map((a) => ({ ...a, text: scrub(a.text) })),
    raw: raw === null ? null : scrub(raw),
    error: error === null ? null : scrub(error),
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
      return result([], err instanceof JudgeGaveUp ? err.raw : null, `${id}: ${describeError(err, scrub)}`);
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
    ...(wellFormed ? { wellFormedShare: wellFormed } : {}),
    stats: () => ({ ...stats, models_returned: [...stats.models_returned] }),
    judge: (input) =>
      limit(async () => {
        const r = await judgeOne(input);
        stats.judged++;
        return r;
      }),
  };
}
