// Kill analyze ablate (SIGKILL) at several moments — start-up, claiming, calibration and trials — rerun the
// same command each time, and compare the final store with an uninterrupted run's: same trials, no
// duplicates, same content (order-independent), and the same metrics.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertExit, runCli, startCli } from '../support/cli.ts';
import { FIXTURE_SESSION_ARGS } from '../support/fixture-args.ts';
import type { StopAt } from '../support/stop-at.ts';

const dir = mkdtempSync(join(tmpdir(), 'ablate-resume-'));
const prompts = join(dir, 'prompts.txt');
writeFileSync(
  prompts,
  ['Explain how to bake bread.', 'Explain how tides work.', 'Explain how to tie a bowline.'].join('\n'),
);
const features = join(dir, 'features.json');
writeFileSync(features, JSON.stringify([3, 17, 40, 41]));

const args = (out: string) => [
  'ablate',
  ...FIXTURE_SESSION_ARGS,
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

const lines = (out: string): string[] =>
  existsSync(join(out, 'trials.jsonl'))
    ? readFileSync(join(out, 'trials.jsonl'), 'utf8').split('\n').filter(Boolean)
    : [];

test("ablate: SIGKILL at several moments, rerun each time: the final store equals an uninterrupted run's", async () => {
  const clean = join(dir, 'clean');
  assertExit(runCli(args(clean)), 0);
  const expected = lines(clean);
  assert.equal(expected.length, 4 * 4 * 3);

  // Each run is killed right after one file operation (test/support/stop-at.ts), so every moment is hit
  // however fast or loaded the machine is; the store then holds exactly the trials written before it.
  const killed = join(dir, 'killed');
  const moments: [string, StopAt, number][] = [
    ['start-up: the run directory just locked', { op: 'close', path: '/killed/\\.esr-lock$', nth: 1 }, 0],
    ['the run directory claimed', { op: 'rename', path: '/killed/config\\.json$', nth: 1 }, 0],
    ['calibration: one of four thresholds cached', { op: 'rename', path: '/calibration/[^/]+\\.json$', nth: 1 }, 0],
    ['the first trial stored', { op: 'write', path: '/trials\\.jsonl$', nth: 1 }, 1],
    ['half way', { op: 'write', path: '/trials\\.jsonl$', nth: expected.length / 2 }, 1 + expected.length / 2],
  ];
  for (const [moment, stopAt, stored] of moments) {
    const run = startCli(args(killed), { stopAt });
    await run.stopped;
    const r = await run.kill();
    assert.equal(r.signal, 'SIGKILL', moment);
    assert.equal(lines(killed).length, stored, `${moment}: trials stored when killed`);
  }
  assertExit(runCli(args(killed)), 0);

  const got = lines(killed);
  assert.equal(new Set(got.map((l) => JSON.parse(l).id)).size, got.length, 'no trial twice');
  assert.deepEqual([...got].sort(), [...expected].sort());
  const metrics = (out: string) => JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics(killed).conditions, metrics(clean).conditions);
  assert.deepEqual(metrics(killed).differences, metrics(clean).differences);
});
