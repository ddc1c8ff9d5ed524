// Restricting trials by their per-trial records (lib/trials/restrict.ts), on hand-made trials.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { parseRestriction, restrictTrials } from '../../lib/trials/restrict.ts';
import type { Trial } from '../../lib/trials/types.ts';

function trial(id: string, extra: Partial<Trial>): Trial {
  return {
    id,
    feature: 1,
    feature_label: null,
    prompt: 'p',
    seed: 0,
    condition: 'baseline',
    boost: 1,
    interventions: [],
    response: 'a b c',
    judge: null,
    error: null,
    provenance: {},
    ...extra,
  };
}

const trials = [
  trial('a', { generated_tokens: 40, finish_reason: 'eos', well_formed_share: 1, degraded: false }),
  trial('b', { generated_tokens: 96, finish_reason: 'length', well_formed_share: 0.5, degraded: false }),
  trial('c', { generated_tokens: 96, finish_reason: 'length', well_formed_share: 0.25, degraded: true }),
  trial('d', { generated_tokens: 60, finish_reason: 'eos', well_formed_share: 0.8, degraded: false }),
];
const ids = (where: string[]) => restrictTrials(trials, where.map(parseRestriction)).map((t) => t.id);

test('each field and operator, and conditions ANDed', () => {
  assert.deepEqual(ids(['finish_reason=eos']), ['a', 'd']);
  assert.deepEqual(ids(['finish_reason!=eos']), ['b', 'c']);
  assert.deepEqual(ids(['well_formed_share>=0.8']), ['a', 'd']);
  assert.deepEqual(ids(['well_formed_share>0.8']), ['a']);
  assert.deepEqual(ids(['generated_tokens<96']), ['a', 'd']);
  assert.deepEqual(ids(['generated_tokens<=60', 'well_formed_share<1']), ['d']);
  assert.deepEqual(ids(['degraded=false', 'finish_reason=length']), ['b']);
  assert.deepEqual(ids([]), ['a', 'b', 'c', 'd']);
});

test('degraded is computed from the response when a store lacks it; other missing fields are input errors', () => {
  const old = [trial('x', { response: 'go go go go go now' }), trial('y', { response: 'fine text' })];
  assert.deepEqual(
    restrictTrials(old, [parseRestriction('degraded=true')]).map((t) => t.id),
    ['x'],
  );
  assert.throws(() => restrictTrials(old, [parseRestriction('finish_reason=eos')]), /trial x: no finish_reason/);
  assert.throws(
    () => restrictTrials([trial('z', { well_formed_share: null })], [parseRestriction('well_formed_share>0')]),
    /--judge organism/,
  );
});

test('malformed conditions name the flag and what is expected', () => {
  for (const bad of [
    'tokens<3',
    'finish_reason<eos',
    'finish_reason=stop',
    'degraded=yes',
    'well_formed_share>=x',
    'x',
  ])
    assert.throws(
      () => parseRestriction(bad),
      (e: Error) => e instanceof InputError && /--where/.test(e.message),
      bad,
    );
});
