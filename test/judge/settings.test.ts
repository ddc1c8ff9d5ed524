// The judge's settings (lib/judge/settings.ts), shared by `ablate` and `judge`: mapped onto createJudge's
// options, bad values refused naming the setting (its flag on the command line).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import yargs from 'yargs';
import { cliInput, settingOptions } from '../../lib/cli/settings.ts';
import { flagOf, SettingError } from '../../lib/errors.ts';
import { JUDGE_SETTINGS, judgeOptionsOf } from '../../lib/judge/settings.ts';
import { resolveSettings } from '../../lib/settings/table.ts';

/** createJudge's options of these flags, parsed and checked as the commands do. */
const options = (args: string[]) =>
  judgeOptionsOf(
    resolveSettings(
      JUDGE_SETTINGS,
      cliInput(JUDGE_SETTINGS, settingOptions(yargs(args), JUDGE_SETTINGS).strict().parseSync()),
    ).values,
  );

test("judge settings: defaults, every flag mapped onto createJudge's options, bad values refused naming the setting", () => {
  assert.deepEqual(options([]), {
    baseUrl: null,
    promptFile: null,
    temperature: 0,
    cacheDir: '.esr-cache/judge',
    concurrency: 4,
    rate: null,
    timeoutMs: 120_000,
    budgetMs: 600_000,
  });
  assert.deepEqual(
    options([
      '--judge-base-url',
      'http://x/v1',
      '--judge-prompt',
      'p.txt',
      '--judge-temperature',
      'none',
      '--no-judge-cache',
      '--judge-concurrency',
      '2',
      '--judge-rate',
      '2.5',
      '--judge-timeout',
      '30',
      '--judge-budget',
      '90',
    ]),
    {
      baseUrl: 'http://x/v1',
      promptFile: 'p.txt',
      temperature: null,
      cacheDir: null,
      concurrency: 2,
      rate: 2.5,
      timeoutMs: 30_000,
      budgetMs: 90_000,
    },
  );
  const refused = (args: string[], message: RegExp) =>
    assert.throws(
      () => options(args),
      (e: Error) => e instanceof SettingError && message.test(e.render(flagOf)),
    );
  refused(['--judge-temperature', '-1'], /--judge-temperature: expected a number ≥ 0, or "none" \(null\), found -1/);
  refused(['--judge-temperature', 'warm'], /--judge-temperature: expected a number ≥ 0, or "none" \(null\), found NaN/);
  refused(['--judge-concurrency', '0'], /--judge-concurrency: expected an integer in \[1, 256\], found 0/);
  refused(['--judge-timeout', '0'], /--judge-timeout: expected a number in \(0, 3600\], found 0/);
  refused(['--judge-rate', '0'], /--judge-rate: expected a number in \(0, 100000\], found 0/);
  refused(['--judge-budget', '1e9'], /--judge-budget: expected a number in \(0, 86400\], found 1000000000/);
  refused(
    ['--judge', 'gpt-4'],
    /--judge: expected anthropic:<model>, openai:<model>, heuristic, organism\[:FILE\], or a Judge, found "gpt-4"/,
  );
  // a notebook passes the same names and gets the same messages, naming the setting
  assert.throws(
    () => resolveSettings(JUDGE_SETTINGS, { judgeTimeout: 3e6 }),
    (e: Error) => e.message === 'judgeTimeout: expected a number in (0, 3600], found 3000000',
  );
});
