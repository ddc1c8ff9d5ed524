// --dry-run of ablate and find-otd-latents on the tiny fixture model: the resolved settings with their
// origins, the planned work as counted by hand from the settings, a time estimate, a judge cost from
// --judge-price; nothing written.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertExit, runCli } from '../support/cli.ts';
import { FIXTURE_MODEL, FIXTURE_SAE, FIXTURE_SESSION_ARGS, writeFixtureFeatures } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'dry-run-'));
const prompts = join(dir, 'prompts.txt');
writeFileSync(prompts, 'Explain how to bake bread.\nExplain how tides work.\nExplain knots.\nExplain gears.\n');
const features = writeFixtureFeatures(dir);
const base = [...FIXTURE_SESSION_ARGS, '--prompts', prompts, '--max-tokens', '12', '--batch-size', '4', '--dry-run'];
const cli = (args: string[]) => runCli(args, { cwd: dir, env: { ESR_RUNS_DIR: join(dir, 'runs') } });
const line = (out: string, name: string) =>
  out
    .split('\n')
    .map((l) => l.trimStart())
    .find((l) => l.startsWith(name)) ?? '';

test('ablate --dry-run: settings with origins, the work counted by hand, an estimate; nothing written', () => {
  const out = join(dir, 'never');
  const fixed = ['--latents', '5,9', '--features', features, '--trials-per-feature', '2', '--out', out];
  const r = cli(['ablate', ...base, ...fixed, '--boost', '3', '--conditions', 'baseline,ablate,no-steer']);
  assertExit(r, 0);
  assert.match(r.stdout, /^ {2}--batch-size +4 {2}\(explicit\)$/m);
  assert.match(r.stdout, /^ {2}--temperature +0\.6 {2}\(default\)$/m);
  assert.match(r.stdout, /^ {2}--dry-run +true {2}\(explicit\)$/m);
  // 3 features × 2 draws × (2 steered conditions + 1 unsteered) = 18 responses of ≤ 12 tokens; batches of 4:
  // ⌈18/4⌉ = 5 batches × (1 prefill + 12 steps) = 65 passes, no prompt scans (fixed boost, given features)
  assert.match(line(r.stdout, 'trials'), /^trials +18 /);
  assert.match(line(r.stdout, 'calibration'), /^calibration +0 responses/);
  assert.match(line(r.stdout, 'responses'), /^responses +18, at most 216 generated tokens/);
  assert.match(line(r.stdout, 'forward passes'), /at most 65 batched passes of 4 sequences/);
  assert.match(line(r.stdout, 'judge calls'), /^judge calls +18 \(heuristic\)/);
  assert.match(r.stdout, /a batch prefill [0-9.]+ ms, a decoding step [0-9.]+ ms/);
  assert.match(line(r.stdout, 'generation'), /at most [0-9.]+ (s|min)/);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(join(dir, 'runs')), false);

  // calibrated, with a sweep of 3 levels and a remote judge priced at $1 / $5 per million tokens in / out:
  // trials 3 × 2 × (2 × 3 + 1) = 42, calibration 3 features × 2 steps × 2 = 12, responses 54;
  // passes ⌈42/4⌉ × 13 + ⌈12/4⌉ × 13 + ⌈4 prompts / 4⌉ (the scan for the calibration range) = 143 + 39 + 1
  const sweep = ['--boost-sweep', '3', '--calibrate-steps', '2', '--calibrate-per-step', '2'];
  const priced = ['--conditions', 'baseline,ablate,no-steer', '--judge', 'openai:m', '--judge-price', '1,5'];
  const c = runCli(['ablate', ...base, ...fixed, ...sweep, ...priced], {
    cwd: dir,
    env: { ESR_RUNS_DIR: join(dir, 'runs'), OPENAI_API_KEY: 'sk-test' },
  });
  assertExit(c, 0);
  assert.match(line(c.stdout, 'trials'), /^trials +42 /);
  assert.match(line(c.stdout, 'calibration'), /^calibration +12 responses/);
  assert.match(line(c.stdout, 'responses'), /^responses +54, at most 648 generated tokens/);
  assert.match(line(c.stdout, 'forward passes'), /at most 183 batched passes/);
  // output: each reply about the response (≤ 12 tokens) plus 100: 54 × 112 = 6,048
  const tokens = /about ([0-9,]+) in, at most ([0-9,]+) out/.exec(line(c.stdout, 'judge tokens'));
  assert.ok(tokens, c.stdout);
  const [tin, tout] = [Number(tokens[1].replace(/,/g, '')), Number(tokens[2].replace(/,/g, ''))];
  assert.equal(tout, 6048);
  const cost = (tin * 1 + tout * 5) / 1e6;
  assert.match(
    line(c.stdout, 'judge cost'),
    new RegExp(`about \\$${cost.toFixed(2).replace('.', '\\.')} at \\$1 / \\$5`),
  );
  assert.equal(existsSync(out), false);
});

test("ablate --dry-run: a boost and random control shipped in the SAE's esr_defaults.json; calibration flags set the boost aside; a file with both is refused", () => {
  const sae = join(dir, 'sae-with-boost');
  cpSync(FIXTURE_SAE, sae, { recursive: true });
  const defaults = join(sae, 'esr_defaults.json');
  writeFileSync(defaults, JSON.stringify({ boost: 3, random_match: 'none' }));
  const args = ['--model', FIXTURE_MODEL, '--sae', sae, ...base.slice(4), '--latents', '5,9', '--features', features];
  const random = ['--conditions', 'baseline,ablate,random', '--trials-per-feature', '2', '--out', join(dir, 'never-b')];
  const r = cli(['ablate', ...args, ...random]);
  assertExit(r, 0);
  assert.match(r.stdout, /^ {2}--boost +3 {2}\(esr_defaults\.json\)$/m);
  assert.match(r.stdout, /^ {2}--random-match +none {2}\(esr_defaults\.json\)$/m);
  assert.match(line(r.stdout, 'calibration'), /^calibration +0 responses/);
  // an explicit flag wins
  const given = cli(['ablate', ...args, ...random, '--boost', '5', '--random-match', 'activity']);
  assertExit(given, 0);
  assert.match(given.stdout, /^ {2}--boost +5 {2}\(explicit\)$/m);
  assert.match(given.stdout, /^ {2}--random-match +activity {2}\(explicit\)$/m);
  // --calibrate (or any calibration flag) sets the file's boost aside, says so, and calibrates:
  // 3 features × 2 steps × 1 response per step
  for (const flag of [['--calibrate'], ['--target', '40']]) {
    const c = cli(['ablate', ...args, ...random, ...flag, '--calibrate-steps', '2', '--calibrate-per-step', '1']);
    assertExit(c, 0);
    assert.match(
      c.stderr,
      new RegExp(`${defaults.replace(/[.\\/]/g, '\\$&')}: boost 3 set aside: ${flag[0]} was given`),
    );
    assert.match(c.stdout, /^ {2}--boost +— {2}\(default\)$/m);
    assert.match(line(c.stdout, 'calibration'), /^calibration +6 responses/);
  }
  // a boost and a calibration setting in the same file: refused before any work, naming the file and both keys
  writeFileSync(defaults, JSON.stringify({ boost: 3, target: 25 }));
  const bad = cli(['ablate', ...args, ...random]);
  assertExit(bad, 2);
  assert.ok(bad.stderr.includes(`${defaults}: target and boost cannot both be set`), bad.stderr);
});

test('find-otd-latents --dry-run: responses, captured sequences and passes counted by hand; nothing written', () => {
  const out = join(dir, 'never-d');
  const r = cli(['find-otd-latents', ...base, '--derangements', '2', '--out', out]);
  assertExit(r, 0);
  assert.match(r.stdout, /^ {2}--derangements +2 {2}\(explicit\)$/m);
  // 4 responses of ≤ 12 tokens; 4 × (1 + 2) = 12 captured sequences; ⌈4/4⌉ × 13 + ⌈12/4⌉ = 16 passes
  assert.match(line(r.stdout, 'responses'), /^responses +4, at most 48 generated tokens/);
  assert.match(line(r.stdout, 'captured'), /^captured +12 sequences/);
  assert.match(line(r.stdout, 'forward passes'), /at most 16 batched passes/);
  assert.match(line(r.stdout, 'capture '), /about [0-9.]+ (s|min)/);
  assert.equal(existsSync(out), false);
  // the price of a judge means nothing to a command without one
  assertExit(cli(['find-otd-latents', ...base, '--judge-price', '1,5']), 2, /Unknown arguments: judge-price/);
});

test('--dry-run with --shard: the whole run and the shard’s part of it, counted by hand; nothing written', () => {
  const out = join(dir, 'never-s');
  const d = cli(['find-otd-latents', ...base, '--derangements', '2', '--out', out, '--shard', '1/3']);
  assertExit(d, 0, /shard 1\/3 from --shard 1\/3/);
  const shard = d.stdout.slice(d.stdout.indexOf('Planned work of shard 1/3:'));
  assert.match(line(d.stdout, 'responses'), /^responses +4, at most 48 generated tokens/); // the whole run first
  // prompts 0..3: shard 1 of 3 holds prompt 1; 12 samples in 3 capture batches of 4: it holds batch 1;
  // ⌈1/4⌉ × 13 + 1 = 14 passes
  assert.match(line(shard, 'responses'), /^responses +1 \(prompts i with i mod 3 = 1, of 4\), at most 12 generated/);
  assert.match(line(shard, 'captured'), /^captured +4 sequences \(capture batches i with i mod 3 = 1: 1 of 3\)/);
  assert.match(line(shard, 'forward passes'), /at most 14 batched passes/);
  const fixed = ['--latents', '5,9', '--features', features, '--trials-per-feature', '2', '--out', out];
  const a = cli([
    'ablate',
    ...base,
    ...fixed,
    '--boost',
    '3',
    '--conditions',
    'baseline,ablate,no-steer',
    '--shard',
    '1/2',
  ]);
  assertExit(a, 0);
  assert.match(line(a.stdout, 'trials'), /^trials +18 /);
  // features 3, 17, 40: shard 1 of 2 holds 17; 1 × 2 draws × 3 conditions = 6 trials, ⌈6/4⌉ × 13 = 26 passes
  const part = a.stdout.slice(a.stdout.indexOf('Planned work of shard 1/2 (steering features i with i mod 2 = 1):'));
  assert.match(line(part, 'features'), /^features +1$/);
  assert.match(line(part, 'trials'), /^trials +6 /);
  assert.match(line(part, 'forward passes'), /at most 26 batched passes/);
  assert.equal(existsSync(out), false);
});
