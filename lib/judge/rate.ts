// --judge-rate R: at most R requests per second from this process, spaced evenly (request k starts no
// earlier than k/R s after the first). Shards of one run judge at once against one API key's rate limit;
// R per shard × N shards is then the load the key sees. Retry-After from the server is still honoured by
// the HTTP policy beneath; this only keeps new requests from bunching.
import type { Chat } from './backends.ts';
import type { Clock } from './types.ts';

/** `chat` with its calls started at most `perSecond` per second on `clock`; null: unchanged. */
export function rateLimited(chat: Chat, perSecond: number | null, clock: Clock): Chat {
  if (perSecond === null) return chat;
  const gap = 1000 / perSecond;
  let next = Number.NEGATIVE_INFINITY;
  return async (messages, budget) => {
    const now = clock.now();
    const at = Math.max(now, next);
    next = at + gap; // claimed before waiting, so concurrent callers queue in call order
    if (at > now) await clock.sleep(at - now);
    return chat(messages, budget);
  };
}
