// The judge never hangs and never stores a secret, against a local fake server: Retry-After hints are
// capped (said, and waited on an injected clock), one deadline covers the whole response (a trickled
// body fails at it), a per-trial budget bounds every try and wait, a body over the cap is refused
// unread, a server that echoes the key in every field leaves no trace of it, and a poisoned cache entry
// is a miss with a warning.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Clock } from '../../lib/judge/types.ts';
import { createJudge, type JudgeOptions } from '../../lib/judge/index.ts';
import { startFakeLlm, type Step } from '../fixtures/judge/fake-llm-server.ts';

const KEY = 'sk-fake-reliability-7d1e';
const INPUT = { prompt: 'Explain bread.', response: 'Mix flour and water, then bake.', featureLabel: null };
const VALID = `<result>${JSON.stringify({ attempts: [{ text: INPUT.response, score: 70 }] })}</result>`;

/** A clock whose sleeps return at once, advancing its time: waits are recorded, never waited. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

async function judgeWith(backend: 'openai' | 'anthropic', script: Step[], opts: JudgeOptions = {}) {
  const server = await startFakeLlm(script);
  const said: string[] = [];
  const clock = fakeClock();
  try {
    const judge = createJudge(`${backend}:fake`, {
      baseUrl: backend === 'openai' ? server.openaiUrl : server.anthropicUrl,
      env: { [backend === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY']: KEY },
      requestTimer: server.requestTimer, // answered requests never time out, however slow the machine
      clock,
      onWait: (l) => said.push(l),
      ...opts,
    });
    const result = await judge.judge(INPUT);
    return { result, said, slept: clock.slept, requests: server.requests.length, stats: judge.stats() };
  } finally {
    await server.close();
  }
}

test('Retry-After: 100000 beside retry-after-ms: 0 is cut to the cap (60 s by default), said, and waited once', async () => {
  const { result, said, slept, requests } = await judgeWith('openai', [
    { status: 429, headers: { 'retry-after-ms': '0', 'retry-after': '100000' }, body: { error: { message: 'slow' } } },
    { reply: VALID },
  ]);
  assert.equal(result.error, null);
  assert.equal(requests, 2);
  assert.deepEqual(slept, [60_000]);
  assert.equal(said.length, 1);
  assert.match(said[0], /server answered 429 and asks to wait 100000 s; waiting 60 s \(the cap\) before retrying/);
});

test('a Retry-After date and a smaller cap: the wait is the cap', async () => {
  const far = new Date(3_600_000).toUTCString(); // an hour past the fake clock's now (0)
  const { result, said, slept } = await judgeWith(
    'anthropic',
    [{ status: 503, headers: { 'retry-after': far } }, { reply: VALID }],
    { maxServerWaitS: 2 },
  );
  assert.equal(result.error, null);
  assert.deepEqual(slept, [2000]);
  assert.match(said[0], /server answered 503 and asks to wait \d+ s; waiting 2 s \(the cap\)/);
});

test('one deadline covers the whole response: a body trickled a byte at a time fails at it', async () => {
  // a real timer here: the body takes 20 ms × its ~400 bytes, far past the 0.3 s deadline on any machine
  const { result, requests } = await judgeWith('openai', [{ trickle: VALID, everyMs: 20 }], {
    timeoutMs: 300,
    requestTimer: undefined,
    httpRetries: 0,
  });
  assert.equal(requests, 1);
  assert.deepEqual(result.attempts, []);
  assert.match(
    result.error!,
    /^openai:fake: no complete response within 0\.3 s \(--judge-timeout; the deadline covers the whole body\) \(after 1 try\)$/,
  );
});

test('the per-trial budget stops a 500 outage: no try or wait past it, and the failure says so', async () => {
  const outage: Step[] = Array.from({ length: 20 }, () => ({ status: 500 }));
  const { result, slept, requests } = await judgeWith('anthropic', outage, { httpRetries: 20, budgetMs: 5000 });
  // our backoff: 0.5 s, 1 s, 2 s (3.5 s in all); the next, 4 s, would end past the 5 s budget
  assert.deepEqual(slept, [500, 1000, 2000]);
  assert.equal(requests, 4);
  assert.match(
    result.error!,
    /judge budget of 5 s for this trial would be spent before the next try \(after 4 tries: InternalServerError: 500/,
  );
});

test('a 200 MB body is refused at the cap, with or without Content-Length, and not retried', async () => {
  for (const declared of [false, true]) {
    const { result, requests } = await judgeWith('openai', [{ bigBody: 200e6, declared }, { reply: VALID }], {
      httpRetries: 2,
      maxBodyBytes: 1 << 20,
    });
    assert.equal(requests, 1, `declared ${declared}`);
    assert.match(
      result.error!,
      /response body is larger than 1048576 bytes \(the judge reply cap\); refused \(after 1 try\)/,
    );
  }
});

test('a server echoing the key in every field (model id, reply, error text, headers): nothing keeps it', async () => {
  const echo: Step[] = [
    {
      status: 500,
      body: { error: { message: 'internal: key {{KEY}} rejected', key: '{{KEY}}' } },
      headers: { 'x-echo': '{{KEY}}', 'retry-after-ms': '1' },
    },
    { reply: `${VALID}\n(you sent {{KEY}})`, model: 'snapshot-{{KEY}}', headers: { 'x-echo': '{{KEY}}' } },
  ];
  for (const backend of ['openai', 'anthropic'] as const) {
    const ok = await judgeWith(backend, echo);
    assert.equal(ok.result.error, null);
    assert.equal(ok.result.model, 'snapshot-[redacted]');
    assert.match(ok.result.raw!, /you sent \[redacted\]/);
    assert.deepEqual(ok.stats.models_returned, ['snapshot-[redacted]']);
    const failed = await judgeWith(backend, echo.slice(0, 1), { httpRetries: 0 });
    assert.match(failed.result.error!, /internal: key \[redacted\] rejected/);
    for (const thing of [ok, failed]) assert.ok(!JSON.stringify(thing).includes(KEY), `${backend}: the key leaked`);
  }
});

test('a poisoned cache entry (score 150, {}, garbage, another input) is a miss with a warning, then rewritten', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'judge-cache-'));
  const server = await startFakeLlm(Array.from({ length: 8 }, () => ({ reply: VALID })));
  const warnings: string[] = [];
  try {
    const judge = createJudge('openai:fake', {
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
      cacheDir,
      warn: (l) => warnings.push(l),
    });
    const first = await judge.judge(INPUT);
    assert.equal(first.error, null);
    const [shard] = readdirSync(cacheDir);
    const [name] = readdirSync(join(cacheDir, shard));
    const file = join(cacheDir, shard, name);
    const good = JSON.parse(readFileSync(file, 'utf8'));
    const poisons: [string, RegExp][] = [
      [
        JSON.stringify({ ...good, attempts: [{ text: INPUT.response, score: 150 }] }),
        /"score" must be a number in 0–100/,
      ],
      ['{}', /judge_id is not "openai:fake"/],
      ['{"judge_id": "openai:fake", "inp', /not JSON/],
      [JSON.stringify({ ...good, attempts: 'x' }), /attempts is not a list/],
      [JSON.stringify({ ...good, input_sha256: 'f'.repeat(64) }), /input_sha256 does not match/],
      [JSON.stringify({ ...good, attempts: [{ text: 'Not in the response.', score: 10 }] }), /not found verbatim/],
    ];
    for (const [text, why] of poisons) {
      writeFileSync(file, text);
      warnings.length = 0;
      const r = await judge.judge(INPUT);
      assert.equal(r.error, null);
      assert.deepEqual(r.attempts, [{ text: INPUT.response, score: 70 }]);
      assert.equal(warnings.length, 1, text);
      assert.match(warnings[0], why);
      assert.match(warnings[0], /judge cache entry .* ignored .*; judging again/);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).attempts, good.attempts, 'rewritten');
    }
    const hits = judge.stats().cache_hits;
    await judge.judge(INPUT);
    assert.equal(judge.stats().cache_hits, hits + 1);
  } finally {
    await server.close();
  }
});
