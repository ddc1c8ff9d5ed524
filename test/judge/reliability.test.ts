// Judge waits are bounded: a server's Retry-After is capped (and the wait is said), a hanging server costs
// --judge-timeout per try, and a huge reply is stored capped — against a local fake server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createJudge } from '../../lib/judge/index.ts';
import { startFakeLlm } from '../fixtures/judge/fake-llm-server.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const KEY = 'sk-fake-reliability';
const INPUT = { prompt: 'Explain bread.', response: 'Mix flour and water, then bake.', featureLabel: null };
const VALID = `<result>${JSON.stringify({ attempts: [{ text: INPUT.response, score: 70 }] })}</result>`;

test('a Retry-After of 100000 s is cut to the cap, and the wait is said', async () => {
  const server = await startFakeLlm([
    { status: 429, headers: { 'retry-after': '100000' }, body: { error: { message: 'slow down' } } },
    { reply: VALID },
  ]);
  const said: string[] = [];
  try {
    const judge = createJudge('openai:fake', {
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
      timeoutMs: 5000,
      httpRetries: 2,
      maxServerWaitS: 0.05,
      onWait: (l) => said.push(l),
    });
    const t0 = Date.now();
    const r = await judge.judge(INPUT);
    assert.equal(r.error, null);
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    assert.equal(said.length, 1);
    assert.match(said[0], /server answered 429 and asks to wait 100000 s; waiting 0\.05 s \(the cap\) before retrying/);
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
      timeoutMs: 5000,
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
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/analyze.js'),
      'judge',
      '--trials',
      trials,
      '--judge',
      'heuristic',
      '--judge-timeout',
      '0',
      '--out',
      join(dir, 'out.jsonl'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--judge-timeout: expected a number in \(0, ∞\), found 0/);
});
