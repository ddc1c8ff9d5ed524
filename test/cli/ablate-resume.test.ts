// Kill analyze ablate (SIGKILL) at several moments — during start-up, calibration and trials — rerun the
// same command each time, and compare the final store with an uninterrupted run's: same trials, no
// duplicates, same content (order-independent), and the same metrics.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'ablate-resume-'));
const prompts = join(dir, 'prompts.txt');
writeFileSync(
  prompts,
  ['Explain how to bake bread.', 'Explain how tides work.', 'Explain how to tie a bowline.'].join('\n'),
);
const features = join(dir, 'features.json');
writeFileSync(features, JSON.stringify([3, 17, 40, 41]));

const args = (out: string) => [
  join(ROOT, 'bin/analyze.js'),
  'ablate',
  '--model',
  join(ROOT, 'test/fixtures/models/llama3-gqa'),
  '--sae',
  join(ROOT, 'test/fixtures/sae/saelens_relu'),
  '--prompts',
  prompts,
  '--features',
  features,
  '--latents',
  '5,9,11',
  '--trials-per-feature',
  '4',
  '--conditions',
  'baseline,ablate,no-steer',
  '--calibrate',
  '--calibrate-steps',
  '3',
  '--calibrate-range',
  '0,8',
  '--max-tokens',
  '12',
  '--batch-size',
  '3',
  '--resamples',
  '200',
  '--out',
  out,
];

const lines = (out: string): string[] => readFileSync(join(out, 'trials.jsonl'), 'utf8').split('\n').filter(Boolean);

/** Starts the command and SIGKILLs it once `when` says so (polled every 20 ms), or lets it finish. */
function runUntil(out: string, when: (ms: number) => boolean): Promise<'killed' | 'finished'> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args(out), { stdio: 'ignore' });
    const started = Date.now();
    const poll = setInterval(() => {
      if (when(Date.now() - started)) child.kill('SIGKILL');
    }, 20);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal !== 'SIGKILL') assert.equal(code, 0);
      done(signal === 'SIGKILL' ? 'killed' : 'finished');
    });
  });
}

const storeSize = (out: string): number =>
  existsSync(join(out, 'trials.jsonl')) ? readFileSync(join(out, 'trials.jsonl'), 'utf8').length : 0;

test("ablate: SIGKILL at several moments, rerun each time: the final store equals an uninterrupted run's", {
  timeout: 120_000,
}, async () => {
  const clean = join(dir, 'clean');
  const ref = spawnSync(process.execPath, args(clean), { encoding: 'utf8' });
  assert.equal(ref.status, 0, ref.stderr);
  const expected = lines(clean);
  assert.equal(expected.length, 4 * 4 * 3);

  const killed = join(dir, 'killed');
  const outcomes = [
    await runUntil(killed, (ms) => ms > 400), // start-up
    await runUntil(killed, () => existsSync(join(killed, 'config.json'))), // just after claiming the run directory
    await runUntil(killed, () => storeSize(killed) > 0), // at the first trials
    await runUntil(killed, () => storeSize(killed) > readFileSync(join(clean, 'trials.jsonl'), 'utf8').length / 2), // half way
  ];
  assert.ok(outcomes.filter((o) => o === 'killed').length >= 3, `outcomes ${outcomes}`);
  assert.ok(lines(killed).length < expected.length, 'some trials were left for the last run');
  assert.equal(await runUntil(killed, () => false), 'finished');

  const got = lines(killed);
  assert.equal(new Set(got.map((l) => JSON.parse(l).id)).size, got.length, 'no trial twice');
  assert.deepEqual([...got].sort(), [...expected].sort());
  const metrics = (out: string) => JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics(killed).conditions, metrics(clean).conditions);
  assert.deepEqual(metrics(killed).differences, metrics(clean).differences);
});
