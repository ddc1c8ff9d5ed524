// The judge flags shared by `ablate` and `judge`: one set of names, defaults and checks.
import type { Argv } from 'yargs';
import { InputError } from '../errors.ts';
import { JUDGE_BOUNDS, JUDGE_HTTP_DEFAULTS } from '../judge/index.ts';
import type { JudgeOptions } from '../judge/types.ts';
import { intFlag, numberFlag } from './flags.ts';

/** The parsed values of judgeOptions. */
export interface JudgeArgs {
  'judge-base-url'?: string;
  'judge-prompt'?: string;
  'judge-temperature': string;
  'judge-cache': string | false;
  'judge-concurrency': number;
  'judge-timeout': number;
  'judge-budget': number;
  /** The old name of --judge-concurrency in `analyze judge`: still accepted, no longer listed. */
  concurrency?: number;
}

/** --judge-base-url, --judge-prompt, --judge-temperature, --judge-cache, --judge-concurrency, --judge-timeout, --judge-budget. */
export function judgeOptions<T>(y: Argv<T>) {
  return y
    .option('judge-base-url', {
      type: 'string',
      describe: 'endpoint of an Anthropic- or OpenAI-compatible server (vLLM, Ollama, OpenRouter, …)',
    })
    .option('judge-prompt', {
      type: 'string',
      describe: 'judge prompt template file with {{prompt}}, {{response}}, {{feature_label}}',
    })
    .option('judge-temperature', {
      type: 'string',
      default: '0',
      describe: 'judge sampling temperature, or "none" to leave it to the server',
    })
    .option('judge-cache', {
      default: '.esr-cache/judge',
      describe: 'cache directory for remote judgments (--no-judge-cache: none)',
    })
    .option('judge-concurrency', { type: 'number', default: 4, describe: 'judge requests in flight at once' })
    .option('judge-timeout', {
      type: 'number',
      default: JUDGE_HTTP_DEFAULTS.timeoutMs / 1000,
      describe: `seconds one judge request may take, headers and whole body, before it is retried (4 retries); at most ${JUDGE_BOUNDS.timeoutS}; server Retry-After waits are capped at 60 s`,
    })
    .option('judge-budget', {
      type: 'number',
      default: JUDGE_HTTP_DEFAULTS.budgetMs / 1000,
      describe: `seconds one trial's judgment may take in all (every request, retry and wait); past it the judgment fails and is retried on resume; at most ${JUDGE_BOUNDS.budgetS}`,
    })
    .option('concurrency', { type: 'number', hidden: true, describe: 'old name of --judge-concurrency' });
}

/** `none` → null (the field is not sent); else a number ≥ 0. */
function parseJudgeTemperature(value: string): number | null {
  if (value === 'none') return null;
  const t = Number(value);
  if (value.trim() === '' || !Number.isFinite(t) || t < 0) {
    throw new InputError(`--judge-temperature ${JSON.stringify(value)}: expected a number ≥ 0 or "none"`);
  }
  return t;
}

/** The flags checked and turned into createJudge's options (bad values are InputErrors naming the flag). */
export function judgeSettings(a: JudgeArgs): JudgeOptions {
  const concurrency = a.concurrency ?? a['judge-concurrency'];
  intFlag(a.concurrency === undefined ? 'judge-concurrency' : 'concurrency', concurrency, 1);
  numberFlag('judge-timeout', a['judge-timeout'], 0, JUDGE_BOUNDS.timeoutS, { min: true });
  numberFlag('judge-budget', a['judge-budget'], 0, JUDGE_BOUNDS.budgetS, { min: true });
  return {
    baseUrl: a['judge-base-url'] ?? null,
    promptFile: a['judge-prompt'] ?? null,
    temperature: parseJudgeTemperature(a['judge-temperature']),
    cacheDir: a['judge-cache'] === false ? null : String(a['judge-cache']),
    concurrency,
    timeoutMs: a['judge-timeout'] * 1000,
    budgetMs: a['judge-budget'] * 1000,
  };
}
