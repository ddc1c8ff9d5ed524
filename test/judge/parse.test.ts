// The paper's judge output format (free-form feedback, then <json>{"attempts": [{"attempt_text", "score"}]}</json>)
// through a local server speaking the OpenAI wire format: parsed with the verbatim check, an empty list is
// "no attempt" (excluded from the metrics with that reason), and the model id the API returns is recorded.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createJudge,
  DEFAULT_MODELS,
  defaultJudgeSpec,
  InvalidJudgeOutput,
  parseJudgment,
} from '../../lib/judge/index.ts';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { startFakeLlm, type Step } from '../fixtures/judge/fake-llm-server.ts';

const KEY = 'sk-fake-paper-format';
const INPUT = {
  prompt: 'Explain how to bake sourdough bread.',
  response:
    'The ocean is deep and blue. Wait, let me get back to the question. Mix flour, water and starter, then bake.',
  featureLabel: 'oceans',
};
const PAPER_REPLY = [
  'The response starts with an unrelated remark about the ocean, then explicitly restarts and answers briefly.',
  '<json>',
  JSON.stringify({
    attempts: [
      { attempt_text: 'The ocean is deep and blue.', score: 0 },
      { attempt_text: 'Wait, let me get back to the question. Mix flour, water and starter, then bake.', score: 70 },
    ],
  }),
  '</json>',
].join('\n');
const NO_ATTEMPT = 'The response only asks a clarifying question; there is no attempt.\n<json>{"attempts": []}</json>';

const tmp = mkdtempSync(join(tmpdir(), 'judge-paper-'));
// A prompt asking for the paper's format (our own words; the paper's prompt can be given the same way).
const promptFile = join(tmp, 'paper-format-prompt.txt');
writeFileSync(
  promptFile,
  'Question: {{prompt}}\nAnswer: {{response}}\nGive feedback, then <json>{"attempts": [{"attempt_text": ..., "score": 0-100}]}</json>.\n',
);

async function judgeWith(script: Step[]) {
  const server = await startFakeLlm(script);
  try {
    const judge = createJudge('openai:fake-haiku', {
      baseUrl: server.openaiUrl,
      env: { OPENAI_API_KEY: KEY },
      promptFile,
      invalidOutputRetries: 1,
      backoffMs: 1,
      requestTimer: server.requestTimer, // no request times out, however slow the machine
    });
    return { result: await judge.judge(INPUT), stats: judge.stats(), requests: server.requests };
  } finally {
    await server.close();
  }
}

test('parseJudgment: the paper format gives attempts and its feedback; ours still parses; ours wins when both are present', () => {
  const p = parseJudgment(PAPER_REPLY, INPUT.response);
  assert.equal(p.format, 'paper');
  assert.deepEqual(
    p.attempts.map((a) => a.score),
    [0, 70],
  );
  assert.match(p.feedback!, /^The response starts with an unrelated remark/);
  const ours = '<result>{"attempts":[{"text":"The ocean is deep and blue.","score":10}]}</result>';
  assert.deepEqual(parseJudgment(ours, INPUT.response), {
    format: 'result',
    attempts: [{ text: 'The ocean is deep and blue.', score: 10 }],
    feedback: null,
  });
  assert.equal(parseJudgment(`${PAPER_REPLY}\n${ours}`, INPUT.response).format, 'result');
  // an empty list is allowed in the paper's format only
  assert.deepEqual(parseJudgment(NO_ATTEMPT, INPUT.response).attempts, []);
  assert.throws(() => parseJudgment('<result>{"attempts": []}</result>', INPUT.response), /"attempts" is empty/);
  // the verbatim check holds for the paper's format too, and its field name is attempt_text
  const rejects = (raw: string, why: RegExp) =>
    assert.throws(
      () => parseJudgment(raw, INPUT.response),
      (e: Error) => e instanceof InvalidJudgeOutput && why.test(e.message),
    );
  rejects(
    '<json>{"attempts":[{"attempt_text":"Bake a cake.","score":50}]}</json>',
    /attempt 1: its text is not found verbatim/,
  );
  rejects(
    '<json>{"attempts":[{"text":"The ocean is deep and blue.","score":50}]}</json>',
    /"attempt_text" must be a non-empty string/,
  );
  rejects(
    '<json>{"attempts":[{"attempt_text":"The ocean is deep and blue.","score":101}]}</json>',
    /"score" must be a number in 0–100/,
  );
  rejects('<json>not json</json>', /the <json> block is not valid JSON/);
  rejects('just feedback', /no <result>…<\/result> \(or <json>…<\/json>\) block/);
});

test('openai wire: the paper format is parsed, and the model id the API returned is recorded', async () => {
  const { result, stats, requests } = await judgeWith([{ reply: PAPER_REPLY, model: 'fake-haiku-20251001' }]);
  assert.equal(result.error, null);
  assert.deepEqual(result.attempts, [
    { text: 'The ocean is deep and blue.', score: 0 },
    { text: 'Wait, let me get back to the question. Mix flour, water and starter, then bake.', score: 70 },
  ]);
  assert.equal(result.model, 'fake-haiku-20251001');
  assert.deepEqual(stats.models_returned, ['fake-haiku-20251001']);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].body.model, 'fake-haiku');
});

test('openai wire: an empty attempts list is "no attempt": no error, excluded from the metrics as no_attempts', async () => {
  const { result, stats } = await judgeWith([{ reply: NO_ATTEMPT }]);
  assert.equal(result.error, null);
  assert.deepEqual(result.attempts, []);
  assert.equal(stats.no_attempt, 1);
  assert.match(result.raw!, /only asks a clarifying question/);
  const trial = (id: string, judge: Trial['judge']): Trial => ({
    id,
    feature: 1,
    feature_label: null,
    prompt: INPUT.prompt,
    seed: 0,
    condition: 'baseline',
    boost: 1,
    interventions: [],
    response: INPUT.response,
    judge,
    error: null,
    provenance: {},
  });
  const counted = { id: 'x', attempts: [{ text: 'a', score: 40 }], raw: null, error: null };
  const r = computeMetrics([trial('a', result), trial('b', counted), trial('c', counted)], { resamples: 200 });
  assert.equal(r.conditions.baseline.n_trials, 2);
  assert.deepEqual(r.conditions.baseline.errors, { no_attempts: 1 });
});

test('openai wire: a paper-format attempt not in the response is re-asked, then recorded as an error', async () => {
  const bad = '<json>{"attempts":[{"attempt_text":"Something else entirely.","score":50}]}</json>';
  const { result, requests } = await judgeWith([{ reply: bad }, { reply: bad }]);
  assert.equal(requests.length, 2);
  assert.match(requests[1].body.messages[2].content, /its text is not found verbatim/);
  assert.match(result.error!, /invalid output after 2 tries/);
});

test("the default remote judge is the paper's model family (Claude Haiku 4.5) when ANTHROPIC_API_KEY is set", () => {
  assert.equal(DEFAULT_MODELS.anthropic, 'claude-haiku-4-5');
  assert.equal(defaultJudgeSpec({ ANTHROPIC_API_KEY: 'k' }), 'anthropic:claude-haiku-4-5');
  assert.equal(defaultJudgeSpec({}), 'heuristic');
});
