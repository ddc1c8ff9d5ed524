// The judge flags shared by `ablate` and `judge` (lib/cli/judgeFlags.ts): one set of names and defaults in
// both commands' help, mapped onto createJudge's options, with the old `--concurrency` still accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import yargs from 'yargs';
import { type JudgeArgs, judgeOptions, judgeSettings } from '../../lib/cli/judgeFlags.ts';
import { InputError } from '../../lib/errors.ts';
import { assertExit, runCli } from '../support/cli.ts';

const parse = (args: string[]): JudgeArgs => judgeOptions(yargs(args)).strict().parseSync();

test('ablate --help and judge --help list the same judge flags with the same defaults; --concurrency is not listed', () => {
  const flags = (command: string) => {
    const r = runCli([command, '--help']);
    assertExit(r, 0);
    assert.doesNotMatch(r.stdout, /--concurrency\b/);
    // each flag's help text, whitespace removed (yargs wraps at a width set by the command's longest flag)
    const text = r.stdout.slice(r.stdout.indexOf('--judge-base-url')).split(/\n\s*\n/)[0];
    return text.split(/\n\s+(?=--)/).map((entry) => {
      const [name, ...rest] = entry.trim().split(/\s+/);
      return { name, text: rest.join('') };
    });
  };
  const ablate = flags('ablate');
  assert.deepEqual(
    ablate.map((f) => f.name),
    [
      '--judge-base-url',
      '--judge-prompt',
      '--judge-temperature',
      '--judge-cache',
      '--judge-concurrency',
      '--judge-timeout',
      '--judge-budget',
    ],
  );
  assert.match(ablate[4].text, /\[number\]\[default:4\]$/);
  assert.deepEqual(flags('judge'), ablate);
});

test('judgeSettings: defaults, every flag mapped, the old --concurrency name, bad values are InputErrors', () => {
  assert.deepEqual(judgeSettings(parse([])), {
    baseUrl: null,
    promptFile: null,
    temperature: 0,
    cacheDir: '.esr-cache/judge',
    concurrency: 4,
    timeoutMs: 120_000,
    budgetMs: 600_000,
  });
  assert.deepEqual(
    judgeSettings(
      parse([
        '--judge-base-url',
        'http://x/v1',
        '--judge-prompt',
        'p.txt',
        '--judge-temperature',
        'none',
        '--no-judge-cache',
        '--judge-concurrency',
        '2',
        '--judge-timeout',
        '30',
        '--judge-budget',
        '90',
      ]),
    ),
    {
      baseUrl: 'http://x/v1',
      promptFile: 'p.txt',
      temperature: null,
      cacheDir: null,
      concurrency: 2,
      timeoutMs: 30_000,
      budgetMs: 90_000,
    },
  );
  assert.equal(judgeSettings(parse(['--concurrency', '3'])).concurrency, 3);
  assert.throws(
    () => judgeSettings(parse(['--judge-temperature', '-1'])),
    (e: Error) =>
      e instanceof InputError && /--judge-temperature "-1": expected a number ≥ 0 or "none"/.test(e.message),
  );
  assert.throws(
    () => judgeSettings(parse(['--judge-concurrency', '0'])),
    (e: Error) => e instanceof InputError && /--judge-concurrency/.test(e.message),
  );
  assert.throws(
    () => judgeSettings(parse(['--concurrency', '1.5'])),
    (e: Error) => e instanceof InputError && /--concurrency/.test(e.message),
  );
  assert.throws(
    () => judgeSettings(parse(['--judge-timeout', '0'])),
    (e: Error) => e instanceof InputError && /--judge-timeout/.test(e.message),
  );
  assert.throws(
    () => judgeSettings(parse(['--judge-budget', '1e9'])),
    (e: Error) =>
      e instanceof InputError && /--judge-budget: expected a number in \(0, 86400\], found 1000000000/.test(e.message),
  );
});
