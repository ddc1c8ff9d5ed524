// Batch invariance end to end: `--batch-size 1` and `--batch-size 16` give byte-identical trials (calibration
// included) and discovery outputs, apart from timing fields, because each row's tokens depend only on its own
// prompt, seed and interventions (test/model/batching.test.ts checks the bits under the commands).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { assertExit, runCli } from '../support/cli.ts';
import { FIXTURE_SESSION_ARGS, writeFixtureFeatures } from '../support/fixture-args.ts';

const dir = mkdtempSync(join(tmpdir(), 'batching-'));
const prompts = join(dir, 'prompts.txt');
writeFileSync(
  prompts,
  [
    'Explain how to bake bread.',
    'Explain how tides work.',
    'Explain how to tie a bowline.',
    'Explain how a bicycle gear works.',
    'Explain how to brew tea.',
  ].join('\n'),
);
const features = writeFixtureFeatures(dir);

/** The lines of a JSONL or JSON file with timing fields (and the run directory's own path) removed. */
function withoutTimings(file: string, out: string): string {
  return readFileSync(file, 'utf8')
    .replaceAll(out, '<out>')
    .replace(
      /"(started|finished|elapsed_s|elapsed_ms|timestamp|created|duration_s|time_s)":\s*("[^"]*"|[\d.e+-]+)/g,
      '"$1": 0',
    );
}

/** Every code of a run's activation store as `sample id|token|latent|value`, sorted (the store's parts follow its batches). */
function storeCodes(out: string): string[] {
  const read = (f: string) => tableFromIPC(readFileSync(join(out, 'activations.acts', f)));
  const ids = read('samples.arrow').getChild('id')!.toArray() as string[];
  const codes = read('codes.arrow');
  const col = (name: string) => Array.from(codes.getChild(name)!.toArray() as ArrayLike<number>);
  const [sample, token, latent, value] = ['sample', 'token', 'latent', 'value'].map(col);
  return sample.map((s, i) => `${ids[s]}|${token[i]}|${latent[i]}|${value[i]}`).sort();
}

test('ablate: --batch-size 1 and 16 give the same calibrations and trials', () => {
  const runs = [1, 16].map((batch) => {
    const out = join(dir, `ablate-${batch}`);
    const r = runCli([
      'ablate',
      ...FIXTURE_SESSION_ARGS,
      '--prompts',
      prompts,
      '--latents',
      '5,9,11',
      '--features',
      features,
      '--trials-per-feature',
      '3',
      '--calibrate-steps',
      '2',
      '--calibrate-per-step',
      '3',
      '--calibrate-range',
      '0,6',
      '--conditions',
      'baseline,ablate',
      '--max-tokens',
      '16',
      '--resamples',
      '100',
      '--batch-size',
      String(batch),
      '--out',
      out,
    ]);
    assertExit(r, 0);
    return { trials: withoutTimings(join(out, 'trials.jsonl'), out), out };
  });
  assert.equal(runs[0].trials.split('\n').filter(Boolean).length, 3 * 3 * 2);
  assert.equal(runs[1].trials, runs[0].trials);
});

test('find-otd-latents: --batch-size 1 and 16 give the same responses, codes and latents', () => {
  const runs = [1, 16].map((batch) => {
    const out = join(dir, `otd-${batch}`);
    const r = runCli([
      'find-otd-latents',
      ...FIXTURE_SESSION_ARGS,
      '--prompts',
      prompts,
      '--max-tokens',
      '12',
      '--derangements',
      '2',
      '--batch-size',
      String(batch),
      '--out',
      out,
    ]);
    assertExit(r, 0);
    return out;
  });
  const read = (out: string, file: string) => JSON.parse(readFileSync(join(out, file), 'utf8'));
  assert.deepEqual(read(runs[1], 'responses.json').value, read(runs[0], 'responses.json').value);
  assert.deepEqual(read(runs[1], 'latents.json').latents, read(runs[0], 'latents.json').latents);
  const codes = storeCodes(runs[0]);
  assert.ok(codes.length > 0);
  assert.deepEqual(storeCodes(runs[1]), codes);
});
