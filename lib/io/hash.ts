// Content hashes (sha256, hex) of text and of files, for provenance, cache keys and run keys.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** sha256 (hex) of a string's UTF-8 bytes. */
export function sha256Text(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** sha256 (hex) and size of a file, read in 16 MiB chunks so multi-GiB SAEs never sit in memory twice. */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(16 << 20);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    return { sha256: hash.digest('hex'), bytes: pos };
  } finally {
    closeSync(fd);
  }
}

export function fileSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
