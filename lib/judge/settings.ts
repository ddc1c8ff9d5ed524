// The judge's settings, declared once (lib/settings/table.ts): `analyze ablate` and `analyze judge` take
// the same flags, and a notebook the same names; `judgeFrom` turns them into a Judge.
import { bool, custom, int, num, text } from '../settings/kinds.ts';
import type { Values } from '../settings/table.ts';
import { createJudge, defaultJudgeSpec, JUDGE_BOUNDS, JUDGE_HTTP_DEFAULTS, parseJudgeSpec } from './create.ts';
import type { Judge, JudgeOptions } from './types.ts';

const isJudge = (v: unknown): v is Judge =>
  typeof v === 'object' && v !== null && typeof (v as Judge).judge === 'function' && 'provenance' in v;

const isSpec = (v: unknown): boolean => {
  if (typeof v !== 'string') return false;
  try {
    parseJudgeSpec(v);
    return true;
  } catch {
    return false;
  }
};

export const JUDGE_SETTINGS = {
  judge: custom<string | Judge | null, string>({
    doc: "anthropic:<model>, openai:<model>, heuristic (an offline lexical approximation), or organism[:organism.json] (exact ground truth for the shipped organism's language; also records each trial's well-formed share)",
    default: null,
    auto: 'anthropic:claude-haiku-4-5 with ANTHROPIC_API_KEY set, else openai:gpt-4o-mini with OPENAI_API_KEY, else heuristic',
    cli: { type: 'string' },
    expected: 'anthropic:<model>, openai:<model>, heuristic, organism[:FILE], or a Judge',
    valid: (v) => isSpec(v) || isJudge(v),
    key: 'judge.id',
  }),
  judgeBaseUrl: text({
    doc: 'endpoint of an Anthropic- or OpenAI-compatible server (vLLM, Ollama, OpenRouter, …)',
    expected: 'an http(s) URL',
    default: null,
    auto: 'ANTHROPIC_BASE_URL / OPENAI_BASE_URL, else the provider',
    key: 'judge.base_url',
  }),
  judgePrompt: text({
    doc: 'judge prompt template file with {{prompt}}, {{response}}, {{feature_label}}',
    expected: 'a file',
    default: null,
    auto: 'the built-in prompt',
    key: 'judge.prompt_source',
  }),
  judgeTemperature: custom<number | null, string>({
    doc: 'judge sampling temperature, or "none" to leave it to the server',
    default: 0,
    cli: { type: 'string' },
    expected: 'a number ≥ 0, or "none" (null)',
    valid: (v) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0),
    // "none" → null (not sent); anything else a number, checked like a notebook's value
    parse: (c) => (c === 'none' ? null : c.trim() === '' ? Number.NaN : Number(c)),
    show: (v) => (v === null ? 'none' : String(v)),
    key: 'judge.temperature',
  }),
  judgeCache: custom<string | null, string | false>({
    doc: 'cache directory for remote judgments (--no-judge-cache: none)',
    default: '.esr-cache/judge',
    cli: { type: 'string' },
    expected: 'a directory, or null (no cache)',
    valid: (v) => v === null || (typeof v === 'string' && v.trim() !== ''),
    parse: (c) => (c === false ? null : String(c)),
    show: (v) => v ?? 'none',
    key: null,
  }),
  judgeConcurrency: int({
    doc: 'judge requests in flight at once',
    min: 1,
    max: JUDGE_BOUNDS.concurrency,
    default: 4,
    key: null,
  }),
  judgeRate: num({
    doc: 'most judge requests started per second by this process (a shard: the API key sees this × the shards running); Retry-After is honoured as well',
    min: 0,
    max: JUDGE_BOUNDS.rate,
    open: 'min',
    default: null,
    auto: 'no limit',
    key: null,
  }),
  judgeTimeout: num({
    doc: 'seconds one judge request may take, headers and whole body, before it is retried (4 retries); server Retry-After waits are capped at 60 s',
    min: 0,
    max: JUDGE_BOUNDS.timeoutS,
    open: 'min',
    default: JUDGE_HTTP_DEFAULTS.timeoutMs / 1000,
    key: null,
  }),
  judgeBudget: num({
    doc: "seconds one trial's judgment may take in all (every request, retry and wait); past it the judgment fails and is retried on resume",
    min: 0,
    max: JUDGE_BOUNDS.budgetS,
    open: 'min',
    default: JUDGE_HTTP_DEFAULTS.budgetMs / 1000,
    key: null,
  }),
  rejudgeFailed: bool({
    doc: 'on resume, judge again the stored trials whose judging failed (an outage; their responses are kept); --no-rejudge-failed keeps the failures',
    default: true,
    key: null,
  }),
};

export type JudgeSettings = Values<typeof JUDGE_SETTINGS>;

/** createJudge's options of the settings (seconds → ms). */
export function judgeOptionsOf(v: JudgeSettings): JudgeOptions {
  return {
    baseUrl: v.judgeBaseUrl,
    promptFile: v.judgePrompt,
    temperature: v.judgeTemperature,
    cacheDir: v.judgeCache,
    concurrency: v.judgeConcurrency,
    rate: v.judgeRate,
    timeoutMs: v.judgeTimeout * 1000,
    budgetMs: v.judgeBudget * 1000,
  };
}

/** The judge the settings name (a Judge given as is; no spec: by API key in the environment, else heuristic). */
export function judgeFrom(v: JudgeSettings): Judge {
  if (isJudge(v.judge)) return v.judge;
  return createJudge(v.judge ?? defaultJudgeSpec(), judgeOptionsOf(v));
}

/** `analyze judge`'s own settings: the store to re-grade and where to, or two gradings to compare. */
export const REGRADE_SETTINGS = {
  trials: text({
    doc: 'trial store (JSONL) to re-grade (required unless --agreement)',
    expected: 'a file',
    key: null,
    requires: { absent: 'agreement', why: 'it compares two graded files; re-grading settings do not apply' },
  }),
  agreement: custom<string[] | undefined, string[]>({
    doc: "A B: cross-judge agreement of two gradings of the same trials (our stores or the paper's result files): multi-attempt and ESR agreement with Cohen's κ, first-score correlation",
    default: undefined,
    cli: { type: 'string', array: true },
    expected: 'two trial files A B',
    valid: (v) => Array.isArray(v) && v.length === 2 && v.every((f) => typeof f === 'string' && f.trim() !== ''),
    key: null,
  }),
  out: text({
    doc: 'output trial store (JSONL, appended; rerun to resume); with --agreement: the agreement as JSON',
    expected: 'a file',
    key: null,
  }),
  concurrency: int({
    doc: 'old name of --judge-concurrency',
    min: 1,
    max: JUDGE_BOUNDS.concurrency,
    key: null,
    hidden: true,
    conflicts: [{ with: 'judgeConcurrency', why: 'it is the old name of the same setting' }],
  }),
};
