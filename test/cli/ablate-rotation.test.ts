// analyze ablate --random-match rotation on the tiny fixture model with latents given by hand: random.json says
// what was done, random_rotation.safetensors holds rows with W_dec[ablated]'s Gram matrix orthogonal to its span
// (checked against the SAE file's own W_dec), the random trials record which row each clamp wrote along, and a
// rerun leaves the file as it was.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { readTrials } from '../../lib/trials/store.ts';
import { assertExit, runCli } from '../support/cli.ts';
import { FIXTURE_SAE, FIXTURE_SESSION_ARGS, writeFixtureFeatures } from '../support/fixture-args.ts';

const ABLATED = [5, 9, 11];

test('ablate --random-match rotation: random.json, the rows file and the trial records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ablate-rotation-'));
  const prompts = join(dir, 'prompts.txt');
  writeFileSync(prompts, 'Explain how to bake bread.\nExplain how tides work.\n');
  const out = join(dir, 'run');
  const args = [
    'ablate',
    ...FIXTURE_SESSION_ARGS,
    '--prompts',
    prompts,
    '--latents',
    ABLATED.join(','),
    '--features',
    writeFixtureFeatures(dir),
    '--trials-per-feature',
    '2',
    '--boost',
    '3',
    '--max-tokens',
    '6',
    '--conditions',
    'baseline,ablate,random',
    '--random-match',
    'rotation',
    '--random-sets',
    '2',
    '--resamples',
    '100',
    '--out',
    out,
  ];
  const r = runCli(args, { cwd: dir });
  assertExit(r, 0, /random control \(rotation\): 2 sets of 3/);
  const random = JSON.parse(readFileSync(join(out, 'random.json'), 'utf8'));
  assert.equal(random.match, 'rotation');
  assert.match(random.rule, /rotated decoder row/);
  assert.deepEqual(random.exclusion.ablated, ABLATED);
  assert.equal(random.activity.store, null);
  assert.match(random.activity.identical, /same codes at the same tokens/);
  assert.equal(random.norm, null); // latents by hand: no store to measure on
  assert.deepEqual(random.rotation, {
    file: 'random_rotation.safetensors',
    tensors: ['set_0', 'set_1'],
    streams: [2, 3],
    rank: 3,
  });
  assert.deepEqual(
    random.sets.map((s: { latents: number[] }) => s.latents),
    [ABLATED, ABLATED],
  );
  assert.equal(random.rows, undefined);

  const W = new SafetensorsFile(join(FIXTURE_SAE, 'sae_weights.safetensors')).read('W_dec');
  const dIn = W.shape[1];
  const wRow = (l: number) => W.data.subarray(l * dIn, (l + 1) * dIn);
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);
  const fileBytes = readFileSync(join(out, 'random_rotation.safetensors'));
  const file = new SafetensorsFile(join(out, 'random_rotation.safetensors'));
  const sets = [0, 1].map((j) => file.read(`set_${j}`));
  for (const s of sets) {
    assert.deepEqual(s.shape, [3, dIn]);
    const row = (i: number) => s.data.subarray(i * dIn, (i + 1) * dIn);
    ABLATED.forEach((a, i) =>
      ABLATED.forEach((b, j) => {
        assert.ok(Math.abs(dot(row(i), row(j)) - dot(wRow(a), wRow(b))) < 1e-5, `Gram ${a},${b}`);
        assert.ok(Math.abs(dot(row(i), wRow(b))) < 1e-5, `row ${i} ⟂ W_dec[${b}]`);
      }),
    );
  }
  assert.ok(Math.abs(sets[0].data[0] - sets[1].data[0]) > 1e-6, 'the two sets differ');

  const trials = readTrials(join(out, 'trials.jsonl'));
  const rnd = trials.filter((t) => t.condition === 'random');
  assert.equal(rnd.length, 3 * 2);
  for (const t of rnd) {
    const k = (t.provenance as { random_set: number }).random_set;
    assert.match(t.id, new RegExp(`:random#${k}$`));
    const clamps = t.interventions.filter((iv) => iv.mode === 'clamp');
    assert.deepEqual(
      clamps.map((iv) => [iv.latent, iv.decoderRow]),
      ABLATED.map((l, i) => [l, { key: `random_rotation.safetensors:set_${k}:${i}` }]),
    );
  }
  for (const t of trials.filter((x) => x.condition === 'ablate'))
    assert.ok(t.interventions.every((iv) => iv.decoderRow === undefined));
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics.provenance.random.rotation, random.rotation);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /random_rotation\.safetensors, tensors set_0, set_1/);

  // a rerun redoes nothing and recomputes the same rows
  const again = runCli(args, { cwd: dir });
  assertExit(again, 0);
  assert.match(again.stdout, /18 trials \(18 already done, 0 now\)/);
  assert.deepEqual(readFileSync(join(out, 'random_rotation.safetensors')), fileBytes);
});
