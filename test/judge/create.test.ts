// Judge specs, prompt templates and output validation: configuration errors are InputErrors at
// construction; malformed outputs are rejected with a reason.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import {
  createJudge,
  defaultJudgeSpec,
  InvalidJudgeOutput,
  loadJudgePrompt,
  parseJudgeOutput,
  renderJudgePrompt,
} from '../../lib/judge/index.ts';

const KEY = 'sk-fake-KEY-9f3a7c1e-do-not-leak';

test('configuration errors are InputErrors thrown at construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'judge-config-'));
  try {
    const bad = (spec: string, opts = {}) => assert.throws(() => createJudge(spec, { env: {}, ...opts }), InputError);
    bad('gemini:pro');
    bad('anthropic:');
    bad('anthropic:claude-x'); // no ANTHROPIC_API_KEY
    bad('openai:gpt-x'); // no OPENAI_API_KEY
    bad('openai:gpt-x', { env: { OPENAI_API_KEY: KEY }, promptFile: join(dir, 'missing.txt') });
    writeFileSync(join(dir, 'no-response.txt'), 'Grade {{prompt}}.');
    bad('openai:gpt-x', { env: { OPENAI_API_KEY: KEY }, promptFile: join(dir, 'no-response.txt') });
    writeFileSync(join(dir, 'typo.txt'), 'Grade {{prompt}} {{response}} {{label}}.');
    bad('openai:gpt-x', { env: { OPENAI_API_KEY: KEY }, promptFile: join(dir, 'typo.txt') });
    bad('openai:gpt-x', { env: { OPENAI_API_KEY: KEY }, baseUrl: 'not a url' });
    bad('openai:gpt-x', { env: { OPENAI_API_KEY: KEY }, concurrency: 0 });
    bad('heuristic', { promptFile: join(dir, 'typo.txt') });
    assert.throws(() => createJudge('openai:gpt-x', { env: {} }), /OPENAI_API_KEY is not set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('base URL from the flag, else from the environment; recorded without credentials or query', () => {
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: 'http://user:secret@127.0.0.1:8000/v1/?token=abc' };
  assert.equal(createJudge('openai:m', { env }).provenance.base_url, 'http://127.0.0.1:8000/v1');
  assert.equal(
    createJudge('openai:m', { env, baseUrl: 'https://openrouter.ai/api/v1' }).provenance.base_url,
    'https://openrouter.ai/api/v1',
  );
  assert.equal(createJudge('anthropic:m', { env: { ANTHROPIC_API_KEY: KEY } }).provenance.base_url, null);
});

test('default judge: heuristic without keys', () => {
  assert.equal(defaultJudgeSpec({}), 'heuristic');
  assert.match(defaultJudgeSpec({ ANTHROPIC_API_KEY: KEY }), /^anthropic:/);
  assert.match(defaultJudgeSpec({ OPENAI_API_KEY: KEY }), /^openai:/);
});

test('template rendering fills placeholders once, never inside the substituted text', () => {
  const text = renderJudgePrompt('Q={{prompt}} A={{ response }} L={{feature_label}}', {
    prompt: 'say {{response}}',
    response: 'ok',
    featureLabel: null,
  });
  assert.equal(text, 'Q=say {{response}} A=ok L=unknown');
  const builtin = loadJudgePrompt();
  assert.equal(builtin.source, 'builtin');
  assert.match(builtin.sha256, /^[0-9a-f]{64}$/);
});

test('output validation', () => {
  const response = 'Tides follow the moon.\nWait, back to bread:   mix flour.';
  const ok = parseJudgeOutput(
    'thinking <result>old</result> then <result>\n```json\n{"attempts":[{"text":"Tides follow the moon.","score":10},' +
      '{"text":"Wait, back to bread: mix flour.","score":72.5}]}\n```\n</result>',
    response,
  );
  assert.deepEqual(
    ok.map((a) => a.score),
    [10, 72.5],
  ); // last block used; fence and whitespace tolerated
  const rejects = (raw: string, why: RegExp) =>
    assert.throws(
      () => parseJudgeOutput(raw, response),
      (e: Error) => e instanceof InvalidJudgeOutput && why.test(e.message),
    );
  rejects('no tags', /no <result>/);
  rejects('<result>{attempts: []}</result>', /not valid JSON/);
  rejects('<result>{"scores": []}</result>', /no "attempts" array/);
  rejects('<result>{"attempts": []}</result>', /empty/);
  rejects('<result>{"attempts":[{"text":"Tides follow the moon.","score":101}]}</result>', /0–100, found 101/);
  rejects('<result>{"attempts":[{"text":"Tides follow the moon.","score":null}]}</result>', /found null/);
  rejects('<result>{"attempts":[{"text":"  ","score":5}]}</result>', /non-empty string/);
  rejects('<result>{"attempts":[{"text":"Tides follow the sun.","score":5}]}</result>', /not found verbatim/);
});
