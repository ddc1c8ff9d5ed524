// scripts/test-repeat.ts (`npm run test:repeat`) on small repositories of its own: every run from a clean
// clone of the last commit, the failed tests named with their file, files a run leaves in the checkout and
// processes it leaves running reported, exit 1 when a run failed, and nothing left running when test:repeat
// itself is killed; and the spec-reporter parsing against node:test's own output.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failedTests, summaryCount } from '../../scripts/test-log.ts';
import { assertExit, ROOT, runCommand, startCommand, TSX } from '../support/cli.ts';

/** A git repository whose `npm test` has a passing, a failing, a nested failing and a skipped test; the
 * passing one leaves a file in the checkout, and fails where it finds one. */
function tinyRepo(): string {
  return repoWith([
    "import { test } from 'node:test';",
    "import assert from 'node:assert';",
    "import { existsSync, writeFileSync } from 'node:fs';",
    "test('passes', () => { assert.ok(!existsSync('left-behind.txt')); writeFileSync('left-behind.txt', 'x'); });",
    "test('fails (always)', () => assert.equal(1, 2));",
    "test('outer', async (t) => { await t.test('inner fails', () => { throw new Error('x'); }); });",
    "test('skipped', { skip: 'not here' }, () => {});",
  ]);
}

/** A git repository whose `npm test` runs a.test.mjs, made of `lines` (and holding `more` files). */
function repoWith(lines: string[], more: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'test-repeat-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'tiny', private: true, scripts: { test: 'node --test --test-reporter=spec a.test.mjs' } }),
  );
  writeFileSync(join(dir, 'a.test.mjs'), [...lines, ''].join('\n'));
  for (const [name, text] of Object.entries(more)) writeFileSync(join(dir, name), text);
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

/** A suite that leaves a process running (a server with `left-behind` in its command line) and, when
 * HOLD_FIFO names a FIFO, holds in a test after writing its pid there (its end of the FIFO open until it dies). */
const leavingRepo = () =>
  repoWith([
    "import { test } from 'node:test';",
    "import { spawn } from 'node:child_process';",
    "import { openSync, writeSync } from 'node:fs';",
    "import { createServer } from 'node:net';",
    "test('leaves a process running', () => {",
    "  spawn(process.execPath, ['-e', 'require(`node:net`).createServer().listen(0)', 'left-behind'], { stdio: 'ignore' }).unref();",
    '});',
    "test('holds when told', { skip: !process.env.HOLD_FIFO }, async () => {",
    "  writeSync(openSync(process.env.HOLD_FIFO, 'w'), process.pid + '\\n');",
    '  await new Promise(() => createServer().listen(0));',
    '});',
  ]);

/** Returns once process `pid` has ended (gone, or a zombie its parent has not collected); fails after five
 * minutes — a SIGKILLed process takes milliseconds however loaded the machine — naming what still runs. */
function assertEnds(pid: number): void {
  const wait = `i=0; while [ -e /proc/$0 ] && [ "$(cut -d' ' -f3 /proc/$0/stat 2>/dev/null)" != Z ]; do
    i=$((i + 1)); if [ $i -gt 6000 ]; then echo "still running: $(tr '\\0' ' ' < /proc/$0/cmdline)" >&2; exit 1; fi
    sleep 0.05
  done`;
  assertExit(runCommand('sh', ['-c', wait, String(pid)]), 0);
}

const NO_PROC = existsSync('/proc/self/stat') ? false : 'reads /proc (Linux only)';
const testRepeat = (...args: string[]) => [
  '--import',
  TSX,
  join(ROOT, 'scripts', 'test-repeat.ts'),
  ...args,
  '--link-modules',
];

test('a process the suite leaves running is named and killed', { skip: NO_PROC }, () => {
  const r = runCommand(process.execPath, testRepeat('1'), {
    cwd: leavingRepo(),
    env: { TMPDIR: mkdtempSync(join(tmpdir(), 'test-repeat-tmp-')) },
  });
  assertExit(r, 0);
  assert.match(r.stdout, /run 1\/1: PASS \(exit 0\) in [\d.]+ min; 2 tests, 0 failed, 1 skipped/);
  const left = /\n {2}left running \(now killed\): (\d+) \S+ -e \S+ left-behind\n/.exec(r.stdout);
  assert.ok(left, r.stdout);
  assertEnds(Number(left[1]));
});

test('test:repeat killed outright: the suite and the load processes end with it', { skip: NO_PROC }, async () => {
  const dir = leavingRepo();
  const fifo = join(mkdtempSync(join(tmpdir(), 'test-repeat-fifo-')), 'hold');
  assertExit(runCommand('mkfifo', [fifo]), 0);
  const run = startCommand(process.execPath, testRepeat('1', '--load', '--load-processes', '1'), {
    cwd: dir,
    env: { HOLD_FIFO: fifo, TMPDIR: mkdtempSync(join(tmpdir(), 'test-repeat-tmp-')) },
  });
  const [, load] = await run.printed(/run 1\/1 \(with 1 CPU-bound process beside it: pid (\d+)\)/);
  // the holding test's pid, then the end of the FIFO when its process (the only writer) is gone
  const fromSuite = createReadStream(fifo, 'utf8');
  let said = '';
  fromSuite.on('data', (d) => (said += d));
  const suiteGone = new Promise<void>((done) => fromSuite.on('end', () => done()));
  await new Promise<void>((ok) => fromSuite.on('data', () => said.includes('\n') && ok()));
  const ended = await run.kill();
  assert.equal(ended.signal, 'SIGKILL');
  await suiteGone;
  assertEnds(Number(said));
  assertEnds(Number(load));
});

test('--files runs the files given after it, however many, instead of npm test', () => {
  const passes = "import { test } from 'node:test';\ntest('passes', () => {});\n";
  const dir = repoWith(["throw new Error('npm test ran');"], {
    'b.test.mjs': passes,
    'c.test.mjs': passes,
    '.gitignore': 'node_modules\n',
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // --files runs them with tsx, linked from here
  const r = runCommand(process.execPath, testRepeat('1', '--files', 'b.test.mjs', 'c.test.mjs'), {
    cwd: dir,
    env: { TMPDIR: mkdtempSync(join(tmpdir(), 'test-repeat-tmp-')) },
  });
  assertExit(r, 0);
  assert.match(r.stdout, /1 runs of b\.test\.mjs c\.test\.mjs on /);
  assert.match(r.stdout, /run 1\/1: PASS \(exit 0\) in [\d.]+ min; 2 tests, 0 failed, 0 skipped/);
});
