// Remote chat backends through the official SDKs. The SDKs do the HTTP retries (408/409/429/5xx,
// timeouts, connection errors, honouring Retry-After) and the per-request timeout.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

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
  httpRetries: number;
  /** Called once per HTTP request sent (retries included), for the counters. */
  onRequest: () => void;
}

/** A fetch that counts requests; the SDKs call it for every try. */
function countingFetch(onRequest: () => void): typeof fetch {
  return (url, init) => {
    onRequest();
    return fetch(url, init);
  };
}

/** Client options both official SDKs take: key, endpoint, timeout, their own retries, a counting fetch, no logs. */
function sdkOptions(cfg: ChatConfig) {
  return {
    apiKey: cfg.apiKey,
    baseURL: cfg.baseUrl,
    timeout: cfg.timeoutMs,
    maxRetries: cfg.httpRetries,
    fetch: countingFetch(cfg.onRequest),
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
    return { text: choice?.message?.content ?? '', truncated: choice?.finish_reason === 'length', model: completion.model ?? null };
  };
}
