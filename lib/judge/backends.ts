// Remote chat backends through the official SDKs, with their own retries off: each call goes through
// our HTTP policy (lib/judge/http.ts: deadline over the whole response, body cap, capped server hints,
// budget), and every string that comes back (reply, model id, error text) is scrubbed of the secrets.
// The SDKs are imported on a client's first request: together they cost about 1.4 s of CPU at start-up
// (some 450 modules), which every command that never calls a remote judge would otherwise pay.
import type Anthropic from '@anthropic-ai/sdk';
import {
  type Budget,
  BodyTooLarge,
  causeOf,
  cappedFetch,
  type HttpPolicy,
  JudgeHttpError,
  retryHintS,
  withRetries,
} from './http.ts';
import type { Scrub } from './redact.ts';

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

/** One chat completion under the policy, within what is left of the judgment's budget. */
export type Chat = (messages: ChatMessage[], budget: Budget) => Promise<ChatReply>;

export interface ChatConfig {
  model: string;
  apiKey: string;
  baseUrl: string | null;
  /** null: not sent (for models that reject it). */
  temperature: number | null;
  maxTokens: number;
  policy: HttpPolicy;
  /** Applied to every string from the server before it leaves this module. */
  scrub: Scrub;
  /** Called once per HTTP request sent (retries included), for the counters. */
  onRequest: () => void;
}

/** Longest error text kept from a failed request. */
const MAX_ERROR_CHARS = 600;

const HTTP_RETRYABLE = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

/** The SDK's base class of the errors an API call throws (what classify reads status and headers from). */
type ApiErrorClass = abstract new (...args: never[]) => Error;

/** A failure of an SDK call as our policy sees it: retryable or not, the server's wait hint, the text scrubbed and cut. */
function classify(err: unknown, apiError: ApiErrorClass, scrub: Scrub, now: number): JudgeHttpError {
  const big = causeOf(err, BodyTooLarge);
  if (big) return new JudgeHttpError(big.message, false);
  const e = err as { status?: unknown; headers?: Headers; message?: unknown } | null;
  // The SDKs' error classes keep name 'Error'; their class name says what happened.
  const kind = e?.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : 'Error';
  const full = scrub(`${kind}: ${String(e?.message ?? err)}`);
  const text = full.length > MAX_ERROR_CHARS ? `${full.slice(0, MAX_ERROR_CHARS)}…` : full;
  if (!(err instanceof apiError)) return new JudgeHttpError(text, false);
  if (typeof e?.status !== 'number') return new JudgeHttpError(text, true); // connection failure
  const should = e.headers?.get?.('x-should-retry');
  const retryable = should === 'true' || (should !== 'false' && HTTP_RETRYABLE(e.status));
  return new JudgeHttpError(text, retryable, retryHintS(e.headers, now), e.status);
}

/** Client options both official SDKs take: key, endpoint, no retries of their own, our fetch, no logs. */
function sdkOptions(cfg: ChatConfig) {
  return {
    apiKey: cfg.apiKey,
    baseURL: cfg.baseUrl,
    timeout: cfg.policy.timeoutMs,
    maxRetries: 0,
    fetch: cappedFetch(cfg.policy.maxBodyBytes, cfg.onRequest),
    logLevel: 'off' as const,
  };
}

/** Runs one SDK request under the policy; the reply's strings scrubbed. */
async function send(
  cfg: ChatConfig,
  budget: Budget,
  apiError: ApiErrorClass,
  request: (signal: AbortSignal) => Promise<ChatReply>,
): Promise<ChatReply> {
  const reply = await withRetries(request, cfg.policy, budget, (err) =>
    classify(err, apiError, cfg.scrub, cfg.policy.clock.now()),
  );
  return { ...reply, text: cfg.scrub(reply.text), model: reply.model === null ? null : cfg.scrub(reply.model) };
}

/** The value `make` resolves to, made on the first call and shared by later ones. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make();
    return made;
  };
}

export function anthropicChat(cfg: ChatConfig): Chat {
  const sdk = once(async () => {
    const { default: Sdk } = await import('@anthropic-ai/sdk');
    return { client: new Sdk({ ...sdkOptions(cfg), openTelemetry: false }), apiError: Sdk.APIError };
  });
  return async (messages, budget) => {
    const { client, apiError } = await sdk();
    return send(cfg, budget, apiError, async (signal) => {
      // This SDK version no longer types `temperature`; the field is still sent on the wire.
      const params: Anthropic.MessageCreateParamsNonStreaming & { temperature?: number } = {
        model: cfg.model,
        max_tokens: cfg.maxTokens,
        messages,
        ...(cfg.temperature === null ? {} : { temperature: cfg.temperature }),
      };
      const msg = await client.messages.create(params, { signal, maxRetries: 0 });
      if (!Array.isArray(msg?.content)) throw new Error('the reply has no content list (not a Messages API response)');
      const text = msg.content.map((block) => (block?.type === 'text' ? String(block.text) : '')).join('');
      return {
        text,
        truncated: msg.stop_reason === 'max_tokens',
        model: typeof msg.model === 'string' ? msg.model : null,
      };
    });
  };
}

export function openaiChat(cfg: ChatConfig): Chat {
  const sdk = once(async () => {
    const { default: Sdk } = await import('openai');
    return { client: new Sdk(sdkOptions(cfg)), apiError: Sdk.APIError };
  });
  return async (messages, budget) => {
    const { client, apiError } = await sdk();
    return send(cfg, budget, apiError, async (signal) => {
      const completion = await client.chat.completions.create(
        {
          model: cfg.model,
          ...(cfg.temperature === null ? {} : { temperature: cfg.temperature }),
          max_tokens: cfg.maxTokens,
          messages,
        },
        { signal, maxRetries: 0 },
      );
      const choice = completion.choices?.[0];
      const content = choice?.message?.content;
      return {
        text: typeof content === 'string' ? content : '',
        truncated: choice?.finish_reason === 'length',
        model: typeof completion.model === 'string' ? completion.model : null,
      };
    });
  };
}
