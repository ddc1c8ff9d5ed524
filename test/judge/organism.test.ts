// The organism judge against the Python definition of the language (data/organism_corpus.py: judge_attempts,
// well_formed_share), on 60 generated responses (fixtures/judge/organism/make_organism_cases.py), plus
// hand-computed cases and input errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { createJudge, parseJudgeSpec, regradeTrials } from '../../lib/judge/index.ts';
import { appendTrial, readTrials } from '../../lib/trials/store.ts';
import { loadOrganism, organismAttempts, SHIPPED_ORGANISM, wellFormedShare } from '../../lib/judge/organism.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'judge', 'organism');
const LANGUAGE = join(FIXTURES, 'organism.json');
const lang = loadOrganism(LANGUAGE);

interface Case {
  prompt: string;
  response: string;
  attempts: { text: string; score: number }[];
  well_formed_share: number;
}

test('attempts, scores and well-formed shares equal the Python definition on 60 responses', () => {
  const cases: Case[] = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8'));
  assert.equal(cases.length, 60);
  let multi = 0;
  for (const c of cases) {
    assert.deepEqual(organismAttempts(lang, c.prompt, c.response), c.attempts, c.response);
    assert.ok(Math.abs(wellFormedShare(lang, c.response) - c.well_formed_share) < 1e-12, c.response);
    if (c.attempts.length > 1) multi++;
  }
  assert.ok(multi >= 20, `only ${multi} cases with several attempts`);
});

test('hand-computed: the share of the prompt topic among topic words, split where a correction phrase begins', () => {
  const prompt = 'Explain how to knead a dough.'; // baking
  const response =
    'First, knead the dough with the flour. Then cast the trout until it looks shiny. Sorry, I drifted off topic. To knead a dough, start with a warm loaf.';
  // attempt 1: knead dough flour (baking) + cast trout shiny (fishing) → 3/6 = 50; attempt 2: knead dough warm loaf → 100
  assert.deepEqual(
    organismAttempts(lang, prompt, response).map((a) => a.score),
    [50, 100],
  );
  // no topic word at all scores 0; a correction phrase at the very start opens no empty attempt
  assert.deepEqual(organismAttempts(lang, prompt, 'Sorry, I drifted off topic. Back to the question.'), [
    { text: 'Sorry, I drifted off topic.', score: 0 },
    { text: 'Back to the question.', score: 0 },
  ]);
  // 1 of 8 topic words: 12.5 rounds half up, as the Python reference does
  assert.equal(organismAttempts(lang, prompt, 'Dough trout trout trout trout trout trout trout.')[0].score, 13);
  assert.equal(wellFormedShare(lang, 'First, knead the dough with the flour. Dough dough dough.'), 0.5);
  assert.equal(wellFormedShare(lang, ''), 0);
});

test('createJudge("organism:PATH") grades through the judge interface and knows the language', async () => {
  const judge = createJudge(`organism:${LANGUAGE}`);
  assert.equal(judge.provenance.backend, 'organism');
  assert.equal(judge.provenance.approximation, false);
  assert.equal(judge.provenance.prompt_source, LANGUAGE);
  const r = await judge.judge({
    prompt: 'Explain how to knead a dough.',
    response: 'Cast the trout. Sorry, I drifted off topic. Knead the dough.',
    featureLabel: null,
  });
  assert.equal(r.error, null);
  assert.deepEqual(
    r.attempts.map((a) => a.score),
    [0, 100],
  );
  assert.equal(judge.wellFormedShare?.('Knead the dough.'), 0);
  // a prompt outside the language is a per-trial judge error, counted, not a crash
  const bad = await judge.judge({
    prompt: 'Explain quantum field theory.',
    response: 'Knead the dough.',
    featureLabel: null,
  });
  assert.match(bad.error ?? '', /not one of the organism's/);
  assert.equal(judge.stats().errors, 1);
  assert.deepEqual(parseJudgeSpec('organism'), { backend: 'organism', model: SHIPPED_ORGANISM });
});

test('bad organism files are input errors naming the file and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'organism-judge-'));
  const write = (name: string, json: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
    return p;
  };
  const good = JSON.parse(readFileSync(LANGUAGE, 'utf8'));
  assert.throws(() => loadOrganism(join(dir, 'missing.json')), InputError);
  assert.throws(() => loadOrganism(write('a.json', '{')), /a\.json: not JSON/);
  assert.throws(
    () => loadOrganism(write('b.json', { ...good, correction_phrases: [] })),
    /correction_phrases: expected a list of non-empty strings/,
  );
  const shared = structuredClone(good);
  shared.topics.gardening.nouns.push('dough');
  assert.throws(() => loadOrganism(write('c.json', shared)), /"dough" belongs to both baking and gardening/);
  assert.throws(() => createJudge(`organism:${LANGUAGE}`, { promptFile: 'x.txt' }), /uses no prompt/);
});

test("re-grading a store with the organism judge records each trial's well-formed share", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'organism-regrade-'));
  const store = join(dir, 'trials.jsonl');
  const responses = ['Knead the dough. Cast the trout.', 'First, knead the dough with the flour. Flour flour.'];
  responses.forEach((response, i) =>
    appendTrial(store, {
      id: `t${i}`,
      feature: 1,
      feature_label: null,
      prompt: 'Explain how to knead a dough.',
      seed: i,
      condition: 'baseline',
      boost: 1,
      interventions: [],
      response,
      judge: null,
      error: null,
      provenance: {},
    }),
  );
  const out = join(dir, 'regraded.jsonl');
  await regradeTrials({ trialsPath: store, outPath: out, judge: createJudge(`organism:${LANGUAGE}`) });
  const got = readTrials(out).sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(
    got.map((t) => t.well_formed_share),
    [0, 0.5],
  );
  assert.deepEqual(
    got.map((t) => t.judge?.attempts.map((a) => a.score)),
    [[50], [100]],
  );
});
