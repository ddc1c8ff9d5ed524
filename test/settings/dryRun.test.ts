// The dry run's settings: --judge-price checked like every setting (the same message for a notebook and the
// command line), applying only with --dry-run; the settings listing shows each value with its origin.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagOf, SettingError } from '../../lib/errors.ts';
import { cliInput } from '../../lib/cli/settings.ts';
import { DRY_RUN_SETTINGS, durationText, JUDGE_PRICE_SETTINGS, settingsLines } from '../../lib/settings/dryRun.ts';
import { int } from '../../lib/settings/kinds.ts';
import { resolveSettings } from '../../lib/settings/table.ts';

const TABLE = { ...DRY_RUN_SETTINGS, ...JUDGE_PRICE_SETTINGS };
const refused = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: Error) => e instanceof SettingError && message.test(e.render(flagOf)));

test('--judge-price: two prices ≥ 0, only with --dry-run; the library and the command line say the same', () => {
  assert.deepEqual(
    resolveSettings(TABLE, cliInput(TABLE, { dryRun: true, judgePrice: '0.8, 4' })).values.judgePrice,
    [0.8, 4],
  );
  const expected = /--judge-price: expected IN,OUT: two prices ≥ 0 per million tokens, found /;
  refused(() => resolveSettings(TABLE, cliInput(TABLE, { dryRun: true, judgePrice: '1' })), expected);
  refused(() => resolveSettings(TABLE, cliInput(TABLE, { dryRun: true, judgePrice: '1,-2' })), expected);
  refused(() => resolveSettings(TABLE, cliInput(TABLE, { dryRun: true, judgePrice: '1,x' })), expected);
  refused(() => resolveSettings(TABLE, { dryRun: true, judgePrice: [1, Number.POSITIVE_INFINITY] }), expected);
  refused(() => resolveSettings(TABLE, { judgePrice: [1, 5] }), /--judge-price applies only with --dry-run; give it/);
});

test('settingsLines: every visible setting, its value as written (— when none) and where it came from', () => {
  const table = {
    batchSize: int({ doc: 'b', min: 1, default: 8, key: null }),
    maxTokens: int({ doc: 'm', min: 1, default: 512, shipped: 96, key: null }),
    seed: int({ doc: 's', min: 0, key: null }),
    old: int({ doc: 'o', min: 0, key: null, hidden: true }),
  };
  const r = resolveSettings(table, { batchSize: 4 }, { shipped: true, sae: null });
  assert.deepEqual(settingsLines(table, r, flagOf), [
    '  --batch-size  4  (explicit)',
    '  --max-tokens  96  (shipped model)',
    '  --seed        —  (default)',
  ]);
});

test('durationText: seconds, minutes, hours', () => {
  assert.deepEqual(
    [durationText(4.25), durationText(45), durationText(150), durationText(7200)],
    ['4.3 s', '45 s', '2.5 min', '2.0 h'],
  );
});
