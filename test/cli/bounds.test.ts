// Values no run can use are refused up front (exit 2 naming the flag, nothing written), in the library as
// well as on the command line: bootstrap resamples past the in-memory bound, steering values that overflow
// float32 residuals into NaN logits, judge timeouts a timer cannot hold.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { createJudge } from '../../lib/judge/index.ts';
import { checkInterventionValue } from '../../lib/steering/interventions.ts';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { assertExit, runCliInProcess } from '../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'bounds-'));

/** Refusals before any work: run in this process (test/support/cli.ts), each as a child would run it. */
function analyze(...args: string[]) {
  return runCliInProcess(args);
}

test('ablate refuses --resamples 1e12, --boost 1e308 and a repeated one-value flag before any work, writing nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['--resamples', '1e12'], /--resamples: expected an integer in \[100, 1000000\], found 1000000000000/],
    [['--boost', '1e308'], /--boost: expected a number in \[-1000000, 1000000\], found 1e\+308/],
    [['--boost=-2e6'], /--boost: expected a number in \[-1000000, 1000000\], found -2000000/],
    [['--calibrate-range', '0,1e30'], /--calibrate-range: expected LO,HI with 0 ≤ LO < HI ≤ 1000000/],
    [['--judge-timeout', '3000000'], /--judge-timeout: expected a number in \(0, 3600\], found 3000000/],
    // a one-value flag given twice became a list and a TypeError (exit 1) in the handler
    [
      ['--conditions', 'baseline', '--conditions', 'baseline,random'],
      /--conditions: given 2 times \(baseline, baseline,random\); give it once/,
    ],
  ];
  for (const [flags, pattern] of cases) {
    const out = join(tmp, `ablate-${flags[0].slice(2)}`);
    const r = await analyze('ablate', '--latents', '1,2', '--judge', 'heuristic', '--out', out, ...flags);
    assertExit(r, 2, pattern);
    assert.equal(existsSync(out), false, `${flags.join(' ')} left ${out}`);
  }
});

test('metrics, generate and judge refuse the same values (exit 2)', async () => {
  const trials = join(tmp, 'trials.jsonl');
  writeFileSync(trials, '');
  const cases: [string[], RegExp][] = [
    [['metrics', '--trials', trials, '--resamples', '1e12'], /--resamples: expected an integer in \[100, 1000000\]/],
    [
      ['generate', '--sae', 'data/sae', '--steer', '2:17:1e20', '--prompt', 'hi', '--max-tokens', '2'],
      /--steer 2:17:1e20: VALUE: expected a number in \[-1000000, 1000000\], found 100000000000000000000/,
    ],
    [
      [
        'judge',
        '--trials',
        trials,
        '--judge',
        'heuristic',
        '--out',
        join(tmp, 'o.jsonl'),
        '--judge-timeout',
        '3000000',
      ],
      /--judge-timeout: expected a number in \(0, 3600\], found 3000000/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await analyze(...args);
    assertExit(r, 2, pattern);
  }
});

test('the library checks the same bounds (notebooks get them too)', () => {
  const inputError = (pattern: RegExp) => (e: Error) => e instanceof InputError && pattern.test(e.message);
  assert.throws(
    () => computeMetrics([], { resamples: 1e12 }),
    inputError(/resamples: expected an integer in \[1, 1000000\], found 1000000000000/),
  );
  assert.throws(() => checkInterventionValue(1e20, 'steer'), inputError(/steer: expected a number in/));
  assert.throws(() => checkInterventionValue(Number.NaN, 'steer'), inputError(/found NaN/));
  assert.equal(checkInterventionValue(-250.5, 'steer'), -250.5);
  assert.throws(
    () => createJudge('openai:m', { env: { OPENAI_API_KEY: 'sk-test-bounds' }, timeoutMs: 3e9 }),
    inputError(/judge option timeoutMs: expected a number in \[1, 3600000\], found 3000000000/),
  );
  assert.throws(
    () => createJudge('openai:m', { env: { OPENAI_API_KEY: 'sk-test-bounds' }, httpRetries: 1e9 }),
    inputError(/judge option httpRetries: expected an integer in \[0, 20\]/),
  );
});
