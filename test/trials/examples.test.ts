// Example responses (Figure 1 style): which trials are picked and in what order, where each attempt sits in the
// response, and the short Markdown of summary.md with model text kept literal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { examplesMarkdown, locateAttempts, pickExamples } from '../../lib/trials/examples.ts';
import type { Trial } from '../../lib/trials/types.ts';

function trial(id: string, feature: number, scores: (number | null)[], o: Partial<Trial> = {}): Trial {
  const texts = scores.map((_, i) => `Attempt ${i} of ${id}.`);
  return {
    id,
    feature,
    feature_label: `topic ${feature}`,
    prompt: `Prompt of ${id}?`,
    seed: 1,
    condition: 'baseline',
    boost: 4.25,
    interventions: [],
    response: texts.join(' '),
    judge: { id: 'heuristic', attempts: texts.map((text, i) => ({ text, score: scores[i] })), raw: null, error: null },
    error: null,
    provenance: {},
    ...o,
  };
}

test('multi-attempt trials first by score change (one per feature before a second), then typical ones nearest the median', () => {
  const trials = [
    trial('m1', 1, [10, 60]), // +50
    trial('m2', 1, [20, 30]), // +10
    trial('m3', 2, [40, 20]), // −20
    trial('s10', 3, [10]),
    trial('s30', 3, [30]),
    trial('s50', 4, [50]),
    trial('s90', 5, [90]), // singles' median 40: s30 and s50 are 10 away, s10 30, s90 50
    trial('err', 6, [10, 99], { error: 'boom' }),
    trial('judge-err', 6, [10, 99], { judge: { id: 'h', attempts: [], raw: null, error: 'bad' } }),
    trial('other', 7, [5, 95], { condition: 'ablate' }),
  ];
  const picked = pickExamples(trials, 6);
  assert.deepEqual([...picked.keys()], ['baseline', 'ablate']);
  const base = picked.get('baseline')!;
  assert.deepEqual(
    base.map((e) => e.trial.id),
    ['m1', 'm3', 'm2', 's30', 's50', 's90'], // s10 is feature 3's second typical one
  );
  assert.deepEqual(
    base.map((e) => [e.kind, e.delta]),
    [
      ['multi-attempt', 50],
      ['multi-attempt', -20],
      ['multi-attempt', 10],
      ['typical', null],
      ['typical', null],
      ['typical', null],
    ],
  );
  assert.deepEqual(
    pickExamples(trials, 2)
      .get('baseline')!
      .map((e) => e.trial.id),
    ['m1', 'm3'],
  );
  assert.equal(pickExamples(trials, 0).size, 0);
  // the same trials in another order give the same picks
  assert.deepEqual(
    pickExamples([...trials].reverse(), 6)
      .get('baseline')!
      .map((e) => e.trial.id),
    base.map((e) => e.trial.id),
  );
});

test('attempts are placed in the response in order: verbatim, across folded whitespace, or not at all', () => {
  const response = 'Stars shine.  Wait,\nlet me   return. Bread: knead it. Stars shine.';
  const spans = locateAttempts(response, [
    { text: 'Stars shine.', score: 5 },
    { text: 'Wait, let me return.', score: 40 },
    { text: 'Stars shine.', score: 60 }, // the second occurrence, after the first attempt
    { text: 'a paraphrase', score: 1 },
  ]).map((a) => a.span);
  assert.deepEqual(spans, [[0, 12], [14, 36], [54, 66], null]);
  assert.equal(response.slice(14, 36), 'Wait,\nlet me   return.');
});

test('summary.md examples: one line of metadata and the attempts with their scores; Markdown in model text is literal', () => {
  const t = trial('x', 3, [10, 80], {
    prompt: 'How do *I* bake <b>bread</b>?',
    response: 'Saturn | rings `code`. Wait, bread needs flour.',
    judge: {
      id: 'heuristic',
      attempts: [
        { text: 'Saturn | rings `code`.', score: 10 },
        { text: 'Wait, bread needs flour.', score: 80 },
      ],
      raw: null,
      error: null,
    },
  });
  const md = examplesMarkdown(pickExamples([t], 2));
  assert.equal(
    md,
    [
      '### baseline',
      '',
      '- **How do \\*I\\* bake \\<b\\>bread\\</b\\>?** — steering feature 3 "topic 3", boost 4.25; multi-attempt, 10 → 80 (+70) (trial `x`)',
      '  **[attempt 1 · 10]** Saturn \\| rings \\`code\\`. **[attempt 2 · 80]** Wait, bread needs flour.',
    ].join('\n'),
  );
  const long = examplesMarkdown(pickExamples([trial('y', 1, [50], { response: 'z' })], 1), 5);
  assert.match(long, /\*\*\[attempt 1 · 50\]\*\* Attem …/);
});
