// The judge's own HTTP policy (the SDKs' retries are off): one deadline per request that covers the
// whole response, body included; a cap on the body's size; retries of 408/409/429/5xx, timeouts and
// connection failures with exponential backoff; every server hint (Retry-After, Retry-After-Ms) capped,
// with a message; and a budget per judgment that no try or wait may pass.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock, RequestTimer } from './types.ts';

export const systemClock: Clock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

export interface HttpPolicy {
  /** Deadline of one request, headers and whole body, in ms. */
  timeoutMs: number;
  /** Tries after the first, on retryable failures. */
  retries: number;
  /** Longest wait a server's hint may impose, in seconds; longer hints are cut to it (and said). */
  maxServerWaitS: number;
  /** Largest response body read, in bytes; a larger one is refused (not retried). */
  maxBodyBytes: number;
  /** Wait before retry i when the server gives no hint: backoffMs · 2^i, at most MAX_BACKOFF_MS. */
  backoffMs: number;
  /** Told each wait of a second or more, and each capped hint. */
  say: (line: string) => void;
  clock: Clock;
  /** Times each request's deadline (default: a real timer; tests expire requests when they choose). */
  requestTimer?: RequestTimer;
}

/** A real timer: calls `expire` after `ms` unless cancelled first. */
const realTimer: RequestTimer = (ms, expire) => {
  const t = setTimeout(expire, ms);
  return () => clearTimeout(t);
};

/** Longest wait of our own backoff between tries. */
const MAX_BACKOFF_MS = 30_000;

/** The time one judgment may still take: every request's deadline and every wait is cut to it. */
export class Budget {
  private readonly endsAt: number;
  constructor(
    private readonly clock: Clock,
    readonly ms: number,
  ) {
    this.endsAt = clock.now() + ms;
  }
  left(): number {
    return this.endsAt - this.clock.now();
  }
  /** Waits `ms`, or throws (without waiting) when the wait would end past the budget. */
  async wait(ms: number, why: string): Promise<void> {
    if (ms > this.left())
      throw new JudgeHttpError(
        `judge budget of ${this.ms / 1000} s for this trial would be spent before the next try (${why}); see --judge-budget`,
        false,
      );
    if (ms > 0) await this.clock.sleep(ms);
  }
}

/** A failed request: what to record (already scrubbed of secrets), and whether another try may help. */
export class JudgeHttpError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Seconds the server asked to wait (Retry-After), when it did. */
    readonly hintS: number | null = null,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'JudgeHttpError';
  }
}

/** A response body over the cap; thrown inside fetch, so the SDK wraps it (found again by `causeOf`). */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the response body is larger than ${limit} bytes (the judge reply cap); refused`);
    this.name = 'BodyTooLarge';
  }
}

/** The error `err` or one of its causes that is an instance of `type`. */
export function causeOf<T>(err: unknown, type: new (...a: never[]) => T): T | null {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof type) return e;
  return null;
}

/**
 * Seconds a response's hints ask to wait (the larger of Retry-After-Ms and Retry-After, which may be
 * seconds or an HTTP date), or null when it gives none: a server that sends `retry-after-ms: 0` beside
 * `retry-after: 100000` is not let off with the smaller.
 */
export function retryHintS(headers: Headers | null | undefined, now: number): number | null {
  if (!headers) return null;
  const hints: number[] = [];
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) hints.push(ms / 1000);
  const v = headers.get('retry-after');
  if (v !== null) {
    const s = /^\s*[\d.]+\s*$/.test(v) ? Number.parseFloat(v) : (Date.parse(v) - now) / 1000;
    if (Number.isFinite(s)) hints.push(Math.max(0, s));
  }
  return hints.length ? Math.max(...hints) : null;
}

/** A fetch that counts requests and reads the whole body within the caller's signal, refusing bodies over `maxBodyBytes`. */
export function cappedFetch(maxBodyBytes: number, onRequest: () => void): typeof fetch {
  return async (url, init) => {
    onRequest();
    const res = await fetch(url, init);
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      await res.body?.cancel().catch(() => {});
      throw new BodyTooLarge(maxBodyBytes);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBodyBytes) {
          await reader.cancel().catch(() => {});
          throw new BodyTooLarge(maxBodyBytes);
        }
        chunks.push(value);
      }
    }
    // the body is already decoded: drop the headers that describe its encoded form
    const headers = new Headers(res.headers);
    headers.delete('content-encoding');
    headers.delete('content-length');
    return new Response(res.status === 204 || res.status === 304 ? null : Buffer.concat(chunks), {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  };
}

/** Deadline passed: the request is aborted and this is thrown in its place. */
class Deadline extends Error {}

/** Runs `call` with a signal that aborts it after `ms` on `timer`; rejects at the deadline even if `call` ignores the signal. */
async function withDeadline<T>(call: (signal: AbortSignal) => Promise<T>, ms: number, timer: RequestTimer): Promise<T> {
  const ac = new AbortController();
  let cancel = (): void => {};
  const deadline = new Promise<never>((_, reject) => {
    cancel = timer(ms, () => {
      reject(new Deadline());
      ac.abort();
    });
  });
  try {
    return await Promise.race([call(ac.signal), deadline]);
  } finally {
    cancel();
  }
}

/**
 * Runs one judge call (an SDK request given the signal to abort it) under the policy: each try has its
 * deadline (the per-request timeout, or what is left of the budget if less); `classify` turns a failure
 * into a JudgeHttpError (scrubbed, retryable or not, with the server's hint); retries wait the hint
 * (capped, said) or our backoff. Throws the last failure, with the number of tries made.
 */
export async function withRetries<T>(
  call: (signal: AbortSignal) => Promise<T>,
  policy: HttpPolicy,
  budget: Budget,
  classify: (err: unknown) => JudgeHttpError,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const ms = Math.min(policy.timeoutMs, budget.left());
    if (ms <= 0)
      throw new JudgeHttpError(`judge budget of ${budget.ms / 1000} s for this trial spent; see --judge-budget`, false);
    let failure: JudgeHttpError;
    try {
      return await withDeadline(call, ms, policy.requestTimer ?? realTimer);
    } catch (err) {
      failure =
        err instanceof Deadline
          ? new JudgeHttpError(
              `no complete response within ${ms / 1000} s (${ms < policy.timeoutMs ? 'what was left of --judge-budget' : '--judge-timeout'}; the deadline covers the whole body)`,
              true,
            )
          : classify(err);
    }
    const tries = `${attempt + 1} ${attempt ? 'tries' : 'try'}`;
    if (!failure.retryable || attempt >= policy.retries)
      throw new JudgeHttpError(`${failure.message} (after ${tries})`, false, failure.hintS, failure.status);
    let waitMs = Math.min(policy.backoffMs * 2 ** attempt, MAX_BACKOFF_MS);
    if (failure.hintS !== null) {
      const cap = policy.maxServerWaitS;
      if (failure.hintS > cap) {
        policy.say(
          `judge: the server answered ${failure.status ?? 'an error'} and asks to wait ${failure.hintS.toFixed(0)} s; waiting ${cap} s (the cap) before retrying`,
        );
        waitMs = cap * 1000;
      } else {
        waitMs = failure.hintS * 1000;
        if (failure.hintS >= 1)
          policy.say(
            `judge: the server answered ${failure.status ?? 'an error'} and asks to wait ${failure.hintS.toFixed(0)} s before retrying; waiting`,
          );
      }
    }
    await budget.wait(waitMs, `after ${tries}: ${failure.message}`);
  }
}
