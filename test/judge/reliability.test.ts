// Judge waits are bounded: a server's Retry-After is capped (and the wait is said), and a huge reply is
// stored capped — against a local fake server; --judge-timeout is checked.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { guardedFetch } from '../../lib/judge/backends.ts';
import { createJudge } from '../../lib/judge/index.ts';
import { startFakeLlm } from '../fixtures/judge/fake-llm-server.ts';
import { assertExit, runCli } from '../support/cli.ts';

const KEY = 'sk-fake-reliability';
const INPUT = { prompt: 'Explain bread.', response: 'Mix flour and water, then bake.', featureLabel: null };
const VALID = `<result>${JSON.stringify({ attempts: [{ text: INPUT.response, score: 70 }] })}</result>`;

test('a Retry-After of 100000 s reaches the SDK as the cap (retry-after-ms), and the wait is said', async () => {
  const server = await startFakeLlm([
    { status: 429, headers: { 'retry-after': '100000' }, body: { error: { message: 'slow down' } } },
  ]);
  const said: string[] = [];
  try {
    const send = guardedFetch({ onRequest: () => {}, onWait: (l) => said.push(l), maxServerWaitS: 0.05, timeoutMs: 1 });
    const res = await send(`${server.openaiUrl}/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), null);
    assert.equal(res.headers.get('retry-after-ms'), '50');
    assert.deepEqual(await res.json(), { error: { message: 'slow down' } });
    assert.equal(said.length, 1);
    assert.match(said[0], /server answered 429 and asks to wait 100000 s; waiting 0\.05 s \(the cap\) before retrying/);
  } finally {
    await server.close();
  }
});

test('a judge told to wait 100000 s retries after the cap and succeeds', async () => {
  const server = await startFakeLlm([
    { status: 429, headers: { 'retry-after': '100000' }, body: { error: { message: 'slow down' } } },
    { reply: VALID },
  ]);
  const said: string[] = [];
  try {
    const judge = createJudge('openai:fake', {
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
      requestTimer: server.requestTimer,
      httpRetries: 2,
      maxServerWaitS: 0.05,
      onWait: (l) => said.push(l),
    });
    const r = await judge.judge(INPUT);
    assert.equal(r.error, null);
    assert.equal(server.requests.length, 2);
    assert.equal(said.length, 1);
  } finally {
    await server.close();
  }
});

test('a huge judge reply is stored as its first 64 KiB with its length and hash', async () => {
  const huge = `${'x'.repeat(2 << 20)}${VALID}`;
  const server = await startFakeLlm([{ reply: huge }]);
  try {
    const judge = createJudge('anthropic:fake', {
      baseUrl: server.anthropicUrl,
      env: { ANTHROPIC_API_KEY: KEY },
      requestTimer: server.requestTimer,
      httpRetries: 0,
    });
    const r = await judge.judge(INPUT);
    assert.equal(r.error, null);
    assert.deepEqual(r.attempts, [{ text: INPUT.response, score: 70 }]);
    assert.ok(r.raw!.length < 70_000);
    assert.match(r.raw!, /cut at 65536 of \d+ characters; sha256 [0-9a-f]{64}\]$/);
  } finally {
    await server.close();
  }
});

test('--judge-timeout must be a positive number of seconds (exit 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'judge-timeout-'));
  const trials = join(dir, 't.jsonl');
  writeFileSync(trials, '');
  const r = runCli([
    'judge',
    '--trials',
    trials,
    '--judge',
    'heuristic',
    '--judge-timeout',
    '0',
    '--out',
    join(dir, 'out.jsonl'),
  ]);
  assertExit(r, 2, /--judge-timeout: expected a number in \(0, ∞\), found 0/);
});
