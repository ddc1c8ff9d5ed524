// The paper's result files by condition: `--trials FILE[=CONDITION]` labels, files of different
// experiments never pooled silently into one condition, a boost-sweep file split into one condition
// per level, and `ablate` as the ablation condition's name.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { loadTrialSources, parseTrialSpec } from '../../lib/trials/sources.ts';
import { assertExit, runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'paper-files-'));

/** A paper result file: 2 features × 3 trials; trial k of feature f has `attempts(f, k)` scores. */
function paperFile(
  name: string,
  extra: Record<string, unknown>,
  attempts: (f: number, k: number) => number[],
  threshold: (k: number) => number = () => 2,
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      results_by_feature: [3, 8].map((feature, f) => ({
        feature_index_in_sae: feature,
        feature_label: `f${feature}`,
        threshold: 2,
        error: null,
        trials: [0, 1, 2].map((k) => ({
          prompt: `p${k}`,
          seed: k,
          response: 'r',
          error: null,
          threshold: threshold(k),
          score: { raw_response: '', attempts: attempts(f, k).map((s) => ({ attempt_text: 'x', score: s })) },
        })),
      })),
      ...extra,
    }),
  );
  return path;
}

const one = () => [30];
const base = paperFile(
  'experiment_results_m_20250101_000000.json',
  { experiment_config: { meta_prompt: null, n_trials: 3 } },
  one,
);
const half = paperFile(
  'experiment_results_m_20250101_000000_part2.json',
  { experiment_config: { n_trials: 3, meta_prompt: null } },
  one,
);
const meta = paperFile(
  'experiment_results_m_20250102_000000_meta.json',
  { experiment_config: { meta_prompt: 'notice drift', n_trials: 3 } },
  (_f, k) => (k === 0 ? [20, 60] : [30]),
);
const abl = paperFile(
  'experiment_results_m_20250103_000000_with_ablation.json',
  { experiment_config: { n_trials: 3 }, ablated_latents: [1, 2] },
  one,
);
const rnd = paperFile(
  'experiment_results_m_20250104_000000_random.json',
  { experiment_config: { n_trials: 3, random_latents: true }, ablated_latents: [5, 6] },
  one,
);
const sweep = paperFile(
  'experiment_results_m_20250105_000000_sweep.json',
  {
    experiment_config: { n_trials: 3, sweep: true },
    n_boost_levels: 3,
    boost_range_std: 1,
    boost_levels: [1, 1.5, 2.25],
  },
  (_f, k) => (k === 2 ? [10, 50] : [40]),
  (k) => [1, 1.5, 2.25][k],
);

test('FILE=CONDITION: a path that exists is never split; a label must be a name', () => {
  assert.deepEqual(parseTrialSpec(`${meta}=meta-prompt`), { path: meta, label: 'meta-prompt' });
  assert.deepEqual(parseTrialSpec(meta), { path: meta, label: null });
  const odd = join(dir, 'a=b.json');
  writeFileSync(odd, '{}');
  assert.deepEqual(parseTrialSpec(odd), { path: odd, label: null });
  assert.throws(() => parseTrialSpec(`${meta}=`), /condition "" must be a name/);
});

test('unlabelled files of different experiments in one condition are refused, naming the files', () => {
  // the meta-prompt file has no ablated latents, so from the file alone it reads as baseline
  assert.throws(
    () => loadTrialSources([base, meta]),
    (e: Error) =>
      e.message.includes(`${base}, ${meta}: these files come from different experiments`) &&
      /would all count as condition "baseline"; label each file/.test(e.message),
  );
  // a random-control file has ablated latents too: it would read as ablate
  assert.throws(() => loadTrialSources([abl, rnd]), /would all count as condition "ablate"/);
  // the same experiment split over two files (same config, keys in another order) pools silently
  const pooled = loadTrialSources([base, half]);
  assert.deepEqual(
    pooled.flatMap((s) => s.conditions),
    ['baseline', 'baseline'],
  );
});

test('labelled paper files: one condition each; the ablation condition is `ablate`; metrics per condition', () => {
  const sources = loadTrialSources([base, `${meta}=meta-prompt`, abl, `${rnd}=random`]);
  assert.deepEqual(
    sources.map((s) => s.conditions),
    [['baseline'], ['meta-prompt'], ['ablate'], ['random']],
  );
  assert.deepEqual(
    sources.map((s) => s.label),
    [null, 'meta-prompt', null, 'random'],
  );
  const r = computeMetrics(
    sources.flatMap((s) => s.trials),
    { resamples: 200 },
  );
  assert.deepEqual(Object.keys(r.conditions), ['baseline', 'meta-prompt', 'ablate', 'random']);
  // meta-prompt: trial 0 of both features has two attempts, the second higher: 2 of 6
  assert.equal(r.conditions['meta-prompt'].metrics.multi_attempt_rate.estimate, 2 / 6);
  assert.equal(r.conditions['meta-prompt'].metrics.esr_rate.estimate, 2 / 6);
  assert.equal(r.conditions.baseline.metrics.multi_attempt_rate.estimate, 0);
});

test('a boost-sweep file becomes one condition per boost level (labelled or not)', () => {
  const [s] = loadTrialSources([sweep]);
  assert.deepEqual(s.conditions, ['baseline boost=1', 'baseline boost=1.5', 'baseline boost=2.25']);
  assert.deepEqual(s.paper!.boostLevels, [1, 1.5, 2.25]);
  const [l] = loadTrialSources([`${sweep}=sweep`]);
  assert.deepEqual(l.conditions, ['sweep boost=1', 'sweep boost=1.5', 'sweep boost=2.25']);
  const r = computeMetrics(l.trials, { resamples: 200 });
  // level 2.25 holds trial 2 of each feature: both multi-attempt ESR trials
  assert.equal(r.conditions['sweep boost=2.25'].n_trials, 2);
  assert.equal(r.conditions['sweep boost=2.25'].metrics.esr_rate.estimate, 1);
  assert.equal(r.conditions['sweep boost=1'].metrics.multi_attempt_rate.estimate, 0);
  // an unlabelled sweep beside an unlabelled baseline: different conditions, nothing pooled
  assert.deepEqual(loadTrialSources([base, sweep]).flatMap((x) => x.conditions).length, 4);
});

test('analyze metrics --trials FILE=CONDITION through the CLI; an unlabelled mix exits 2', () => {
  const run = (args: string[]) => runCli(['metrics', '--resamples', '200', '--trials', ...args]);
  const ok = run([base, `${meta}=meta-prompt`]);
  assertExit(ok, 0);
  assert.match(ok.stdout, /\| meta-prompt − baseline \| multi-attempt \|/);
  const bad = run([base, meta]);
  assertExit(bad, 2, /these files come from different experiments/);
});
