// Preloaded into a child process (`node --import tsx --import ./short-write.ts`) to play a disk that fills
// up: the nth writeSync to a file whose path matches a pattern writes only its first half and reports
// that short count, as a full file system does; the next `fail` writes to such files throw ENOSPC; the
// writes after them succeed again (another process freed space). A program that ignores the short count
// leaves half a record in the file, and a later write lands after it.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** The environment variable carrying `{"path": regexp, "nth": n, "fail": k}` as JSON. */
export const SHORT_WRITE_ENV = 'ESR_TEST_SHORT_WRITE';

const raw = process.env[SHORT_WRITE_ENV];
if (raw) {
  const spec = JSON.parse(raw) as { path: string; nth: number; fail: number };
  const pattern = new RegExp(spec.path);
  const paths = new Map<number, string>();
  let seen = 0;
  const { openSync, writeSync, closeSync } = fs;
  fs.openSync = ((path: fs.PathLike, ...rest: never[]) => {
    const fd = (openSync as (p: fs.PathLike, ...a: never[]) => number)(path, ...rest);
    paths.set(fd, String(path));
    return fd;
  }) as typeof fs.openSync;
  fs.closeSync = (fd: number) => {
    paths.delete(fd);
    closeSync(fd);
  };
  fs.writeSync = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: never[]) => {
    const path = paths.get(fd);
    if (path !== undefined && pattern.test(path)) {
      seen++;
      if (seen === spec.nth) {
        const bytes =
          typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        const [offset = 0, length = bytes.length - offset] = rest as unknown as [number?, number?];
        return writeSync(fd, bytes, offset, Math.max(1, Math.floor(length / 2)));
      }
      if (seen > spec.nth && seen <= spec.nth + spec.fail)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    }
    return (writeSync as (fd: number, d: unknown, ...a: never[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
}
