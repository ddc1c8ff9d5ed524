// The plan of a self-correction dataset: split by prompt, distractions from another prompt of the same split,
// nested masking across ratios, every random choice seeded per unit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CORRECTIONS } from '../../lib/finetune/corrections.ts';
import { firstSentences, maskedCount, planExamples, sentenceEnds, splitPrompts } from '../../lib/finetune/plan.ts';
import { segmentAttempts } from '../../lib/judge/heuristic.ts';

const prompts = Array.from({ length: 20 }, (_, i) => `Explain how to do task ${i}.`);
const answers = prompts.map((_, i) =>
  Array.from({ length: 1 + (i % 3) }, (_, k) => `Answer ${i}.${k} one. Answer ${i}.${k} two! Answer ${i}.${k} three?`),
);
const base = {
  prompts,
  answers,
  seed: 7,
  validation: 0.2,
  distractionSentences: [1, 2] as [number, number],
  corrections: ['Wait.', 'Sorry, off topic.', 'Back to it.'],
};

test('sentences end after . ! ? (and closing quotes); the first n are a prefix of the text', () => {
  assert.deepEqual(sentenceEnds('A b. C d! "E?" F'), [4, 9, 14, 16]);
  assert.equal(firstSentences('A b. C d! E', 2), 'A b. C d!');
  assert.equal(firstSentences('One only', 3), 'One only');
  assert.equal(firstSentences('  A. B.  ', 1), 'A.');
});

test('the split is by prompt: disjoint, complete, the asked share held out (at least 2), seeded', () => {
  const s = splitPrompts(20, 0.2, 7);
  assert.equal(s.validation.length, 4);
  assert.deepEqual(
    [...s.train, ...s.validation].sort((a, b) => a - b),
    [...Array(20).keys()],
  );
  assert.deepEqual(splitPrompts(20, 0.2, 7), s);
  assert.notDeepEqual(splitPrompts(20, 0.2, 8), s);
  assert.equal(splitPrompts(20, 0.01, 7).validation.length, 2);
  assert.equal(splitPrompts(20, 0, 7).validation.length, 0);
  assert.throws(() => splitPrompts(3, 0.5, 7), /too few to hold out 2/);
});

test('each response is one example; its distraction is the first 1–2 sentences of a response of another prompt in its split', () => {
  const plan = planExamples(base);
  assert.equal(plan.length, answers.flat().length);
  assert.deepEqual(new Set(plan.map((e) => e.id)).size, plan.length);
  const split = splitPrompts(20, 0.2, 7);
  for (const e of plan) {
    assert.notEqual(e.partner, e.prompt);
    assert.ok(split[e.split].includes(e.prompt) && split[e.split].includes(e.partner), e.id);
    const k = Number(e.id.split('.r')[1]);
    assert.equal(e.answer, answers[e.prompt][k]);
    const source = answers[e.partner][k % answers[e.partner].length];
    assert.ok(source.startsWith(e.distraction), e.id);
    assert.ok([1, 2].includes(sentenceEnds(e.distraction).length), e.id);
    assert.ok(base.corrections.includes(e.correction));
  }
  // a prompt's responses take their distractions from distinct partners (disjoint derangements)
  for (let i = 0; i < 20; i++) {
    const partners = plan.filter((e) => e.prompt === i).map((e) => e.partner);
    assert.equal(new Set(partners).size, partners.length, `prompt ${i}`);
  }
  // both sentence counts and every phrase occur
  assert.deepEqual(new Set(plan.map((e) => sentenceEnds(e.distraction).length)), new Set([1, 2]));
  assert.equal(new Set(plan.map((e) => e.correction)).size, 3);
});

test('the masking order is a permutation per split, so a lower ratio masks a subset of a higher one', () => {
  const plan = planExamples(base);
  for (const s of ['train', 'validation'] as const) {
    const ranks = plan.filter((e) => e.split === s).map((e) => e.rank);
    assert.deepEqual(
      [...ranks].sort((a, b) => a - b),
      [...ranks.keys()],
    );
    const masked = (pct: number) =>
      new Set(plan.filter((e) => e.split === s && e.rank < maskedCount(ranks.length, pct)).map((e) => e.id));
    const low = masked(10),
      high = masked(50);
    assert.ok([...low].every((id) => high.has(id)));
    assert.equal(high.size, Math.round(ranks.length / 2));
  }
  assert.deepEqual([maskedCount(33, 0), maskedCount(33, 50), maskedCount(33, 100)], [0, 17, 33]);
});

test('seeded: the same seed gives the same plan; an example’s phrase and length depend only on its own id', () => {
  assert.deepEqual(planExamples(base), planExamples(base));
  assert.notDeepEqual(planExamples({ ...base, seed: 8 }), planExamples(base));
  // dropping prompt 19's last response changes neither the phrase nor the sentence count drawn for any other example
  const fewer = planExamples({ ...base, answers: answers.map((a, i) => (i === 19 ? a.slice(0, 1) : a)) });
  const byId = new Map(planExamples(base).map((e) => [e.id, e]));
  for (const e of fewer) assert.equal(e.correction, byId.get(e.id)!.correction, e.id);
});

test('bad settings are refused', () => {
  assert.throws(() => planExamples({ ...base, distractionSentences: [2, 1] }), /MIN-MAX/);
  assert.throws(() => planExamples({ ...base, corrections: [] }), /no correction phrases/);
  assert.throws(() => planExamples({ ...base, answers: answers.map((a, i) => (i ? a : [])) }), /has no response/);
});

test('every built-in correction phrase starts a new attempt for the heuristic judge', () => {
  for (const phrase of DEFAULT_CORRECTIONS) {
    const attempts = segmentAttempts(`Stars are far away. ${phrase} Bread needs flour.`);
    assert.equal(attempts.length, 2, phrase);
  }
});
