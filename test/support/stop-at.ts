// Preloaded into a child process by startCli (test/support/cli.ts) when a test gives `stopAt`: the process
// pauses right after its nth file operation of one kind on a path matching a pattern, says so on stderr,
// and waits in a blocking read of its stdin. The test then kills it (SIGKILL: a crash at exactly that
// point) or holds it there (a second writer meanwhile) and resumes it with a byte on stdin. Polling for a
// file and killing when it appears races with the program finishing first; this does not.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** One file operation of the program: `rename` (to the path: the atomic writes), `write` (writeSync to a
 * file opened with openSync: trial appends, lock files), `close` (closeSync of such a file). */
export interface StopAt {
  op: 'rename' | 'write' | 'close';
  /** A regular expression tested against the path as the program names it. */
  path: string;
  /** Which matching operation (1 = the first) the process stops after. */
  nth: number;
}

/** The environment variable carrying the StopAt as JSON, and the line prefix the paused process writes. */
export const STOP_AT_ENV = 'ESR_TEST_STOP_AT';
export const STOPPED_LINE = 'esr-test: stopped after';

const raw = process.env[STOP_AT_ENV];
if (raw) {
  const spec = JSON.parse(raw) as StopAt;
  const pattern = new RegExp(spec.path);
  let seen = 0;
  const reached = (op: StopAt['op'], path: string): void => {
    if (op !== spec.op || !pattern.test(path) || ++seen !== spec.nth) return;
    fs.writeSync(2, `${STOPPED_LINE} ${op} #${seen} of ${path}\n`);
    // a byte from the test resumes; end of input means the test is gone, and so is the reason to go on
    if (fs.readSync(0, Buffer.alloc(1), 0, 1, null) === 0) process.exit(1);
  };
  const paths = new Map<number, string>();
  const { openSync, writeSync, closeSync, renameSync } = fs;
  fs.openSync = ((
    path: fs.PathLike,
    ...rest: Parameters<typeof openSync> extends [unknown, ...infer R] ? R : never
  ) => {
    const fd = openSync(path, ...rest);
    paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  fs.writeSync = ((fd: number, ...rest: never[]) => {
    const n = (writeSync as (fd: number, ...a: never[]) => number)(fd, ...rest);
    const path = paths.get(fd);
    if (path !== undefined) reached('write', path);
    return n;
  }) as typeof fs.writeSync;
  fs.closeSync = (fd: number) => {
    closeSync(fd);
    const path = paths.get(fd);
    paths.delete(fd);
    if (path !== undefined) reached('close', path);
  };
  fs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    renameSync(from, to);
    reached('rename', String(to));
  };
  syncBuiltinESMExports(); // `import { renameSync } from 'node:fs'` in the program now sees these
}
