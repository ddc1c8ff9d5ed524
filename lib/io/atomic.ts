// Atomic writes: the new content goes to a temp file of our own naming, `.<name>.<pid>.<rand>.esr-tmp`,
// and is renamed over the target, so readers see the old content or the whole new one. The temp file
// lies in the top level of the directory this process holds a lock on (a run directory or store; see
// lib/runs/lock.ts), else beside the target. A kill leaves at most such files; the next holder of the
// lock removes those whose process is gone, and never a file of any other name.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { InputError } from '../errors.ts';

/** Our temp files: `.<name>.<pid>.<8 hex>.esr-tmp`. */
const TEMP_NAME = /^\.(.+)\.([1-9]\d*)\.([0-9a-f]{8})\.esr-tmp$/;

/** Directories (resolved) whose top level takes this process's temp files: those it holds a lock on. */
const tempRoots = new Map<string, number>();

/** Makes `dir`'s top level the place for temp files of writes under it, until the returned function is called. */
export function addTempRoot(dir: string): () => void {
  const d = resolve(dir);
  tempRoots.set(d, (tempRoots.get(d) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (tempRoots.get(d) ?? 1) - 1;
    if (n > 0) tempRoots.set(d, n);
    else tempRoots.delete(d);
  };
}

/** The temp file for a write of `target`: in the deepest temp root holding it, else beside it. */
export function tempPathFor(target: string): string {
  const t = resolve(target);
  let root: string | null = null;
  for (const d of tempRoots.keys()) if (t.startsWith(d + sep) && (root === null || d.length > root.length)) root = d;
  // long names are cut: the temp name must stay within the 255 bytes a file name may have
  const name = basename(t).slice(0, 100);
  return join(root ?? dirname(t), `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.esr-tmp`);
}

/** The pid that made a temp file of ours, or null for any other name. */
export function tempFilePid(name: string): number | null {
  const m = TEMP_NAME.exec(name);
  return m ? Number(m[2]) : null;
}

/** Whether process `pid` runs on this host. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files of ours in the top level of `dir` whose process is gone (a killed write), only
 * those (`only`: of that target name), never following links or entering folders. Call it holding `dir`'s
 * lock, so no other writer's temp file can be there. Returns the paths removed.
 */
export function removeStaleTemps(dir: string, only?: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = tempFilePid(name);
    if (pid === null || pid === process.pid || pidAlive(pid)) continue;
    if (only !== undefined && !name.startsWith(`.${only.slice(0, 100)}.`)) continue;
    const p = join(dir, name);
    try {
      if (!lstatSync(p).isFile()) continue;
      rmSync(p, { force: true });
      removed.push(p);
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

/** Writes every byte of `data` at `fd`; a write that makes no progress (a full disk) is an error, never a loop. */
function writeAll(fd: number, data: string | Uint8Array | Uint8Array[], path: string): void {
  for (const chunk of Array.isArray(data) ? data : [data]) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let off = 0;
    while (off < bytes.length) {
      const n = writeSync(fd, bytes, off, bytes.length - off);
      if (n <= 0) throw Object.assign(new Error(`${path}: no space left to write`), { code: 'ENOSPC' });
      off += n;
    }
  }
}

/** Writes a file so that readers see either the old content or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  let tmp = tempPathFor(path);
  for (let tries = 0; ; tries++) {
    const fd = openSync(tmp, 'wx');
    try {
      writeAll(fd, data, path);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    try {
      renameSync(tmp, path);
      return;
    } catch (err) {
      rmSync(tmp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // the lock's directory and the target on two file systems (a mount inside a run directory): beside it
      if (code === 'EXDEV' && tries === 0) {
        tmp = join(dirname(path), basename(tmp));
        continue;
      }
      if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
        throw new InputError(
          `${path}: cannot write here (${code === 'ENOTDIR' ? 'a parent is not a directory' : 'a directory is in the way'})`,
        );
      }
      throw err;
    }
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
