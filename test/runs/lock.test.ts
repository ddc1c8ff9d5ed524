// One writer per run directory: the lock file, stale-lock takeover, two real processes racing for one
// store, and the CLI refusing a second writer (exit 2, naming the holder, nothing written).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { LOCK_FILE, lockDir, lockFile } from '../../lib/runs/lock.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'lock-'));
const LOCK_TS = join(ROOT, 'lib', 'runs', 'lock.ts');

/** A child process that tries to lock `dir`, prints "locked" or the error, and (holding) exits when its stdin closes. */
function child(dir: string) {
  const code = `import { lockDir } from ${JSON.stringify(LOCK_TS)};
try { lockDir(${JSON.stringify(dir)}); console.log('locked'); } catch (e) { console.log(e.name + ': ' + e.message); }
process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT });
}
/** Waits for the child's line, then lets it exit. */
const output = (p: ReturnType<typeof child>): Promise<string> => answered(p).then((s) => (p.stdin!.end(), s));
const answered = (p: ReturnType<typeof child>): Promise<string> =>
  new Promise((done) => {
    let s = '';
    p.stdout!.on('data', (d) => {
      s += d;
      if (s.includes('\n')) done(s.trim());
    });
  });
const exited = (p: ReturnType<typeof child>): Promise<void> => new Promise((done) => p.on('exit', () => done()));

const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

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
    JSON.stringify({ pid: deadPid(), host: hostname(), started: '2020-01-01T00:00:00Z', command: 'capture' }),
  );
  assert.equal(await output(child(dir)), 'locked');
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ pid: deadPid(), host: 'elsewhere', started: '2020-01-01T00:00:00Z', command: 'capture' }),
  );
  assert.match(await output(child(dir)), /InputError: .*pid \d+ on elsewhere/);
});

test('six processes racing for one directory: exactly one wins', async () => {
  const dir = join(tmp, 'race');
  const children = Array.from({ length: 6 }, () => child(dir));
  const results = await Promise.all(children.map(answered)); // every child has tried while the winner still holds
  children.forEach((c) => c.stdin!.end());
  await Promise.all(children.map(exited));
  assert.equal(results.filter((r) => r === 'locked').length, 1, results.join('\n'));
  assert.equal(results.filter((r) => r.startsWith('InputError')).length, 5);
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'released at exit');
});

test('locking is re-entrant within a process; a file in the way is an InputError; *.tmp leftovers are removed', () => {
  const dir = join(tmp, 'reentrant');
  mkdirSync(dir);
  writeFileSync(join(dir, 'capture-settings.json.4242.tmp'), 'partial');
  mkdirSync(join(dir, 'parts'));
  writeFileSync(join(dir, 'parts', '000001.codes.arrow.4242.tmp'), 'partial');
  writeFileSync(join(dir, 'keep.json'), '{}');
  const outer = lockDir(dir);
  const inner = lockDir(dir);
  inner.release();
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'the outer lock is still held');
  outer.release();
  assert.deepEqual(readdirSync(dir).sort(), ['keep.json', 'parts']);
  assert.deepEqual(readdirSync(join(dir, 'parts')), []);
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(
    () => lockDir(file),
    (e: Error) => e instanceof InputError && /exists and is not a directory/.test(e.message),
  );
  const store = join(tmp, 'store.jsonl');
  const l = lockFile(store);
  assert.ok(existsSync(join(tmp, `.store.jsonl${LOCK_FILE}`)));
  l.release();
});

test('a directory created only for the lock is removed again when the command is refused', () => {
  const dir = join(tmp, 'fresh', 'run');
  lockDir(dir).release();
  assert.equal(existsSync(dir), false);
});

const captureArgs = (samples: string, out: string) => [
  join(ROOT, 'bin/analyze.js'),
  'capture',
  '--model',
  join(FIX, 'models', 'llama3-gqa'),
  '--sae',
  join(FIX, 'sae', 'saelens_relu'),
  '--layer',
  '1',
  '--samples',
  samples,
  '--out',
  out,
  '--batch-size',
  '2',
];

test('CLI: two captures into one store — one exits 2 naming the holder, the other completes the store', {
  timeout: 300_000,
}, async () => {
  const out = join(tmp, 'two.acts');
  const samples = join(FIX, 'capture', 'samples.jsonl');
  const run = () =>
    new Promise<{ code: number | null; stderr: string }>((done) => {
      const p = spawn(process.execPath, captureArgs(samples, out), { cwd: tmp });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => done({ code, stderr }));
    });
  const [a, b] = await Promise.all([run(), run()]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 2], `${a.stderr}\n${b.stderr}`);
  const loser = a.code === 2 ? a : b;
  assert.match(loser.stderr, /activation store .*another writer holds it: pid \d+/);
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
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/analyze.js'),
      'ablate',
      '--model',
      join(FIX, 'models', 'llama3-gqa'),
      '--sae',
      join(FIX, 'sae', 'saelens_relu'),
      '--latents',
      '5,9',
      '--features',
      features,
      '--boost',
      '1',
      '--out',
      out,
    ],
    { encoding: 'utf8', cwd: tmp },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`another writer holds it: pid ${process.pid} `));
  assert.deepEqual(readdirSync(out), [LOCK_FILE]);
});
