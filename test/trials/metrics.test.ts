// ESR metrics against hand-computed values; paper result import; the `analyze metrics` command.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { loadTrials } from '../../lib/trials/paper.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { assertExit, runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'metrics-'));

function trial(condition: string, feature: number, scores: (number | null)[] | 'error', i: number): Trial {
  return {
    id: `${condition}-${feature}-${i}`,
    feature,
    feature_label: null,
    prompt: `prompt ${i}`,
    seed: i,
    condition,
    boost: 1,
    interventions: [],
    response: '...',
    error: scores === 'error' ? 'generation failed' : null,
    provenance: {},
    judge:
      scores === 'error'
        ? null
        : { id: 'test', attempts: scores.map((s) => ({ text: 'x', score: s })), raw: null, error: null },
  };
}

// Hand-computed below: base counts 5 trials (one generation error), ablation 5 (one with all scores null).
const TRIALS: Trial[] = [
  trial('base', 1, [20], 0),
  trial('base', 1, [30, 60], 1),
  trial('base', 1, [50, 40], 2),
  trial('base', 2, [10, 10], 3),
  trial('base', 2, [0], 4),
  trial('base', 2, 'error', 5),
  trial('abl', 1, [20], 0),
  trial('abl', 1, [30], 1),
  trial('abl', 1, [50, null, 70], 2),
  trial('abl', 2, [10], 3),
  trial('abl', 2, [null, null], 4),
  trial('abl', 2, [5], 5),
];

test('metrics: estimates, exclusions and differences as computed by hand', () => {
  const r = computeMetrics(TRIALS, { resamples: 500, seed: 3 });
  const base = r.conditions.base;
  const abl = r.conditions.abl;
  assert.equal(base.n_trials, 5);
  assert.deepEqual(base.errors, { trial_error: 1 });
  assert.deepEqual(abl.errors, { all_scores_null: 1 });
  assert.equal(base.n_clusters, 2);
  const est = (c: typeof base) => Object.fromEntries(Object.entries(c.metrics).map(([k, v]) => [k, v.estimate]));
  const near = (a: Record<string, number>, b: Record<string, number>) =>
    Object.keys(b).forEach((k) => assert.ok(Math.abs(a[k] - b[k]) < 1e-12, `${k}: ${a[k]} vs ${b[k]}`));
  // base: multi 3/5, ESR 1/5 (30→60), improvement 1/3, first (20+30+50+10+0)/5, delta (30−10+0)/3
  near(est(base), {
    multi_attempt_rate: 0.6,
    esr_rate: 0.2,
    improvement_rate: 1 / 3,
    first_attempt_score: 22,
    score_delta: 20 / 3,
  });
  // ablation: the null score is dropped, so [50, 70] is a 2-attempt ESR trial
  near(est(abl), {
    multi_attempt_rate: 0.2,
    esr_rate: 0.2,
    improvement_rate: 1,
    first_attempt_score: 23,
    score_delta: 20,
  });
  const d = r.differences.find((x) => x.metric === 'multi_attempt_rate')!;
  assert.equal(d.a, 'abl');
  assert.equal(d.b, 'base');
  assert.ok(Math.abs(d.estimate + 0.4) < 1e-12 && Math.abs(d.relative - 2 / 3) < 1e-12);
  // exhaustive label swaps over the 2 features: T ∈ {−0.4, 0, 0, +0.4}, so p = 2/4
  assert.equal(d.p, 0.5);
  // Wald as the paper computes it: p ± 1.96·√(p(1−p)/n)
  const w = base.metrics.multi_attempt_rate.wald;
  assert.ok(Math.abs(w[0] - (0.6 - 1.959963984540054 * Math.sqrt(0.24 / 5))) < 1e-12);
});

test('metrics: same seed gives the same intervals, another seed other ones', () => {
  const a = JSON.stringify(computeMetrics(TRIALS, { resamples: 300, seed: 9, cluster: 'none' }));
  const b = JSON.stringify(computeMetrics(TRIALS, { resamples: 300, seed: 9, cluster: 'none' }));
  const c = JSON.stringify(computeMetrics(TRIALS, { resamples: 300, seed: 10, cluster: 'none' }));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

test('paper import: the inclusion rules, with every exclusion counted', () => {
  const paper = {
    experiment_config: {},
    results_by_feature: [
      {
        feature_index_in_sae: 5,
        feature_label: 'a',
        threshold: 2,
        error: null,
        trials: [
          {
            prompt: 'p1',
            seed: 1,
            response: 'r',
            error: null,
            score: {
              raw_response: '',
              attempts: [
                { attempt_text: 'x', score: 40 },
                { attempt_text: 'y', score: 80 },
              ],
            },
          },
          { prompt: 'p2', seed: 2, response: 'r', error: 'timeout', score: null },
          { prompt: 'p3', seed: 3, response: 'r', error: null, score: { raw_response: null, error: 'judge failed' } },
          { prompt: 'p4', seed: 4, response: 'r', error: null, score: { raw_response: '', attempts: [] } },
          {
            prompt: 'p5',
            seed: 5,
            response: 'r',
            error: null,
            score: { raw_response: '', attempts: [{ attempt_text: 'x', score: null }] },
          },
        ],
      },
      {
        feature_index_in_sae: 9,
        feature_label: 'b',
        threshold: 2,
        error: 'could not calibrate',
        trials: [
          {
            prompt: 'p1',
            seed: 1,
            response: 'r',
            error: null,
            score: { raw_response: '', attempts: [{ attempt_text: 'x', score: 10 }] },
          },
        ],
      },
    ],
    ablated_latents: [1, 2],
  };
  const path = join(dir, 'experiment_results_x_20250101_000000_with_ablation.json');
  writeFileSync(path, JSON.stringify(paper));
  const { trials, format } = loadTrials(path);
  assert.equal(format, 'paper');
  assert.equal(trials.length, 6);
  assert.ok(trials.every((t) => t.condition === 'ablate'));
  const r = computeMetrics(trials, { resamples: 200 });
  const c = r.conditions.ablate;
  assert.equal(c.n_trials, 1);
  assert.deepEqual(c.errors, { trial_error: 2, judge_error: 1, no_attempts: 1, all_scores_null: 1 });
  assert.equal(c.metrics.esr_rate.estimate, 1);
});

test('analyze metrics: JSONL in, table and metrics.json out; bad input exits 2', () => {
  const path = join(dir, 'trials.jsonl');
  writeFileSync(path, `${TRIALS.map((t) => JSON.stringify(t)).join('\n')}\n`);
  const out = join(dir, 'metrics.json');
  const run = (args: string[]) => runCli(['metrics', ...args]);
  const ok = run(['--trials', path, '--resamples', '200', '--baseline', 'base', '--out', out]);
  assertExit(ok, 0);
  assert.match(ok.stdout, /\| base \| ESR \|/);
  assert.match(ok.stdout, /Wald \(paper\)/);
  const m = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(Object.keys(m.conditions), ['base', 'abl']);
  assert.deepEqual(Object.keys(m.conditions.base.metrics), [
    'multi_attempt_rate',
    'esr_rate',
    'improvement_rate',
    'first_attempt_score',
    'score_delta',
  ]);
  assert.deepEqual(m.bootstrap.resamples, 200);
  assertExit(run(['--trials', join(dir, 'missing.jsonl')]), 2, /missing\.jsonl: trial file not found/);
  assertExit(
    run(['--trials', path, '--resamples', '5']),
    2,
    /--resamples: expected an integer in \[100, 1000000\], found 5/,
  );
});

test('a condition named "__proto__" (or "constructor") is a row like any other, in the report, its JSON and the command', () => {
  const named = TRIALS.map((t) => ({ ...t, condition: t.condition === 'abl' ? '__proto__' : 'constructor' }));
  const r = computeMetrics(named, { resamples: 200, seed: 1 });
  assert.deepEqual(Object.keys(r.conditions), ['constructor', '__proto__']);
  const plain = computeMetrics(TRIALS, { resamples: 200, seed: 1 });
  const proto = Object.entries(r.conditions).find(([name]) => name === '__proto__')?.[1];
  assert.deepEqual(proto, plain.conditions.abl, 'the same numbers as under an ordinary name');
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(r)).conditions), ['constructor', '__proto__']);
  const path = join(dir, 'proto.jsonl');
  writeFileSync(path, `${named.map((t) => JSON.stringify(t)).join('\n')}\n`);
  const out = runCli(['metrics', '--trials', path, '--resamples', '200']);
  assertExit(out, 0);
  assert.match(out.stdout, /^\| __proto__ \| 5 \|/m);
  assert.match(out.stdout, /^\| constructor \| 5 \|/m);
});
