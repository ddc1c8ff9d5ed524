// The trial store (JSONL, append-only). Read line by line, so no single line — however long — can make a
// store unreadable; duplicate ids (two writers, or a record appended twice) are dropped when identical and
// refused when they conflict.
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { InputError } from '../errors.ts';
import type { Trial } from './types.ts';
import { shown } from '../io/json.ts';

const REQUIRED: (keyof Trial)[] = ['id', 'feature', 'prompt', 'seed', 'condition', 'response'];

/** What is stored of a raw judge output: its first RAW_KEEP characters, then its size and sha256. */
export const RAW_KEEP = 64 * 1024;
/** A line longer than this is skipped with a warning (its trial is redone on resume), never parsed. */
export const MAX_LINE_BYTES = 64 << 20;

/** A raw judge output cut to RAW_KEEP characters, with a note of its full length and hash. */
export function capRaw(raw: string): string;
export function capRaw(raw: string | null): string | null;
export function capRaw(raw: string | null): string | null {
  if (raw === null || raw.length <= RAW_KEEP) return raw;
  const sha = createHash('sha256').update(raw).digest('hex');
  return `${raw.slice(0, RAW_KEEP)}\n[… raw output cut at ${RAW_KEEP} of ${raw.length} characters; sha256 ${sha}]`;
}

/**
 * Calls `onLine(bytes, lineNumber)` for each newline-terminated line of `path`, reading in 1 MiB chunks.
 * Lines over `maxBytes` are reported as `null`. Anything after the last newline (a write torn by a kill) is
 * not a line. Returns the number of bytes in complete lines.
 */
function forEachLine(
  path: string,
  onLine: (line: Buffer | null, n: number) => void,
  maxBytes = MAX_LINE_BYTES,
): number {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let parts: Buffer[] = [];
    let partBytes = 0;
    let oversized = false;
    let lineNo = 0;
    let pos = 0;
    let complete = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
        lineNo++;
        if (!oversized && partBytes + nl - start <= maxBytes) {
          parts.push(Buffer.from(buf.subarray(start, nl)));
          onLine(parts.length === 1 ? parts[0] : Buffer.concat(parts), lineNo);
        } else onLine(null, lineNo);
        parts = [];
        partBytes = 0;
        oversized = false;
        start = nl + 1;
        complete = pos + start;
      }
      if (start < n && !oversized) {
        partBytes += n - start;
        if (partBytes > maxBytes) {
          oversized = true;
          parts = [];
        } else parts.push(Buffer.from(buf.subarray(start, n)));
      }
      pos += n;
    }
    return complete;
  } finally {
    closeSync(fd);
  }
}

const sameTrial = (a: Trial, b: Trial): boolean => {
  // provenance may differ between two runs of one trial (run time, runtime); the trial itself may not
  const { provenance: _pa, ...ra } = a;
  const { provenance: _pb, ...rb } = b;
  return isDeepStrictEqual(ra, rb);
};

function checkScores(t: Trial, where: string): void {
  for (const [i, a] of (t.judge?.attempts ?? []).entries()) {
    const s = a?.score;
    if (s !== null && !(typeof s === 'number' && Number.isFinite(s) && s >= 0 && s <= 100)) {
      throw new InputError(
        `${where}: judge.attempts[${i}].score: expected a number in 0–100 or null, found ${shown(s)}`,
      );
    }
  }
}

export interface ReadTrialsOptions {
  /** Warnings (duplicates dropped, oversized lines skipped); default: printed to stderr. */
  warn?: (message: string) => void;
}

/**
 * Reads a trial store (JSONL). A final line without its newline is a write cut short by a kill: it is
 * ignored (and will be redone). A trial id stored twice with the same content is read once (with a
 * warning); twice with different content is an error naming both lines. Scores must be 0–100 or null.
 * Any other malformed line is an error naming the file and line.
 */
export function readTrials(path: string, opts: ReadTrialsOptions = {}): Trial[] {
  if (!existsSync(path)) throw new InputError(`${path}: trial store not found`);
  const warn = opts.warn ?? ((m: string) => console.error(`warning: ${m}`));
  const trials: Trial[] = [];
  const byId = new Map<string, { trial: Trial; line: number }>();
  let duplicates = 0;
  forEachLine(path, (bytes, n) => {
    const where = `${path}:${n}`;
    if (bytes === null) {
      warn(`${where}: line longer than ${MAX_LINE_BYTES >> 20} MiB skipped (its trial, if any, is redone on resume)`);
      return;
    }
    const line = bytes.toString('utf8');
    if (!line.trim()) return;
    let t: Trial;
    try {
      t = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${where}: not JSON (${(err as Error).message})`);
    }
    if (t === null || typeof t !== 'object' || Array.isArray(t))
      throw new InputError(`${where}: expected a trial object, found ${line.slice(0, 40)}`);
    for (const field of REQUIRED) {
      if (t[field] === undefined) throw new InputError(`${where}: field ${field} is missing`);
    }
    if (typeof t.id !== 'string') throw new InputError(`${where}: field id: expected a string, found ${shown(t.id)}`);
    checkScores(t, where);
    const earlier = byId.get(t.id);
    if (earlier) {
      if (!sameTrial(earlier.trial, t)) {
        throw new InputError(
          `${where}: trial id ${JSON.stringify(t.id)} was already stored at line ${earlier.line} with different content (two writers?); keep one of them`,
        );
      }
      duplicates++;
      return;
    }
    byId.set(t.id, { trial: t, line: n });
    trials.push(t);
  });
  if (duplicates)
    warn(`${path}: ${duplicates} duplicate trial record${duplicates > 1 ? 's' : ''} (same id, same content) read once`);
  return trials;
}

/** Appends one trial as one line (its raw judge output capped) and flushes it to disk before returning. */
export function appendTrial(path: string, trial: Trial): void {
  const t =
    trial.judge && trial.judge.raw !== null && trial.judge.raw.length > RAW_KEEP
      ? { ...trial, judge: { ...trial.judge, raw: capRaw(trial.judge.raw) } }
      : trial;
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, JSON.stringify(t) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Drops a torn last line (a write cut short by a kill; its first MiB kept in `.torn`) so appends start on a clean line. */
export function repairTornTail(path: string): void {
  if (!existsSync(path)) return;
  const keep = forEachLine(path, () => {}, 0);
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === keep) return;
    const torn = Buffer.alloc(Math.min(size - keep, 1 << 20));
    readSync(fd, torn, 0, torn.length, keep);
    appendFileSync(path + '.torn', Buffer.concat([torn, Buffer.from('\n')]));
    ftruncateSync(fd, keep);
  } finally {
    closeSync(fd);
  }
}
