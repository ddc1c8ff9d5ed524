// analyze ablate on the tiny fixture model: the trial store's design and provenance, the random control
// from a hand-made discovery run, metrics consistent with the store, and bad input refused before work.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTable, tableToIPC } from 'apache-arrow';
import yargs from 'yargs';
import ablate from '../../analyses/ablate.ts';
import { backendOption } from '../../lib/cli/options.ts';
import { flagOf, InputError, SettingError } from '../../lib/errors.ts';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { isDegraded } from '../../lib/trials/degraded.ts';
import { readTrials } from '../../lib/trials/store.ts';
import { ActsWriter } from '../../lib/store/writer.ts';
import { assertExit, runCli } from '../support/cli.ts';
import { FIXTURE_SAE as SAE, FIXTURE_SESSION_ARGS, writeFixtureFeatures } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'ablate-cli-'));
const prompts = join(dir, 'prompts.txt');
writeFileSync(
  prompts,
  [
    'Explain how to bake bread.',
    'Explain how tides work.',
    'Explain how to tie a bowline.',
    'Explain how a bicycle gear works.',
  ].join('\n'),
);
const features = writeFixtureFeatures(dir);
// general text for the steering pool (the shipped one goes with the shipped model only)
const general = join(dir, 'general.txt');
writeFileSync(
  general,
  'The river runs past the old mill.\nA cat sleeps on the warm stone wall.\nPlease pass the salt and the bread.\n',
);

// A hand-made discovery run: latents.json (ranked 5, 9, 11, 200; only 5 and 9 selected), ranking.arrow
// (AUC 1 for 5 and 9, 0.75 for 11 and 200: all four detector-like; 0.5 elsewhere) and an activation store
// where latent l fires (code 1) on l of its 256 tokens, so l's nearest neighbours in activity are l ± 1, l ± 2, …
const otdRun = join(dir, 'runs', 'find-otd-latents-20250101-000000');
mkdirSync(otdRun, { recursive: true });
writeFileSync(
  join(otdRun, 'latents.json'),
  JSON.stringify({
    method: 'test',
    criterion: {},
    model: null,
    sae: { path: SAE },
    layer: 1,
    selected: [5, 9],
    latents: [5, 9, 11, 200].map((latent) => ({ latent, selected: latent < 10, stats: {} })),
  }),
);
const latent = Int32Array.from({ length: 256 }, (_, i) => i);
const auc = Float64Array.from(latent, (l) => (l === 5 || l === 9 ? 1 : l === 11 || l === 200 ? 0.75 : 0.5));
writeFileSync(
  join(otdRun, 'ranking.arrow'),
  tableToIPC(
    makeTable({
      latent,
      freq_a: Float64Array.from(latent, (l) => l / 256),
      freq_b: Float64Array.from(latent, (l) => l / 256),
      auc,
      q_bh: new Float64Array(256).fill(1),
      cohens_d: new Float64Array(256),
      selected: Uint8Array.from(latent, (l) => (l === 5 || l === 9 ? 1 : 0)),
    }),
    'file',
  ),
);
const acts = new ActsWriter(join(otdRun, 'activations.acts'));
const codeRows = { sample: [] as number[], token: [] as number[], latent: [] as number[] };
for (let l = 0; l < 256; l++)
  for (let t = 0; t < l; t++) {
    codeRows.sample.push(t >> 4);
    codeRows.token.push(t & 15);
    codeRows.latent.push(l);
  }
acts.append(
  Array.from({ length: 16 }, (_, i) => ({
    id: `on:${i}`,
    condition: 'on_topic',
    prompt_id: `p${i}`,
    response_id: `p${i}`,
    n_tokens: 16,
    span_start: 0,
    span_end: 16,
  })),
  {
    sample: Int32Array.from(codeRows.sample),
    token: Int32Array.from(codeRows.token),
    latent: Int32Array.from(codeRows.latent),
    value: new Float32Array(codeRows.latent.length).fill(1),
  },
);
await acts.finalize({ model: null, sae: null, layer: 1, d_sae: 256 });

const base = [
  ...FIXTURE_SESSION_ARGS,
  '--prompts',
  prompts,
  '--max-tokens',
  '12',
  '--batch-size',
  '4',
  '--resamples',
  '200',
];

/** `analyze ablate args` in `cwd` (a temporary directory), with the default runs/ there. */
const cli = (args: string[], cwd = dir) => runCli(['ablate', ...args], { cwd, env: { ESR_RUNS_DIR: undefined } });

test('ablate: paired store with interventions and provenance; metrics.json is computeMetrics of the store', () => {
  const out = join(dir, 'run-a');
  const runArgs = [
    ...base,
    '--latents',
    'top4',
    '--features',
    features,
    '--trials-per-feature',
    '3',
    '--boost',
    '3',
    '--conditions',
    'baseline,ablate,random,no-steer',
    '--random-sets',
    '2',
    '--out',
    out,
  ];
  const r = cli(runArgs);
  assertExit(r, 0, /ablating 4 latents from runs\/find-otd-latents-20250101-000000\/latents\.json/);
  assert.match(r.stderr, /warning: 2 of them did not pass that run's selection rule: 11, 200/);
  assert.match(r.stdout, /\| baseline \(approximation\) \| 9 \| 3 \|/);
  const trials = readTrials(join(out, 'trials.jsonl'));
  assert.equal(trials.length, 3 * 3 * 4);
  // per-trial records: a reply that ran to --max-tokens 12 has 12 tokens, one ended by a stop token at most 12;
  // the degraded flag is the paper's filter; the heuristic judge knows no language, so no well-formed share
  for (const t of trials) {
    assert.ok(
      t.finish_reason === 'length' ? t.generated_tokens === 12 : t.finish_reason === 'eos' && t.generated_tokens! <= 12,
      `${t.id}: ${t.finish_reason} after ${t.generated_tokens} tokens`,
    );
    assert.equal(t.degraded, isDegraded(t.response));
    assert.equal(t.well_formed_share, null);
  }
  const byCond = (c: string) =>
    trials
      .filter((t) => t.condition === c)
      .map((t) => `${t.feature}|${t.prompt}|${t.seed}`)
      .sort();
  for (const c of ['ablate', 'random', 'no-steer']) assert.deepEqual(byCond(c), byCond('baseline'), c);
  const abl = trials.find((t) => t.condition === 'ablate' && t.feature === 40)!;
  assert.deepEqual(abl.interventions, [
    { hook: 'blocks.1.hook_resid_post', layer: 1, latent: 40, value: 3, mode: 'add' },
    ...[5, 9, 11, 200].map((l) => ({ hook: 'blocks.1.hook_resid_post', layer: 1, latent: l, value: 0, mode: 'clamp' })),
  ]);
  assert.equal(abl.feature_label, 'forty');
  // random sets: one stand-in per ablated latent, near it in activity (5 nearest of those left), never detector-like or a feature
  for (const t of trials.filter((x) => x.condition === 'random')) {
    const clamps = t.interventions.filter((i) => i.mode === 'clamp').map((i) => i.latent);
    [5, 9, 11, 200].forEach((d, k) =>
      assert.ok(Math.abs(clamps[k] - d) <= 5 && ![5, 9, 11, 200, 3, 17, 40].includes(clamps[k]), `${d} → ${clamps[k]}`),
    );
  }
  const p = abl.provenance as any;
  assert.equal(p.steer_layer, 1);
  assert.equal(p.clamp_layer, 1);
  assert.equal(p.feature_hook, 'blocks.1.hook_resid_post');
  assert.equal(p.steer_hook, 'blocks.1.hook_resid_post');
  assert.equal(p.clamp_hook, 'blocks.1.hook_resid_post');
  assert.equal(p.judge.id, 'heuristic');
  assert.equal(p.sampling.temperature, 0.6);
  assert.equal(p.sampling.repetitionPenalty, 1.1);
  assert.equal(p.seed, abl.seed);
  assert.match(p.model.files['config.json'], /^[0-9a-f]{64}$/);
  assert.match(p.sae.files[0].sha256, /^[0-9a-f]{64}$/);
  assert.match(p.chat_template_sha256, /^[0-9a-f]{64}$/);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const expected = computeMetrics(trials, { cluster: 'feature', resamples: 200, seed: 0, baseline: 'baseline' });
  assert.deepEqual(metrics.conditions, JSON.parse(JSON.stringify(expected.conditions)));
  assert.ok(readFileSync(join(out, 'summary.md'), 'utf8').includes('lexical approximation'));
  // a finished run, rerun: nothing redone
  const again = cli(runArgs);
  assertExit(again, 0);
  assert.match(again.stdout, /36 trials \(36 already done, 0 now\)/);
  // the same directory with other settings is refused
  const other = cli([
    ...base,
    '--latents',
    'top4',
    '--features',
    features,
    '--trials-per-feature',
    '3',
    '--boost',
    '4',
    '--out',
    out,
  ]);
  assertExit(other, 2, /holds a run with other settings/);
});

/** An error's text as the command line prints it (settings named as flags). */
const printed = (err: Error): string => (err instanceof SettingError ? err.render(flagOf) : err.message);

/** Runs the command in this process, as the CLI would parse it; resolves, or rejects with the error. */
async function inProcess(args: string[]): Promise<void> {
  await backendOption(yargs(['ablate', ...args]))
    .command(ablate)
    .strict()
    .fail((msg, err) => {
      throw err ?? new InputError(msg);
    })
    .parseAsync();
}

test('ablate --n-features --feature-labels: labelled latents from the steering pool, labels in the trials, the pool recorded', () => {
  const out = join(dir, 'run-labels');
  const labels = join(dir, 'labels.json');
  writeFileSync(
    labels,
    JSON.stringify(Object.fromEntries(Array.from({ length: 256 }, (_, i) => [String(i), `latent ${i}`]))),
  );
  const r = cli([
    ...base,
    '--latents',
    '5,9',
    '--n-features',
    '3',
    '--feature-labels',
    labels,
    '--general-text',
    general,
    '--trials-per-feature',
    '2',
    '--boost',
    '3',
    '--out',
    out,
  ]);
  assertExit(r, 0);
  const pool = JSON.parse(readFileSync(join(out, 'steering_pool.json'), 'utf8'));
  assert.match(pool.rule, /code is 0 at every position of every chat-rendered prompt/);
  assert.equal(pool.d_sae, 256);
  assert.ok(
    pool.pool >= 3 && pool.pool <= pool.alive_on_general_text && pool.alive_on_general_text <= pool.silent_on_prompts,
  );
  assert.equal(pool.sampled.length, 3);
  assert.ok(pool.sampled.every((l: number) => l !== 5 && l !== 9));
  const trials = readTrials(join(out, 'trials.jsonl'));
  assert.equal(trials.length, 3 * 2 * 2);
  for (const t of trials) assert.equal(t.feature_label, `latent ${t.feature}`);
  assert.deepEqual([...new Set(trials.map((t) => t.feature))].sort(), [...pool.sampled].sort());
  assert.match(
    readFileSync(join(out, 'summary.md'), 'utf8'),
    /Steering features: 3 sampled \(seed 0\) from a pool of \d+/,
  );
});

test('ablate: an empty steering pool is a clear input error, not a crash', async () => {
  const labels = join(dir, 'labels-ablated-only.json');
  writeFileSync(labels, JSON.stringify({ 5: 'an ablated latent' })); // the ablated set never enters the pool
  await assert.rejects(
    inProcess([
      ...base,
      '--latents',
      '5,9',
      '--feature-labels',
      labels,
      '--general-text',
      general,
      '--boost',
      '1',
      '--out',
      join(dir, 'run-empty'),
    ]),
    (err: Error) =>
      err instanceof InputError &&
      /the steering pool at blocks\.\d+\.hook_resid_post is empty \(.*0 labelled/.test(printed(err)),
  );
});

test('ablate: bad input is an InputError before any work (no run directory), exit code 2 from the CLI', async () => {
  const out = join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [
      ['--latents', '5,9,999', '--features', features, '--boost', '1'],
      /latent 999 not in the SAE \(it has latents 0\.\.255\)/,
    ],
    [['--latents', '5,9', '--features', join(dir, 'bad-features.json'), '--boost', '1'], /file not found/],
    [['--latents', '5,9', '--n-features', '3', '--features', features], /--features and --n-features conflict/],
    [
      ['--latents', '5,9', '--feature-labels', features, '--features', features],
      /--features and --feature-labels conflict/,
    ],
    [
      ['--latents', '5,9', '--feature-labels', join(dir, 'no-labels.json'), '--boost', '1'],
      /--feature-labels .*no-labels\.json: file not found/,
    ],
    [['--latents', '5,9', '--boost', '2', '--calibrate'], /--boost and --calibrate conflict/],
    [['--latents', '5,9', '--boost', '2', '--boost-sweep', '3'], /--boost-sweep does not apply with --boost/],
    [['--latents', '5,9', '--boost', '2', '--random-sets', '3'], /add random to --conditions/],
    [['--latents', '5,9', '--otd', 'x.json'], /does not read a latent set/],
    [
      ['--latents', '5,9', '--features', features, '--boost', '1', '--steer-layer', '3'],
      /--steer-layer 3: blocks\.3\.hook_resid_post names layer 3, but the model has layers 0\.\.2/,
    ],
    [
      ['--latents', '5,9', '--features', features, '--boost', '1', '--clamp-layer', 'blocks.1.hook_mlp'],
      /--clamp-layer: expected a hook name \(blocks\.L\.hook_resid_pre, .*\) or a layer number L \(= resid_post\.L\), found "blocks\.1\.hook_mlp"/,
    ],
    [['--latents', '3,9', '--features', features, '--boost', '1'], /3 is also in the ablated set/],
    [['--latents', '5,9', '--judge', 'anthropic:claude-x'], /ANTHROPIC_API_KEY is not set/],
  ];
  const saved = { a: process.env.ANTHROPIC_API_KEY, o: process.env.OPENAI_API_KEY };
  delete process.env.ANTHROPIC_API_KEY;
  try {
    for (const [args, message] of cases) {
      await assert.rejects(
        inProcess([...base, ...args, '--out', out]),
        (err: Error) => err instanceof InputError && message.test(printed(err)),
        args.join(' '),
      );
    }
    process.env.OPENAI_API_KEY = 'sk-test-not-a-key';
    await assert.rejects(
      inProcess([
        ...base,
        '--latents',
        '5,9',
        '--judge',
        'openai:gpt-x',
        '--judge-prompt',
        join(dir, 'missing-prompt.txt'),
        '--out',
        out,
      ]),
      (err: Error) =>
        err instanceof InputError && /missing-prompt\.txt/.test(err.message) && !err.message.includes('sk-test'),
    );
  } finally {
    if (saved.a === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = saved.a;
    if (saved.o === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved.o;
  }
  assert.equal(existsSync(out), false);
  // top26 with no discovery run for this model: a clear error and exit code 2 from the CLI
  const empty = mkdtempSync(join(tmpdir(), 'ablate-empty-'));
  const r = cli([...base, '--latents', 'top26', '--out', out], empty);
  assertExit(r, 2, /no find-otd-latents run for SAE .* in runs\/; run `analyze find-otd-latents/);
  assert.equal(existsSync(out), false);
  // ... but a run whose conditions clamp nothing needs none: it runs, and records that nothing was ablated
  const plain = join(empty, 'baseline-only');
  const ok = cli(
    [
      ...base,
      '--conditions',
      'baseline',
      '--features',
      features,
      '--boost',
      '1',
      '--trials-per-feature',
      '1',
      '--out',
      plain,
    ],
    empty,
  );
  assertExit(ok, 0);
  const config = JSON.parse(readFileSync(join(plain, 'config.json'), 'utf8'));
  assert.deepEqual(config.config.ablated.latents, []);
  assert.match(config.config.ablated.source, /^none/);
});

test('ablate --boost-sweep: levels at threshold + z · sd(thresholds), metrics per level', async () => {
  const out = join(dir, 'sweep');
  await inProcess([
    ...base,
    '--latents',
    '5,9',
    '--features',
    features,
    '--trials-per-feature',
    '2',
    '--boost-sweep',
    '3',
    '--calibrate-steps',
    '2',
    '--judge',
    'heuristic', // in this process: whatever API key the shell has
    '--out',
    out,
  ]);
  const trials = readTrials(join(out, 'trials.jsonl'));
  assert.equal(trials.length, 3 * 2 * 3 * 2);
  const thr = new Map(trials.map((t) => [t.feature, (t.provenance as any).threshold as number]));
  const xs = [...thr.values()];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  assert.ok(sd > 0, 'thresholds differ (the default range scales with 1/‖W_dec[f]‖)');
  for (const t of trials) {
    const z = (t.provenance as any).boost_level as number;
    assert.ok(Math.abs(t.boost! - Math.max(0, thr.get(t.feature)! + z * sd)) < 1e-12, `${t.id}: boost ${t.boost}`);
  }
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(
    metrics.levels.map((l: any) => [
      l.level,
      l.report.conditions.baseline.n_trials,
      l.report.conditions.ablate.n_trials,
    ]),
    [
      [-1, 6, 6],
      [0, 6, 6],
      [1, 6, 6],
    ],
  );
});

test("ablate --boost-sweep-absolute: the paper's sweep, the same boosts mean ± 3 sd of the thresholds for every feature", async () => {
  const out = join(dir, 'sweep-absolute');
  await inProcess([
    ...base,
    '--latents',
    '5,9',
    '--features',
    features,
    '--trials-per-feature',
    '1',
    '--boost-sweep-absolute',
    '3',
    '--calibrate-steps',
    '2',
    '--judge',
    'heuristic', // in this process: whatever API key the shell has
    '--calibrate-per-step',
    '1',
    '--out',
    out,
  ]);
  const trials = readTrials(join(out, 'trials.jsonl'));
  assert.equal(trials.length, 3 * 1 * 3 * 2);
  const xs = [...new Map(trials.map((t) => [t.feature, (t.provenance as any).threshold as number])).values()];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  for (const t of trials) {
    const z = (t.provenance as any).boost_level as number;
    assert.ok([-3, 0, 3].includes(z));
    assert.ok(Math.abs(t.boost! - Math.max(0, mean + z * sd)) < 1e-12, `${t.id}: boost ${t.boost}`);
  }
  assert.match(
    readFileSync(join(out, 'summary.md'), 'utf8'),
    /the same absolute boosts for every feature \(the paper's sweep\)/,
  );
});
