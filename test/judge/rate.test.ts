// --judge-rate: requests started at most R per second, evenly spaced in call order, measured on the
// judge's injected clock (nothing waits for real); an idle judge does not bank requests for a burst.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Chat } from '../../lib/judge/backends.ts';
import { createJudge } from '../../lib/judge/create.ts';
import { Budget } from '../../lib/judge/http.ts';
import { rateLimited } from '../../lib/judge/rate.ts';
import type { Clock } from '../../lib/judge/types.ts';

/** A clock set by the test; sleeps are recorded and return at once. */
function heldClock(): Clock & { t: number; slept: number[] } {
  const c = {
    t: 0,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => void c.slept.push(ms),
  };
  return c;
}

test('R requests per second: the k-th of a burst waits k/R s; after an idle spell the next goes at once', async () => {
  const clock = heldClock();
  const sent: number[] = [];
  const chat: Chat = async () => {
    sent.push(sent.length);
    return { text: 'ok', truncated: false, model: null };
  };
  const limited = rateLimited(chat, 2, clock);
  const budget = new Budget(clock, 60_000);
  await Promise.all([0, 1, 2, 3].map(() => limited([], budget)));
  assert.deepEqual(clock.slept, [500, 1000, 1500], 'slots at 0, 0.5, 1, 1.5 s');
  assert.equal(sent.length, 4);
  clock.t = 10_000; // long after the last slot (1.5 s): no credit saved up, and no wait
  await limited([], budget);
  assert.deepEqual(clock.slept, [500, 1000, 1500]);
  clock.t = 10_100; // 0.1 s after the last request: waits the rest of its 0.5 s gap
  await limited([], budget);
  assert.deepEqual(clock.slept, [500, 1000, 1500, 400]);
  assert.equal(rateLimited(chat, null, clock), chat, 'no rate: the client unchanged');
});

test('a judge refuses a rate that is not positive', () => {
  assert.throws(
    () => createJudge('openai:m', { rate: 0, env: { OPENAI_API_KEY: 'k' } }),
    /judge option rate: expected a number/,
  );
});
