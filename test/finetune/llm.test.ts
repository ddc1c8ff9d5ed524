// --llm distractions through the judge's chat clients, against a scripted local server: the request names the
// question and the other subject, replies are cleaned, stored texts are not asked for again, keys stay secret.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { flagOf, SettingError } from '../../lib/errors.ts';
import { cleanDistraction, llmDistractions, openLlm } from '../../lib/finetune/llmDistractions.ts';
import { startFakeLlm } from '../fixtures/judge/fake-llm-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'esr-llm-'));
const KEY = 'sk-test-secret-123';
const requests = [
  { id: 'p0.r0', prompt: 'Explain how to bake bread.', partner: 'Explain how to observe Saturn.', sentences: 2 },
  { id: 'p1.r0', prompt: 'Explain how to tune a guitar.', partner: 'Explain how to age cheese.', sentences: 1 },
];

test('replies are cleaned: quotes dropped, whitespace folded, at most the sentences asked for', () => {
  assert.equal(
    cleanDistraction('  "Saturn has rings.\n They are icy. A third one."  ', 2),
    'Saturn has rings. They are icy.',
  );
  assert.equal(cleanDistraction('“Cheese ages”', 1), 'Cheese ages');
});

test('distractions are asked once each, stored as they arrive, and read back on a rerun', async () => {
  const server = await startFakeLlm([
    { reply: '"Saturn has rings. They are icy. And more."' },
    { reply: 'Cheese ages slowly in a cellar.' },
    { reply: 'Cheese needs salt.' },
  ]);
  try {
    const file = join(tmp, 'distractions.jsonl');
    const spec = 'openai:fake-model';
    const o = {
      spec,
      remote: openLlm(spec, { baseUrl: server.openaiUrl, env: { OPENAI_API_KEY: KEY } }),
      file,
      concurrency: 1,
    };
    const first = await llmDistractions(requests, o);
    assert.equal(first.asked, 2);
    assert.deepEqual(Object.fromEntries(first.texts), {
      'p0.r0': 'Saturn has rings. They are icy.',
      'p1.r0': 'Cheese ages slowly in a cellar.',
    });
    const sent = server.requests[0].body.messages[0].content as string;
    assert.match(sent, /"Explain how to bake bread\."/);
    assert.match(sent, /2 sentence\(s\) about this other subject instead: "Explain how to observe Saturn\."/);
    assert.equal(server.requests[0].headers.authorization, `Bearer ${KEY}`);
    // a rerun asks nothing; a torn last line (a kill mid-write) is dropped; a changed request is asked again
    appendFileSync(file, '{"id":"p1.r0","ke');
    const again = await llmDistractions(requests, o);
    assert.equal(again.asked, 0);
    assert.equal(server.requests.length, 2);
    const changed = await llmDistractions([requests[0], { ...requests[1], partner: 'Explain how to salt cheese.' }], o);
    assert.equal(changed.asked, 1);
    assert.equal(changed.texts.get('p1.r0'), 'Cheese needs salt.');
    assert.ok(!readFileSync(file, 'utf8').includes(KEY));
  } finally {
    await server.close();
  }
});

test('a missing key is an input error naming the variable; a failed request names the example, never the key', async () => {
  const file = join(tmp, 'none.jsonl');
  // the library names the setting (llm); the command line shows it as the flag
  const printed = (message: RegExp) => (e: Error) => e instanceof SettingError && message.test(e.render(flagOf));
  assert.throws(() => openLlm('anthropic:m', { env: {} }), printed(/--llm anthropic:m: ANTHROPIC_API_KEY is not set/));
  assert.throws(() => openLlm('heuristic', { env: {} }), printed(/--llm heuristic: expected/));
  const server = await startFakeLlm([{ status: 400, body: { error: { message: `bad key ${KEY}` } } }]);
  try {
    await assert.rejects(
      llmDistractions(requests.slice(0, 1), {
        spec: 'openai:m',
        remote: openLlm('openai:m', { baseUrl: server.openaiUrl, env: { OPENAI_API_KEY: KEY }, httpRetries: 0 }),
        file,
      }),
      (err: Error) => {
        assert.match(err.message, /distraction p0\.r0/);
        assert.ok(!err.message.includes(KEY), err.message);
        return true;
      },
    );
  } finally {
    await server.close();
  }
});
