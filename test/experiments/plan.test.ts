// The pieces of analyze ablate that need no model: latent specs, features files, draws and the paired
// plan, frequency-matched random sets, and the probabilistic bisection — against hand-computed values.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Bisection, type BisectionSettings, sideConfidence } from '../../lib/experiments/bisection.ts';
import { readFeatures, sampleFeatures } from '../../lib/experiments/features.ts';
import { parseLatentSpec } from '../../lib/experiments/latents.ts';
import { parseConditions } from '../../lib/experiments/conditions.ts';
import { drawsFor, planTrials, sweepLevels } from '../../lib/experiments/plan.ts';
import { activityMatchedSets, uniformSets } from '../../lib/experiments/randomSets.ts';
import { InputError } from '../../lib/errors.ts';
import { residPost } from '../../lib/model/hooks.ts';

const dir = mkdtempSync(join(tmpdir(), 'ablate-plan-'));

test('--latents: topK, FILE:topK, lists; conflicts and junk are input errors', () => {
  assert.deepEqual(parseLatentSpec('top26', null), { kind: 'top', k: 26, file: null });
  assert.deepEqual(parseLatentSpec('top5', 'x.json'), { kind: 'top', k: 5, file: 'x.json' });
  assert.deepEqual(parseLatentSpec('runs/a/latents.json:top3', null), {
    kind: 'top',
    k: 3,
    file: 'runs/a/latents.json',
  });
  assert.deepEqual(parseLatentSpec('12, 40,7', null), { kind: 'list', latents: [12, 40, 7] });
  for (const [text, otd] of [
    ['top0', null],
    ['a.json:top3', 'b.json'],
    ['1,2', 'b.json'],
    ['1,1', null],
    ['twelve', null],
    ['-3', null],
  ] as const) {
    assert.throws(() => parseLatentSpec(text, otd), InputError, `${text} with --otd ${otd}`);
  }
});

test('features files: JSON, CSV with header, bare lines; duplicates refused', () => {
  const json = join(dir, 'f.json');
  writeFileSync(json, JSON.stringify([3, { latent: 9, label: 'nine' }, { index: 11 }]));
  assert.deepEqual(readFeatures(json), [
    { latent: 3, label: null },
    { latent: 9, label: 'nine' },
    { latent: 11, label: null },
  ]);
  const csv = join(dir, 'f.csv');
  writeFileSync(csv, 'index,label\n4,"cats, dogs"\n8\n');
  assert.deepEqual(readFeatures(csv), [
    { latent: 4, label: 'cats, dogs' },
    { latent: 8, label: null },
  ]);
  writeFileSync(csv, '4\n4\n');
  assert.throws(() => readFeatures(csv), /listed twice/);
  writeFileSync(csv, '4\nfour\n');
  assert.throws(() => readFeatures(csv), /:2: expected index/);
});

test('feature sampling: distinct, from the pool, seeded', () => {
  const pool = Array.from({ length: 47 }, (_, i) => ({ latent: i + 3, label: null }));
  const a = sampleFeatures(pool, 10, 7).map((f) => f.latent);
  assert.equal(new Set(a).size, 10);
  assert.ok(a.every((l) => l > 2));
  assert.deepEqual(
    sampleFeatures(pool, 10, 7).map((f) => f.latent),
    a,
  );
  assert.notDeepEqual(
    sampleFeatures(pool, 10, 8).map((f) => f.latent),
    a,
  );
  assert.throws(() => sampleFeatures(pool, 48, 7), InputError);
});

test('draws: distinct prompts until they run out, independent of other features', () => {
  const d = drawsFor(42, 5, 12, 3);
  assert.deepEqual(new Set(d.slice(0, 5).map((x) => x.promptIndex)), new Set([0, 1, 2, 3, 4]));
  assert.deepEqual(new Set(d.slice(5, 10).map((x) => x.promptIndex)), new Set([0, 1, 2, 3, 4]));
  assert.ok(d.every((x) => Number.isInteger(x.seed) && x.seed >= 0 && x.seed < 2 ** 31));
  assert.deepEqual(drawsFor(42, 5, 12, 3), d);
  assert.notDeepEqual(drawsFor(43, 5, 12, 3), d);
});

test('plan: every condition on the same (feature, prompt, seed) triples, with its interventions', () => {
  const conditions = parseConditions('baseline,ablate,random,no-steer,meta-prompt');
  const plan = planTrials({
    features: [
      { latent: 100, label: 'a' },
      { latent: 200, label: null },
    ],
    prompts: ['p0', 'p1', 'p2'],
    trialsPerFeature: 4,
    seed: 1,
    conditions,
    strengths: new Map([
      [100, [{ boost: 2, level: null }]],
      [200, [{ boost: 5, level: null }]],
    ]),
    steerHook: residPost(3),
    clampHook: residPost(7),
    ablated: [1, 2],
    randomSets: [
      { latents: [8, 9], matched: [1, 2] },
      { latents: [18, 19], matched: [1, 2] },
    ],
    metaPrompt: 'stay on topic',
    metaPromptPlacement: 'user',
  });
  assert.equal(plan.length, 2 * 4 * 5);
  assert.equal(new Set(plan.map((p) => p.id)).size, plan.length);
  const triples = (c: string) =>
    plan
      .filter((p) => p.condition === c)
      .map((p) => `${p.feature}:${p.prompt}:${p.seed}`)
      .join('|');
  for (const c of conditions) assert.equal(triples(c), triples('baseline'), c);
  const one = (c: string) => plan.find((p) => p.condition === c && p.feature === 100)!;
  assert.deepEqual(one('baseline').interventions, [
    { hook: 'blocks.3.hook_resid_post', layer: 3, latent: 100, value: 2, mode: 'add' },
  ]);
  assert.deepEqual(one('ablate').interventions, [
    { hook: 'blocks.3.hook_resid_post', layer: 3, latent: 100, value: 2, mode: 'add' },
    { hook: 'blocks.7.hook_resid_post', layer: 7, latent: 1, value: 0, mode: 'clamp' },
    { hook: 'blocks.7.hook_resid_post', layer: 7, latent: 2, value: 0, mode: 'clamp' },
  ]);
  assert.deepEqual(one('no-steer').interventions, []);
  assert.equal(one('no-steer').boost, null);
  assert.deepEqual(one('meta-prompt').instruction, { text: 'stay on topic', placement: 'user' });
  assert.equal(one('baseline').instruction, null);
  assert.deepEqual(one('meta-prompt').interventions, one('baseline').interventions);
  // random sets alternate over draws: draw t uses set t mod 2
  const random = plan.filter((p) => p.condition === 'random' && p.feature === 100);
  assert.deepEqual(
    random.map((p) => p.randomSet),
    [0, 1, 0, 1],
  );
  assert.deepEqual(
    random[1].interventions.slice(1).map((i) => i.latent),
    [18, 19],
  );
  assert.throws(() => parseConditions('baseline,ablation'), /unknown condition "ablation"/);
  assert.throws(() => parseConditions('baseline,baseline'), /twice/);
});

test('sweep levels: evenly spaced over ±range', () => {
  assert.deepEqual(sweepLevels(5, 1), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(sweepLevels(1, 2), [0]);
  assert.deepEqual(sweepLevels(2, 1.5), [-1.5, 1.5]);
});

test('random sets: each pick among the 5 nearest in activity percentiles, never an ablated or excluded latent', () => {
  // latents 0..99: firing frequency i/100, mean code when firing 1 (a tie, so only frequency separates them); ablated 10 and 50, excluded 11
  const activity = {
    freq: Float64Array.from({ length: 100 }, (_, i) => i / 100),
    mean: new Float64Array(100).fill(1),
    tokens: 100,
  };
  const sets = activityMatchedSets(activity, [10, 50], [11], 20, 4);
  // nearest to 10 outside {10, 50, 11}: 9, 12 (one percentile each), 8, 13 (two) and then 7 before 14 (ties broken by index)
  const near10 = new Set([9, 12, 8, 13, 7]);
  const near50 = new Set([49, 51, 48, 52, 47]);
  for (const s of sets) {
    assert.ok(near10.has(s.latents[0]), `set ${s.latents}`);
    assert.ok(near50.has(s.latents[1]), `set ${s.latents}`);
  }
  assert.ok(new Set(sets.map((s) => s.latents[0])).size > 1, 'draws vary across sets');
  assert.deepEqual(activityMatchedSets(activity, [10, 50], [11], 20, 4), sets);
  assert.throws(() => activityMatchedSets(activity, [10, 500], [], 1, 0), /500 outside the store's 100 latents/);
  // uniform (the paper's): seeded, without replacement, never excluded
  const u = uniformSets(100, [10, 50], [11, 12], 30, 1);
  for (const s of u) {
    assert.equal(new Set(s.latents).size, 2);
    assert.ok(s.latents.every((l) => ![10, 50, 11, 12].includes(l)));
  }
  assert.deepEqual(uniformSets(100, [10, 50], [11, 12], 30, 1), u);
});

const settings = (o: Partial<BisectionSettings> = {}): BisectionSettings => ({
  lo: 0,
  hi: 10,
  grid: 10_000,
  priorMean: 5,
  priorSd: 2.5,
  target: 0.3,
  pseudoCount: 4,
  maxConfidence: 0.95,
  ...o,
});

test('bisection: confidence from the Beta pseudo-posterior, computed by hand', () => {
  // score 0, one response: Beta(1, 5), cdf(x) = 1 − (1 − x)^5; the score is below the target
  assert.ok(Math.abs(sideConfidence(0, 1, settings()) - (1 - 0.7 ** 5)) < 1e-12);
  // score 0.5, one response: Beta(3, 3), cdf(0.3) = Σ_{j=3..5} C(5,j) 0.3^j 0.7^(5−j) = 0.16308; above the target
  assert.ok(Math.abs(sideConfidence(0.5, 1, settings()) - (1 - 0.16308)) < 1e-12);
  // score 1: Beta(5, 1) puts 1 − 0.3^5 above 0.3, clipped to 0.95
  assert.equal(sideConfidence(1, 1, settings()), 0.95);
  // one update on a flat prior over 4 points: the side named gets c, the other 1 − c
  const b = new Bisection(settings({ lo: 0, hi: 3, grid: 4, priorMean: 1.5, priorSd: 1e9 }));
  b.update(1, 0, 1);
  const c = 1 - 0.7 ** 5;
  const expect = [c, c, 1 - c, 1 - c].map((x) => x / (2 * c + 2 * (1 - c)));
  b.posterior.forEach((p, i) => assert.ok(Math.abs(p - expect[i]) < 1e-12));
  assert.equal(b.median(), 1);
});

test('bisection: converges on the threshold of a noiseless judge', () => {
  for (const theta of [1.7, 6.2, 9.1]) {
    const b = new Bisection(settings());
    for (let i = 0; i < 40; i++) {
      const x = b.median();
      b.update(x, x < theta ? 0.8 : 0.05);
    }
    assert.ok(Math.abs(b.median() - theta) < 0.05, `θ ${theta}: found ${b.median()}`);
  }
});
