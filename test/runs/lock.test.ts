// One writer per run directory: the lock file, stale-lock takeover, two real processes racing for one
// store, and the CLI refusing a second writer (exit 2, naming the holder, nothing written).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { LOCK_FILE, lockDir, lockFile, TAKEOVER_STALE_MS, UNREADABLE_STALE_MS } from '../../lib/runs/lock.ts';
import { assertExit, ROOT, runCli, startCli } from '../support/cli.ts';
import { FIXTURE_SESSION_ARGS, fixtureCaptureArgs } from '../support/fixture-args.ts';

const FIX = join(ROOT, 'test', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'lock-'));
const LOCK_TS = join(ROOT, 'lib', 'runs', 'lock.ts');
writeFileSync(join(tmp, 'features.csv'), 'index,label\n3,three\n');
writeFileSync(join(tmp, 'prompts.txt'), 'Explain how to bake bread.\nExplain how tides work.\n');

/** A child process that tries to lock `dir`, prints "locked" or the error, and (holding) exits when its stdin closes. */
function child(dir: string) {
  const code = `import { lockDir } from ${JSON.stringify(LOCK_TS)};
try { lockDir(${JSON.stringify(dir)}); console.log('locked'); } catch (e) { console.log(e.name + ': ' + e.message); }
process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  /** Its line, once it has tried; rejects with its stderr if it ended without one. */
  const answered = new Promise<string>((done, fail) => {
    let s = '';
    p.stdout.on('data', (d) => {
      s += d;
      if (s.includes('\n')) done(s.trim());
    });
    p.on('close', (code, signal) => fail(new Error(`lock child ended (${code ?? signal}) without a line:\n${stderr}`)));
  });
  const exited = new Promise<void>((done) => p.on('close', () => done()));
  return { answered, exited, release: () => p.stdin.end() };
}
/** Waits for the child's line, then lets it exit. */
const output = async (c: ReturnType<typeof child>): Promise<string> => {
  const line = await c.answered;
  c.release();
  await c.exited;
  return line;
};

/** A pid no process has: Linux pids stay below pid_max (at most 2^22), macOS's below 99999. */
const DEAD_PID = 2 ** 22;

test('a second writer is refused with the holder named; release lets the next one in', async () => {
  const dir = join(tmp, 'held');
  const lock = lockDir(dir);
  const refused = await output(child(dir));
  assert.match(refused, /^InputError: .*another writer holds it: pid \d+ on .*started/);
  assert.match(refused, new RegExp(`pid ${process.pid} `));
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  assert.equal(await output(child(dir)), 'locked');
});

test('a lock left by a dead process on this host is taken over; one from another host is not', async () => {
  const dir = join(tmp, 'stale');
  mkdirSync(dir);
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: DEAD_PID, host: hostname(), started: '2020-01-01T00:00:00Z', command: 'capture' }),
  );
  assert.equal(await output(child(dir)), 'locked');
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: DEAD_PID, host: 'elsewhere', started: '2020-01-01T00:00:00Z', command: 'capture' }),
  );
  assert.match(await output(child(dir)), /InputError: .*pid \d+ on elsewhere/);
});

test('an unreadable lock is stale a minute after it was written, on the clock the locker uses', () => {
  const dir = join(tmp, 'unreadable');
  mkdirSync(dir);
  writeFileSync(join(dir, LOCK_FILE), '{"pid": 12'); // a holder cut short mid-write
  const written = statSync(join(dir, LOCK_FILE)).mtimeMs;
  assert.throws(
    () => lockDir(dir, dir, { now: () => written + UNREADABLE_STALE_MS }),
    (e: Error) => e instanceof InputError && /another writer holds it: an unreadable lock/.test(e.message),
  );
  lockDir(dir, dir, { now: () => written + UNREADABLE_STALE_MS + 1 }).release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});

test('a takeover lock left by a crashed locker blocks taking over a stale lock for 10 s, then is cleared', () => {
  const dir = join(tmp, 'takeover');
  mkdirSync(dir);
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: DEAD_PID, host: hostname(), started: '2020-01-01T00:00:00Z', command: 'capture' }),
  );
  writeFileSync(join(dir, `${LOCK_FILE}.takeover`), '');
  const left = statSync(join(dir, `${LOCK_FILE}.takeover`)).mtimeMs;
  assert.throws(
    () => lockDir(dir, dir, { now: () => left + TAKEOVER_STALE_MS }),
    (e: Error) => e instanceof InputError && /could not take the lock .* \(contended\)/.test(e.message),
  );
  const lock = lockDir(dir, dir, { now: () => left + TAKEOVER_STALE_MS + 1 });
  assert.deepEqual(readdirSync(dir).sort(), [LOCK_FILE]);
  lock.release();
});

test('six processes racing for one directory: exactly one wins', async () => {
  const dir = join(tmp, 'race');
  const children = Array.from({ length: 6 }, () => child(dir));
  const results = await Promise.all(children.map((c) => c.answered)); // every child has tried while the winner still holds
  children.forEach((c) => c.release());
  await Promise.all(children.map((c) => c.exited));
  assert.equal(results.filter((r) => r === 'locked').length, 1, results.join('\n'));
  assert.equal(results.filter((r) => r.startsWith('InputError')).length, 5);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'released at exit');
});

/** A temp file of ours, as a write killed mid-way by process `pid` leaves it. */
const ourTemp = (target: string, pid = DEAD_PID) => `.${target}.${pid}.0123abcd.esr-tmp`;

test('locking is re-entrant within a process; a file in the way is an InputError; our stale temp files are removed', () => {
  const dir = join(tmp, 'reentrant');
  mkdirSync(join(dir, 'parts'), { recursive: true });
  writeFileSync(join(dir, ourTemp('capture-settings.json')), 'partial');
  writeFileSync(join(dir, ourTemp('latents.json', process.pid)), 'this process: still writing');
  writeFileSync(join(dir, 'keep.json'), '{}');
  const outer = lockDir(dir);
  const inner = lockDir(dir);
  inner.release();
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'the outer lock is still held');
  outer.release();
  assert.deepEqual(readdirSync(dir).sort(), [ourTemp('latents.json', process.pid), 'keep.json', 'parts']);
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(
    () => lockDir(file),
    (e: Error) => e instanceof InputError && /exists and is not a directory/.test(e.message),
  );
  const store = join(tmp, 'store.jsonl');
  writeFileSync(join(tmp, ourTemp('store.jsonl')), 'partial');
  writeFileSync(join(tmp, ourTemp('other.jsonl')), 'not this file’s');
  const l = lockFile(store);
  assert.ok(existsSync(join(tmp, `.store.jsonl${LOCK_FILE}`)));
  l.release();
  assert.equal(existsSync(join(tmp, ourTemp('store.jsonl'))), false);
  assert.ok(existsSync(join(tmp, ourTemp('other.jsonl'))));
});

test("a user's files are never removed: other names, nested folders, links, live writers' temp files", () => {
  const dir = join(tmp, 'users-own');
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  const kept = {
    'a/b/r.2024.tmp': 'x', // the names the old cleanup deleted, recursively
    'n.1.tmp': 'y',
    'notes.esr-tmp': 'a user file that merely ends like ours',
    '.x.12.zzzzzzzz.esr-tmp': 'not our naming (rand is 8 hex digits)',
    [`a/${ourTemp('deep.json')}`]: 'ours by name, but inside a folder we do not enter',
    [ourTemp('live.json', process.ppid)]: 'a live process (our parent)',
  };
  for (const [name, text] of Object.entries(kept)) writeFileSync(join(dir, name), text);
  symlinkSync(join(dir, 'n.1.tmp'), join(dir, ourTemp('link.json')));
  writeFileSync(join(dir, ourTemp('dead.json')), 'a killed write of ours');
  lockDir(dir).release();
  for (const [name, text] of Object.entries(kept)) assert.equal(readFileSync(join(dir, name), 'utf8'), text, name);
  assert.ok(lstatSync(join(dir, ourTemp('link.json'))).isSymbolicLink(), 'a link is not followed or removed');
  assert.equal(existsSync(join(dir, ourTemp('dead.json'))), false);
});

test('the issue’s case: ablate --out and plot on a folder of user files delete nothing', () => {
  const dir = join(tmp, 'u');
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(dir, 'a', 'b', 'r.2024.tmp'), 'x');
  writeFileSync(join(dir, 'n.1.tmp'), 'y');
  assertExit(runCli(['plot', dir]), 0);
  const r = runCli([
    'ablate',
    ...FIXTURE_SESSION_ARGS,
    '--prompts',
    join(tmp, 'prompts.txt'),
    '--latents',
    '5,9',
    '--features',
    join(tmp, 'features.csv'),
    '--boost',
    '2',
    '--trials-per-feature',
    '1',
    '--max-tokens',
    '4',
    '--resamples',
    '100',
    '--judge',
    'heuristic',
    '--out',
    dir,
  ]);
  assertExit(r, 0);
  assert.equal(readFileSync(join(dir, 'a', 'b', 'r.2024.tmp'), 'utf8'), 'x');
  assert.equal(readFileSync(join(dir, 'n.1.tmp'), 'utf8'), 'y');
  assert.ok(existsSync(join(dir, 'trials.jsonl')));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.esr-tmp')),
    [],
    'no temp file of ours left after a clean run',
  );
});

test('a lock naming pid 0 or -1 (no process) is stale: taken over, not "held" forever', async () => {
  for (const pid of [0, -1, 1.5]) {
    const dir = join(tmp, `pid${pid}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid, host: hostname(), started: '2020-01-01T00:00:00Z', command: 'x' }),
    );
    assert.equal(await output(child(dir)), 'locked', `pid ${pid}`);
  }
});

test('a directory created only for the lock is removed again when the command is refused', () => {
  const dir = join(tmp, 'fresh', 'run');
  lockDir(dir).release();
  assert.equal(existsSync(dir), false);
});

const captureArgs = (samples: string, out: string) => [
  ...fixtureCaptureArgs(samples),
  '--out',
  out,
  '--batch-size',
  '2',
];

test('CLI: two captures into one store — the second exits 2 naming the first, which then completes the store', async () => {
  const out = join(tmp, 'two.acts');
  const samples = join(FIX, 'capture', 'samples.jsonl');
  // the first capture holds the store's lock (paused right after writing it) while the second one starts
  const first = startCli(captureArgs(samples, out), {
    cwd: tmp,
    stopAt: { op: 'close', path: '/two\\.acts/\\.esr-lock$', nth: 1 },
  });
  await first.stopped;
  const second = runCli(captureArgs(samples, out), { cwd: tmp });
  assertExit(second, 2, new RegExp(`activation store .*another writer holds it: pid ${first.pid} `));
  first.resume();
  assertExit(await first.exited, 0);
  assert.ok(existsSync(join(out, 'meta.json')));
  assert.equal(existsSync(join(out, LOCK_FILE)), false, 'the lock is released at exit');
});

test('CLI: ablate into a run directory another live process holds exits 2 and writes nothing', () => {
  const out = join(tmp, 'held-run');
  mkdirSync(out);
  writeFileSync(
    join(out, LOCK_FILE),
    JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), command: 'ablate' }),
  );
  const features = join(tmp, 'features.json');
  writeFileSync(features, '[3]');
  const prompts = join(tmp, 'prompts.txt');
  writeFileSync(prompts, 'Explain how bread rises.\nDescribe a river.\n');
  const r = runCli(
    [
      'ablate',
      ...FIXTURE_SESSION_ARGS,
      '--latents',
      '5,9',
      '--features',
      features,
      '--prompts',
      prompts,
      '--boost',
      '1',
      '--out',
      out,
    ],
    { cwd: tmp },
  );
  assertExit(r, 2, new RegExp(`another writer holds it: pid ${process.pid} `));
  assert.deepEqual(readdirSync(out), [LOCK_FILE]);
});
