// Remote judges against a scripted local server speaking both wire formats: retries, timeouts,
// invalid output, validation, concurrency, cache, and that the API key never leaks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createJudge } from '../../lib/judge/index.ts';
import type { JudgeOptions, JudgeResult } from '../../lib/judge/index.ts';
import { startFakeLlm, type FakeLlm, type Step } from '../fixtures/judge/fake-llm-server.ts';

const KEY = 'sk-fake-KEY-9f3a7c1e-do-not-leak';
const INPUT = {
  prompt: 'Explain how to bake sourdough bread.',
  response:
    'The ocean is deep and blue. Wait, let me get back to the question. Mix flour, water and starter, then bake.',
  featureLabel: 'oceans',
};
const ATTEMPTS = [
  { text: 'The ocean is deep and blue.', score: 5 },
  { text: 'Wait, let me get back to the question. Mix flour, water and starter, then bake.', score: 80 },
];
const VALID = `Reasoning first.\n<result>${JSON.stringify({ attempts: ATTEMPTS })}</result>`;
// Requests time out on the server's clock (only where the script says 'hang'), never on the machine's speed.
const FAST: JudgeOptions = { httpRetries: 2, invalidOutputRetries: 2, backoffMs: 1 };
const RETRY_NOW = { 'retry-after-ms': '1' };

const FORMATS = [
  { name: 'anthropic', keyVar: 'ANTHROPIC_API_KEY', url: (s: FakeLlm) => s.anthropicUrl, path: '/v1/messages' },
  { name: 'openai', keyVar: 'OPENAI_API_KEY', url: (s: FakeLlm) => s.openaiUrl, path: '/v1/chat/completions' },
] as const;

type Format = (typeof FORMATS)[number];

async function judgeOnce(format: Format, script: Step[], opts: JudgeOptions = {}) {
  const server = await startFakeLlm(script);
  try {
    const judge = createJudge(`${format.name}:fake-model`, {
      ...FAST,
      requestTimer: server.requestTimer,
      baseUrl: format.url(server),
      env: { [format.keyVar]: KEY },
      ...opts,
    });
    const result = await judge.judge(INPUT);
    return { result, stats: judge.stats(), requests: server.requests, provenance: judge.provenance };
  } finally {
    await server.close();
  }
}

function assertNoKey(...things: unknown[]): void {
  for (const thing of things) assert.ok(!JSON.stringify(thing).includes(KEY), 'the API key leaked');
}

function assertJudged(result: JudgeResult, id: string): void {
  assert.equal(result.error, null);
  assert.equal(result.id, id);
  assert.deepEqual(result.attempts, ATTEMPTS);
}

for (const format of FORMATS) {
  const id = `${format.name}:fake-model`;

  test(`${format.name}: success sends the key, temperature 0 and the rendered prompt to the right path`, async () => {
    const { result, requests, stats, provenance } = await judgeOnce(format, [{ reply: VALID }]);
    assertJudged(result, id);
    assert.equal(result.raw, VALID);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].path, format.path);
    const auth = String(requests[0].headers.authorization ?? requests[0].headers['x-api-key']);
    assert.ok(auth.includes(KEY), 'the key was sent to the server');
    assert.equal(requests[0].body.model, 'fake-model');
    assert.equal(requests[0].body.temperature, 0);
    const userMsg = requests[0].body.messages.at(-1).content;
    assert.ok(userMsg.includes(INPUT.prompt) && userMsg.includes(INPUT.response) && userMsg.includes('oceans'));
    const builtin = readFileSync(new URL('../../lib/judge/default-prompt.txt', import.meta.url));
    assert.equal(provenance.prompt_sha256, createHash('sha256').update(builtin).digest('hex'));
    assert.equal(stats.http_requests, 1);
    assertNoKey(result, stats, provenance);
  });

  test(`${format.name}: 429 then success (the retry honours Retry-After)`, async () => {
    const { result, requests } = await judgeOnce(format, [
      { status: 429, headers: RETRY_NOW, body: { error: { type: 'rate_limit_error', message: 'slow down' } } },
      { reply: VALID },
    ]);
    assertJudged(result, id);
    assert.equal(requests.length, 2);
  });

  test(`${format.name}: 500 then success`, async () => {
    const { result, requests } = await judgeOnce(format, [{ status: 500, headers: RETRY_NOW }, { reply: VALID }]);
    assertJudged(result, id);
    assert.equal(requests.length, 2);
  });

  test(`${format.name}: garbage then valid (re-asked with the problem stated)`, async () => {
    const { result, requests, stats } = await judgeOnce(format, [{ reply: 'I think it is fine.' }, { reply: VALID }]);
    assertJudged(result, id);
    assert.equal(requests.length, 2);
    assert.equal(stats.invalid_outputs, 1);
    const retry = requests[1].body.messages;
    assert.equal(retry.length, 3);
    assert.equal(retry[1].role, 'assistant');
    assert.match(retry[2].content, /no <result>/);
  });

  test(`${format.name}: a timeout is retried`, async () => {
    const { result, requests } = await judgeOnce(format, ['hang', { reply: VALID }]);
    assertJudged(result, id);
    assert.equal(requests.length, 2);
  });

  test(`${format.name}: invalid scores are rejected, retried, then recorded as an error`, async () => {
    const bad = (score: unknown) =>
      `<result>{"attempts":[{"text":"The ocean is deep and blue.","score":${JSON.stringify(score)}}]}</result>`;
    const { result, requests, stats } = await judgeOnce(format, [
      { reply: bad(150) },
      { reply: bad(-3) },
      { reply: bad('80') },
    ]);
    assert.equal(requests.length, 3, 'one try plus two retries, then it gives up');
    assert.deepEqual(result.attempts, []);
    assert.match(
      result.error!,
      /invalid output after 3 tries: attempt 1: "score" must be a number in 0–100, found "80"/,
    );
    assert.equal(result.raw, bad('80'));
    assert.equal(stats.invalid_outputs, 3);
    assert.equal(stats.errors, 1);
  });
}

test('anthropic: timeouts past the retry budget are recorded as an error', async () => {
  const { result, requests, stats } = await judgeOnce(FORMATS[0], ['hang', 'hang'], { httpRetries: 1 });
  assert.equal(requests.length, 2);
  assert.match(result.error!, /^anthropic:fake-model: no complete response within 120 s .* \(after 2 tries\)$/);
  assert.equal(stats.errors, 1);
});

test('a request that never answers times out on the real clock after timeoutMs', async () => {
  const server = await startFakeLlm(['hang']);
  try {
    const judge = createJudge('openai:fake-model', {
      ...FAST,
      httpRetries: 0,
      timeoutMs: 200,
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
    });
    const result = await judge.judge(INPUT);
    assert.match(
      result.error!,
      /^openai:fake-model: no complete response within 0\.2 s \(--judge-timeout; the deadline covers the whole body\) \(after 1 try\)$/,
    );
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test('openai: attempts that are not in the response, or none at all, are rejected', async () => {
  const invented = `<result>{"attempts":[{"text":"Bake at 230 C for 40 minutes.","score":90}]}</result>`;
  const { result } = await judgeOnce(FORMATS[1], [{ reply: invented }, { reply: '<result>{"attempts":[]}</result>' }], {
    invalidOutputRetries: 1,
  });
  assert.match(result.error!, /"attempts" is empty/);
});

test('a server echoing the key in an error body: the recorded error has it redacted', async () => {
  for (const format of FORMATS) {
    const { result } = await judgeOnce(format, [{ echoAuth: true }]);
    assert.match(result.error!, /AuthenticationError/);
    assert.match(result.error!, /\[redacted\]/);
    assertNoKey(result);
  }
});

test('concurrency limit: never more requests in flight than allowed', async () => {
  const server = await startFakeLlm(Array.from({ length: 6 }, () => ({ reply: VALID, delayMs: 30 })));
  try {
    const judge = createJudge('openai:fake-model', {
      ...FAST,
      requestTimer: server.requestTimer,
      concurrency: 2,
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => judge.judge(INPUT)));
    results.forEach((r) => assertJudged(r, 'openai:fake-model'));
    assert.equal(server.requests.length, 6);
    assert.ok(server.maxInFlight <= 2, `max in flight ${server.maxInFlight}`);
  } finally {
    await server.close();
  }
});

test('cache: a second judge with the same settings answers from disk; another prompt misses; torn files are ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'judge-cache-'));
  const server = await startFakeLlm([{ reply: VALID }, { reply: VALID }, { reply: VALID }]);
  try {
    const opts = {
      ...FAST,
      requestTimer: server.requestTimer,
      cacheDir: join(dir, 'cache'),
      baseUrl: server.anthropicUrl,
      env: { ANTHROPIC_API_KEY: KEY },
    };
    const first = createJudge('anthropic:fake-model', opts);
    assertJudged(await first.judge(INPUT), 'anthropic:fake-model');
    const second = createJudge('anthropic:fake-model', opts);
    assertJudged(await second.judge(INPUT), 'anthropic:fake-model');
    assert.deepEqual([second.stats().cache_hits, second.stats().http_requests], [1, 0]);

    const promptFile = join(dir, 'prompt.txt');
    writeFileSync(promptFile, 'Q: {{prompt}}\nA: {{response}}\nAnswer in <result></result>.');
    const other = createJudge('anthropic:fake-model', { ...opts, promptFile });
    await other.judge(INPUT);
    assert.deepEqual([other.stats().cache_hits, other.stats().http_requests], [0, 1]);

    // A kill mid-write leaves at most a temp file; a damaged entry is recomputed, not trusted.
    const entries = readdirSync(opts.cacheDir, { recursive: true })
      .map((f) => join(opts.cacheDir, String(f)))
      .filter((p) => p.endsWith('.json'));
    assert.equal(entries.length, 2);
    for (const p of entries) writeFileSync(p, '{"attempts": [');
    writeFileSync(`${entries[0]}.123.tmp`, '{');
    const third = createJudge('anthropic:fake-model', opts);
    assertJudged(await third.judge(INPUT), 'anthropic:fake-model');
    assert.deepEqual([third.stats().cache_hits, third.stats().http_requests], [0, 1]);

    const cacheText = readdirSync(opts.cacheDir, { recursive: true })
      .map((f) => join(opts.cacheDir, String(f)))
      .filter((p) => p.endsWith('.json'))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    assert.ok(cacheText.length > 0);
    assert.ok(!cacheText.includes(KEY));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
