// The judge flags of `ablate` and `judge` (one settings table, lib/judge/settings.ts): the same names and
// defaults in both commands' help, with the old `--concurrency` of `analyze judge` still accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertExit, runCliInProcess } from '../support/cli.ts';

test('ablate --help and judge --help list the same judge flags with the same defaults; --concurrency is not listed', async () => {
  // help and refusals do no work: run in this process as a child would run them (test/support/cli.ts)
  const flags = async (command: string) => {
    const r = await runCliInProcess([command, '--help']);
    assertExit(r, 0);
    assert.doesNotMatch(r.stdout, /--concurrency\b/);
    // each flag's help text, whitespace removed (yargs wraps at a width set by the command's longest flag)
    const text = r.stdout.slice(r.stdout.indexOf('--judge-base-url')).split(/\n\s*\n/)[0];
    return (
      text
        .split(/\n\s+(?=--)/)
        .map((entry) => {
          const [name, ...rest] = entry.trim().split(/\s+/);
          return { name, text: rest.join('') };
        })
        // ablate's dry run, and the shard flags (the same in both), listed after the judge's flags
        .filter((f) => !['--dry-run', '--judge-price', '--shard', '--shards'].includes(f.name))
    );
  };
  const ablate = await flags('ablate');
  assert.deepEqual(
    ablate.map((f) => f.name),
    [
      '--judge-base-url',
      '--judge-prompt',
      '--judge-temperature',
      '--judge-cache',
      '--judge-concurrency',
      '--judge-rate',
      '--judge-timeout',
      '--judge-budget',
      '--rejudge-failed',
    ],
  );
  assert.match(ablate[4].text, /\[number\]\[default:4\]$/);
  assert.deepEqual(await flags('judge'), ablate);
});

test('analyze judge: the old --concurrency is accepted (not listed), refused beside --judge-concurrency and when invalid', async () => {
  assertExit(
    await runCliInProcess(['judge', '--concurrency', '1.5', '--agreement', 'a', 'b']),
    2,
    /--concurrency: expected an integer in \[1, 256\], found 1\.5/,
  );
  assertExit(
    await runCliInProcess(['judge', '--concurrency', '2', '--judge-concurrency', '3', '--agreement', 'a', 'b']),
    2,
    /--concurrency and --judge-concurrency conflict/,
  );
});
