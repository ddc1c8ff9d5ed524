// One writer per run directory, store or output file: an exclusive lock file created atomically
// (O_CREAT|O_EXCL) holding the holder's pid, host, start time and command. A second writer is refused with
// an InputError naming the holder. A lock whose holder is gone (same host, pid not running) is stale — a
// kill -9 or a crash — and is taken over; a lock from another host is never guessed stale.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { addTempRoot, pidAlive, removeStaleTemps } from '../io/atomic.ts';

export const LOCK_FILE = '.esr-lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  started: string;
  command: string;
}

/** How lock ages are measured: the clock (ms since the epoch) that file mtimes are compared with. Tests give
 * their own, to check the stale-lock rules at their boundaries without waiting. */
export interface LockOptions {
  now?: () => number;
}

/** An unreadable lock (no holder to check) is stale after this long; a takeover lock after TAKEOVER_STALE_MS. */
export const UNREADABLE_STALE_MS = 60_000;
export const TAKEOVER_STALE_MS = 10_000;

export interface Lock {
  path: string;
  /** Removes the lock file (only if it is still ours). Idempotent; also runs at process exit. */
  release(): void;
}

/**
 * Locks this process holds: the holder written, how many times taken (re-entrant), a directory to remove if
 * left empty, and what to undo when the last hold ends.
 */
const held = new Map<
  string,
  { holder: LockHolder; count: number; createdDir: string | null; onRelease?: () => void }
>();
process.on('exit', () => {
  for (const path of [...held.keys()]) releasePath(path, true);
});

function me(): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
}

function readHolder(path: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8'));
    return h && typeof h.pid === 'number' && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * Stale: written on this host by a process that is no longer running; naming no process at all (a pid
 * that is not a positive integer: `kill(0)` and `kill(-1)` would signal a group and always succeed); or
 * unreadable and older than a minute (a lock is written right after it is created).
 */
function isStale(path: string, h: LockHolder | null, now: () => number): boolean {
  if (h === null) {
    try {
      return now() - statSync(path).mtimeMs > UNREADABLE_STALE_MS;
    } catch {
      return true;
    }
  }
  if (!(Number.isSafeInteger(h.pid) && h.pid > 0)) return true;
  return h.host === hostname() && h.pid !== process.pid && !pidAlive(h.pid);
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function describe(h: LockHolder | null): string {
  return h
    ? `pid ${h.pid} on ${h.host}, started ${h.started}${h.command ? ` (analyze ${h.command})` : ''}`
    : 'an unreadable lock';
}

/**
 * Takes the exclusive lock `lockPath` for `what` (named in the error), or throws an InputError naming the
 * holder. Stale locks are taken over under a short-lived takeover lock, so two processes that find the same
 * stale lock cannot both win.
 */
function acquireLock(lockPath: string, what: string, { now = Date.now }: LockOptions): Lock {
  const mine = held.get(lockPath);
  if (mine) {
    // re-entrant: a command and the library function it calls may both lock the same directory
    mine.count++;
    return { path: lockPath, release: once(() => releasePath(lockPath)) };
  }
  const dir = dirname(lockPath);
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new InputError(`${what}: ${dir} exists and is not a directory`);
  const createdDir = existsSync(dir) ? null : dir;
  mkdirSync(dir, { recursive: true });
  const holder = me();
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(lockPath, holder)) {
      held.set(lockPath, { holder, count: 1, createdDir });
      return { path: lockPath, release: once(() => releasePath(lockPath)) };
    }
    const h = readHolder(lockPath);
    if (!isStale(lockPath, h, now)) {
      throw new InputError(
        `${what}: another writer holds it: ${describe(h)}. Wait for it to finish; if that process is gone, delete ${lockPath}`,
      );
    }
    const takeover = `${lockPath}.takeover`;
    if (existsSync(takeover) && now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS)
      rmSync(takeover, { force: true });
    if (!tryCreate(takeover, holder)) continue;
    try {
      if (isStale(lockPath, readHolder(lockPath), now)) rmSync(lockPath, { force: true });
    } finally {
      rmSync(takeover, { force: true });
    }
  }
  throw new InputError(`${what}: could not take the lock ${lockPath} (contended); try again`);
}

const once = (f: () => void): (() => void) => {
  let done = false;
  return () => {
    if (!done) f();
    done = true;
  };
};

function releasePath(path: string, all = false): void {
  const mine = held.get(path);
  if (!mine) return;
  if (--mine.count > 0 && !all) return;
  held.delete(path);
  mine.onRelease?.();
  const h = readHolder(path);
  if (h && h.pid === mine.holder.pid && h.started === mine.holder.started) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  // a directory this lock created and nothing else was written to (a command refused before any work)
  if (mine.createdDir) {
    try {
      if (readdirSync(mine.createdDir).length === 0) rmdirSync(mine.createdDir);
    } catch {
      // not empty or gone: leave it
    }
  }
}

/**
 * Locks a run directory or store for writing (creating it): `<dir>/.esr-lock`. Holding the lock, this
 * process is the only writer: temp files of ours an earlier killed run left in the directory's top level
 * are removed (lib/io/atomic.ts; no other file, no folder entered), and this process's atomic writes under
 * the directory keep their temp files there.
 */
export function lockDir(dir: string, what = dir, o: LockOptions = {}): Lock {
  const lockPath = join(dir, LOCK_FILE);
  const fresh = !held.has(lockPath);
  const lock = acquireLock(lockPath, what, o);
  if (fresh) {
    removeStaleTemps(dir);
    held.get(lockPath)!.onRelease = addTempRoot(dir);
  }
  return lock;
}

/** Locks a single output file (a trial store appended to, …): `<dir>/.<name>.esr-lock` beside it. */
export function lockFile(path: string, what = path, o: LockOptions = {}): Lock {
  const lock = acquireLock(join(dirname(path), `.${basename(path)}${LOCK_FILE}`), what, o);
  removeStaleTemps(dirname(path), basename(path));
  return lock;
}

/** Runs `body` holding the lock on directory `dir`, releasing it however `body` ends. */
export async function withDirLock<T>(dir: string, what: string, body: () => Promise<T>): Promise<T> {
  const lock = lockDir(dir, what);
  try {
    return await body();
  } finally {
    lock.release();
  }
}
