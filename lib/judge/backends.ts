// Remote chat backends through the official SDKs. The SDKs do the HTTP retries (408/409/429/5xx,
// timeouts, connection errors, honouring Retry-After) and the per-request timeout.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { RequestTimer } from './types.ts';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatReply {
  text: string;
  /** The output hit the token limit (so it is probably cut short). */
  truncated: boolean;
  /** The model id the API says answered (may be more exact than the one asked for, e.g. a dated snapshot). */
  model: string | null;
}

export type Chat = (messages: ChatMessage[]) => Promise<ChatReply>;

export interface ChatConfig {
  model: string;
  apiKey: string;
  baseUrl: string | null;
  /** null: not sent (for models that reject it). */
  temperature: number | null;
  maxTokens: number;
  timeoutMs: number;
  /** Times requests out on this clock instead of the SDK's own timer (see JudgeOptions.requestTimer). */
  requestTimer?: RequestTimer;
  httpRetries: number;
  /** Called once per HTTP request sent (retries included), for the counters. */
  onRequest: () => void;
  /** Told each wait a server asks for (Retry-After), as a line; default: stderr. */
  onWait?: (line: string) => void;
  /** Longest Retry-After wait honoured, in seconds (default MAX_SERVER_WAIT_S). */
  maxServerWaitS?: number;
}

/** The longest wait a server's Retry-After may impose before a retry; longer requests are cut to this. */
const MAX_SERVER_WAIT_S = 60;
/** The longest delay a Node timer holds (longer ones fire at once): the SDK timeout when requestTimer does the timing. */
const NEVER_MS = 2 ** 31 - 1;

/** Seconds a Retry-After / Retry-After-Ms header asks for, or null. */
function retryAfterSeconds(h: Headers): number | null {
  const ms = Number.parseFloat(h.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return ms / 1000;
  const v = h.get('retry-after');
  if (v === null) return null;
  const s = Number.parseFloat(v);
  if (Number.isFinite(s)) return s;
  const at = Date.parse(v);
  return Number.isFinite(at) ? (at - Date.now()) / 1000 : null;
}

/** fetch, timed out on `timer` after `ms` (an abort, as the SDKs' own timeout does it). */
function timedFetch(timer: RequestTimer, ms: number): typeof fetch {
  return async (url, init) => {
    const controller = new AbortController();
    const sdkSignal = init?.signal;
    const abort = () => controller.abort();
    sdkSignal?.addEventListener('abort', abort, { once: true });
    const cancel = timer(ms, abort);
    try {
      return await fetch(url, { ...init, signal: controller.signal });
    } finally {
      cancel();
      sdkSignal?.removeEventListener('abort', abort);
    }
  };
}

/**
 * The fetch the SDKs call for every try: counts requests, and caps a server's Retry-After at
 * MAX_SERVER_WAIT_S (the SDKs honour any value, so `retry-after: 100000` would stall a run), saying so.
 */
export function guardedFetch(
  cfg: Pick<ChatConfig, 'onRequest' | 'onWait' | 'maxServerWaitS' | 'requestTimer' | 'timeoutMs'>,
): typeof fetch {
  const say = cfg.onWait ?? ((line: string) => console.error(line));
  const cap = cfg.maxServerWaitS ?? MAX_SERVER_WAIT_S;
  const send = cfg.requestTimer ? timedFetch(cfg.requestTimer, cfg.timeoutMs) : fetch;
  return async (url, init) => {
    cfg.onRequest();
    const res = await send(url, init);
    const wait = res.ok ? null : retryAfterSeconds(res.headers);
    if (wait === null || wait <= 0) return res;
    if (wait <= cap) {
      if (wait >= 1)
        say(`judge: the server answered ${res.status} and asks to wait ${wait.toFixed(0)} s before retrying; waiting`);
      return res;
    }
    say(
      `judge: the server answered ${res.status} and asks to wait ${wait.toFixed(0)} s; waiting ${cap} s (the cap) before retrying`,
    );
    const headers = new Headers(res.headers);
    headers.delete('retry-after');
    headers.set('retry-after-ms', String(cap * 1000));
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

/** Client options both official SDKs take: key, endpoint, timeout, their own retries, a counting fetch, no logs. */
function sdkOptions(cfg: ChatConfig) {
  return {
    apiKey: cfg.apiKey,
    baseURL: cfg.baseUrl,
    timeout: cfg.requestTimer ? NEVER_MS : cfg.timeoutMs,
    maxRetries: cfg.httpRetries,
    fetch: guardedFetch(cfg),
    logLevel: 'off' as const,
  };
}

export function anthropicChat(cfg: ChatConfig): Chat {
  const client = new Anthropic({ ...sdkOptions(cfg), openTelemetry: false });
  return async (messages) => {
    // This SDK version no longer types `temperature`; the field is still sent on the wire.
    const params: Anthropic.MessageCreateParamsNonStreaming & { temperature?: number } = {
      model: cfg.model,
      max_tokens: cfg.maxTokens,
      messages,
      ...(cfg.temperature === null ? {} : { temperature: cfg.temperature }),
    };
    const msg = await client.messages.create(params);
    const text = msg.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    return { text, truncated: msg.stop_reason === 'max_tokens', model: msg.model ?? null };
  };
}

export function openaiChat(cfg: ChatConfig): Chat {
  const client = new OpenAI(sdkOptions(cfg));
  return async (messages) => {
    const completion = await client.chat.completions.create({
      model: cfg.model,
      ...(cfg.temperature === null ? {} : { temperature: cfg.temperature }),
      max_tokens: cfg.maxTokens,
      messages,
    });
    const choice = completion.choices[0];
    return {
      text: choice?.message?.content ?? '',
      truncated: choice?.finish_reason === 'length',
      model: completion.model ?? null,
    };
  };
}
