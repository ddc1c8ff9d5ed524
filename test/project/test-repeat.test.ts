// scripts/test-repeat.ts (`npm run test:repeat`) on a small repository of its own: every run from a clean
// clone of the last commit, the failed tests named with their file, files a run leaves in the checkout
// reported, exit 1 when a run failed; and the spec-reporter parsing against node:test's own output.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failedTests, summaryCount } from '../../scripts/test-log.ts';
import { assertExit, ROOT, runCommand, TSX } from '../support/cli.ts';

/** A git repository whose `npm test` has a passing, a failing, a nested failing and a skipped test; the
 * passing one leaves a file in the checkout, and fails where it finds one. */
function tinyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'test-repeat-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'tiny', private: true, scripts: { test: 'node --test --test-reporter=spec a.test.mjs' } }),
  );
  writeFileSync(
    join(dir, 'a.test.mjs'),
    [
      "import { test } from 'node:test';",
      "import assert from 'node:assert';",
      "import { existsSync, writeFileSync } from 'node:fs';",
      "test('passes', () => { assert.ok(!existsSync('left-behind.txt')); writeFileSync('left-behind.txt', 'x'); });",
      "test('fails (always)', () => assert.equal(1, 2));",
      "test('outer', async (t) => { await t.test('inner fails', () => { throw new Error('x'); }); });",
      "test('skipped', { skip: 'not here' }, () => {});",
      '',
    ].join('\n'),
  );
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('add', '.');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'tiny');
  return dir;
}

test('spec-reporter output: summary counts and the failed tests with their file and line', () => {
  const dir = tinyRepo();
  const r = runCommand(process.execPath, ['--test', '--test-reporter=spec', 'a.test.mjs'], { cwd: dir });
  assertExit(r, 1);
  assert.deepEqual(
    ['tests', 'pass', 'fail', 'skipped'].map((n) => summaryCount(r.stdout, n)),
    [5, 1, 3, 1],
  );
  assert.deepEqual(failedTests(r.stdout), ['fails (always) (a.test.mjs:5:1)', 'inner fails (a.test.mjs:6:38)']);
  assert.deepEqual(failedTests('✔ passes (1ms)\nℹ fail 0\n'), []);
});

test('npm run test:repeat: each run from a clean clone, failures named, leftovers reported, exit 1', () => {
  const dir = tinyRepo();
  writeFileSync(join(dir, 'a.test.mjs'), '// an uncommitted change: not what is tested\n', { flag: 'a' });
  const r = runCommand(
    process.execPath,
    ['--import', TSX, join(ROOT, 'scripts', 'test-repeat.ts'), '2', '--link-modules'],
    {
      cwd: dir,
      env: { TMPDIR: mkdtempSync(join(tmpdir(), 'test-repeat-tmp-')) },
    },
  );
  assertExit(r, 1, /warning: uncommitted changes are not tested/);
  for (const run of [1, 2]) {
    assert.match(r.stdout, new RegExp(`run ${run}/2: FAIL \\(exit 1\\) in [\\d.]+ min; 5 tests, 3 failed, 1 skipped`));
  }
  // the file the first run left was cleaned away before the second (which passed its test, and left it again)
  assert.equal(r.stdout.match(/ {2}left in the checkout: left-behind\.txt\n/g)?.length, 2);
  assert.match(r.stdout, /test:repeat: 0 of 2 runs passed/);
  assert.match(r.stdout, /failed in 2 of 2 runs: fails \(always\) \(a\.test\.mjs:5:1\)/);
  assert.match(r.stdout, /failed in 2 of 2 runs: inner fails \(a\.test\.mjs:6:38\)/);
  assert.match(r.stdout, /\| 1 \| no \| FAIL \(exit 1\) \|/);
  assertExit(
    runCommand(process.execPath, ['--import', TSX, join(ROOT, 'scripts', 'test-repeat.ts'), '0'], { cwd: dir }),
    2,
    /N: expected an integer ≥ 1, found "0"/,
  );
});
