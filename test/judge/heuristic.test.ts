// The offline heuristic judge on hand-computed cases (segmentation and lexical relevance).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentTerms, relevanceScore, segmentAttempts } from '../../lib/judge/heuristic.ts';
import { createJudge, HEURISTIC_NOTE } from '../../lib/judge/index.ts';

test('content terms: 3+ letters, no stopwords or instruction words, one plural s dropped', () => {
  // explain/how: instruction words; to/at: too short; "loaves" → "loave", "glass" keeps its "ss".
  assert.deepEqual(
    [...contentTerms('Explain how to bake sourdough loaves at home in a glass jar.')],
    ['bake', 'sourdough', 'loave', 'home', 'glass', 'jar'],
  );
});

test('two attempts split at "Wait, let me get back to the question."', () => {
  const prompt = 'Explain how to bake sourdough bread at home.'; // terms: bake, sourdough, bread, home
  const response =
    'Sourdough starts with a starter. The ocean is vast and blue. Wait, let me get back to the question. ' +
    'To bake sourdough bread at home, mix flour and water.';
  const attempts = segmentAttempts(response);
  assert.deepEqual(attempts, [
    'Sourdough starts with a starter. The ocean is vast and blue.',
    'Wait, let me get back to the question. To bake sourdough bread at home, mix flour and water.',
  ]);
  assert.equal(relevanceScore(prompt, attempts[0]), 25); // sourdough: 1 of 4
  assert.equal(relevanceScore(prompt, attempts[1]), 100); // all 4
});

test('consecutive restart sentences make one restart; a restart in the first sentence makes none', () => {
  const prompt = 'How do I bake bread?'; // terms: bake, bread
  const attempts = segmentAttempts('Tides follow the moon. Wait. Let me get back to the question. Bread needs yeast.');
  assert.deepEqual(attempts, ['Tides follow the moon.', 'Wait. Let me get back to the question. Bread needs yeast.']);
  assert.deepEqual(
    attempts.map((a) => relevanceScore(prompt, a)),
    [0, 50],
  );
  assert.deepEqual(segmentAttempts('Wait, bread is easy. Mix flour.'), ['Wait, bread is easy. Mix flour.']);
});

test('restart phrases after an em dash or a blank line; "wait" inside a sentence is not a restart', () => {
  assert.deepEqual(segmentAttempts('The moon is bright—wait, back to your question: knead the dough.'), [
    'The moon is bright—',
    'wait, back to your question: knead the dough.',
  ]);
  assert.deepEqual(segmentAttempts('Cats purr loudly.\n\nSorry, I got sidetracked. Bread: mix flour.'), [
    'Cats purr loudly.',
    'Sorry, I got sidetracked. Bread: mix flour.',
  ]);
  const oneAttempt = 'Let the dough rest, then wait an hour. The wait is worth it.';
  assert.deepEqual(segmentAttempts(oneAttempt), [oneAttempt]);
});

test('heuristic judge: labelled an approximation; empty response scores 0; a prompt with no content words is an error', async () => {
  const judge = createJudge('heuristic', { env: {} });
  assert.equal(judge.provenance.approximation, true);
  const r = await judge.judge({
    prompt: 'How do I bake bread?',
    response: 'Bread needs yeast and heat to bake.',
    featureLabel: null,
  });
  assert.deepEqual(r, {
    id: 'heuristic',
    attempts: [{ text: 'Bread needs yeast and heat to bake.', score: 100 }],
    raw: HEURISTIC_NOTE,
    error: null,
  });
  assert.match(r.raw!, /approximation/);
  const empty = await judge.judge({ prompt: 'How do I bake bread?', response: '  \n', featureLabel: null });
  assert.deepEqual(empty.attempts, [{ text: '', score: 0 }]);
  const noTerms = await judge.judge({ prompt: 'How do you do it?', response: 'Like this.', featureLabel: null });
  assert.deepEqual(noTerms.attempts, []);
  assert.match(noTerms.error!, /no content words/);
  assert.deepEqual(judge.stats(), {
    judged: 3,
    cache_hits: 0,
    http_requests: 0,
    invalid_outputs: 0,
    errors: 1,
    no_attempt: 0,
    models_returned: [],
  });
});
