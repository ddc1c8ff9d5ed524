// Types of the judge layer: what a judge is given, what it promises, and how it is configured.
import type { JudgeResult } from '../trials/types.ts';

export type { JudgeResult, JudgedAttempt } from '../trials/types.ts';

/** What the judge sees of one trial. */
export interface JudgeInput {
  /** The user's question the steered model answered. */
  prompt: string;
  /** The steered model's whole answer. */
  response: string;
  /** Label of the steered feature (helps the judge recognise the drift); null when unknown. */
  featureLabel: string | null;
}

/** Everything that identifies how a judgment was made; stored in each trial's provenance. */
export interface JudgeProvenance {
  id: string;
  backend: 'anthropic' | 'openai' | 'heuristic' | 'organism';
  model: string | null;
  /** Endpoint of a remote judge (never carries a key); null for the SDK default or offline judges. */
  base_url: string | null;
  /** sha256 (hex) of the judge prompt template (of organism.json for the organism judge); null for the heuristic judge. */
  prompt_sha256: string | null;
  /** `builtin` or the path of the `--judge-prompt` file (of organism.json for the organism judge). */
  prompt_source: string | null;
  temperature: number | null;
  max_tokens: number | null;
  /** True for the heuristic judge: a lexical approximation, not a model's judgment. */
  approximation: boolean;
}

/** Counters for the report: every failure is counted, never hidden. */
export interface JudgeStats {
  /** judge() calls finished. */
  judged: number;
  /** Results served from the on-disk cache. */
  cache_hits: number;
  /** HTTP requests sent (retries included). */
  http_requests: number;
  /** Model outputs rejected by validation (each one triggers a retry while tries remain). */
  invalid_outputs: number;
  /** Results returned with `error` set. */
  errors: number;
  /** Judgments that found no attempt in the response (the paper's format allows an empty list); excluded from the metrics. */
  no_attempt: number;
  /** Model ids the API returned (the exact snapshot that answered), in order first seen. */
  models_returned: string[];
}

export interface Judge {
  readonly id: string;
  readonly provenance: JudgeProvenance;
  /** Never rejects for a per-trial failure: the failure is returned in `JudgeResult.error`. */
  judge(input: JudgeInput): Promise<JudgeResult>;
  /** Share of a response's sentences that are well formed, for a judge that knows the language (none yet). */
  wellFormedShare?(response: string): number;
  stats(): JudgeStats;
}

/** Time as the judge's retry policy sees it: injectable, so tests of waits and budgets run without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Starts one request's timeout: calls `expire` after `ms` unless the returned function is called first. */
export type RequestTimer = (ms: number, expire: () => void) => () => void;

export interface JudgeOptions {
  /** Endpoint for a remote judge; else ANTHROPIC_BASE_URL / OPENAI_BASE_URL; else the SDK default. */
  baseUrl?: string | null;
  /** Path of a judge prompt template (see lib/judge/prompt.ts for its placeholders). */
  promptFile?: string | null;
  /** Most judge() calls in flight at once (default 4). */
  concurrency?: number;
  /** Most requests started per second by this judge (spaced evenly); null or absent: no limit. */
  rate?: number | null;
  /** Directory of the on-disk cache; null or absent: no cache. */
  cacheDir?: string | null;
  /** Sampling temperature (default 0); null: not sent, for models that reject the field. */
  temperature?: number | null;
  /** Output token limit (default 4096). */
  maxTokens?: number;
  /** Deadline of one HTTP request in ms, covering the headers and the whole body (default 120,000; at most 3,600,000). */
  timeoutMs?: number;
  /** Times each request's deadline on this clock instead of a real timer (tests expire a request when they choose). */
  requestTimer?: RequestTimer;
  /** Budget of one judgment in ms: every request, retry and wait (default 600,000; at most 86,400,000). */
  budgetMs?: number;
  /** Retries of one request on 408/409/429/5xx, timeouts and connection errors, by our policy (default 4; the SDKs' own are off). */
  httpRetries?: number;
  /** Longest wait a server's Retry-After may impose before a retry, in seconds (default 60); longer ones are cut, and said. */
  maxServerWaitS?: number;
  /** Largest reply body read, in bytes (default 8 MiB); a larger one is refused as a failed judgment. */
  maxBodyBytes?: number;
  /** Where the waits are said (default stderr). */
  onWait?: (line: string) => void;
  /** Where warnings go (a judge cache entry ignored, …); default stderr. */
  warn?: (line: string) => void;
  /** The clock retries wait on and budgets are measured by (default the system's; tests inject one). */
  clock?: Clock;
  /** Extra tries after an unparseable or invalid output (default 2). */
  invalidOutputRetries?: number;
  /** Backoff before retry i after an invalid output: backoffMs · 2^i (default 1000). */
  backoffMs?: number;
  /** Environment to read keys and base URLs from (default process.env). */
  env?: Record<string, string | undefined>;
}
