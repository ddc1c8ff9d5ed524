// The trial store (JSONL, append-only). Read line by line, so no single line — however long — can make a
// store unreadable; duplicate ids (two writers, or a record appended twice) are dropped when identical and
// refused when they conflict.
import { createHash } from 'node:crypto';
import fs, { appendFileSync, closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
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

/** The fields every trial has, with their types: a record that breaks them is refused naming the field. */
function checkShape(t: Trial, where: string): void {
  for (const field of REQUIRED) {
    if (t[field] === undefined) throw new InputError(`${where}: field ${field} is missing`);
  }
  const types: [keyof Trial, string][] = [
    ['id', 'string'],
    ['prompt', 'string'],
    ['condition', 'string'],
    ['response', 'string'],
    ['feature', 'number'],
    ['seed', 'number'],
  ];
  for (const [field, type] of types) {
    if (typeof t[field] !== type)
      throw new InputError(`${where}: field ${field}: expected a ${type}, found ${shown(t[field])}`);
  }
  const j = t.judge as unknown;
  if (j === null || j === undefined) return;
  if (typeof j !== 'object' || Array.isArray(j))
    throw new InputError(`${where}: field judge: expected an object or null, found ${shown(j)}`);
  const { attempts, error } = j as { attempts?: unknown; error?: unknown };
  if (!Array.isArray(attempts))
    throw new InputError(`${where}: judge.attempts: expected a list of {text, score}, found ${shown(attempts)}`);
  if (error !== undefined && error !== null && typeof error !== 'string')
    throw new InputError(`${where}: judge.error: expected a string or null, found ${shown(error)}`);
  attempts.forEach((a: unknown, i) => {
    const s = (a as { score?: unknown } | null)?.score;
    if (a === null || typeof a !== 'object' || Array.isArray(a))
      throw new InputError(`${where}: judge.attempts[${i}]: expected {text, score}, found ${shown(a)}`);
    if (s !== null && !(typeof s === 'number' && Number.isFinite(s) && s >= 0 && s <= 100)) {
      throw new InputError(
        `${where}: judge.attempts[${i}].score: expected a number in 0–100 or null, found ${shown(s)}`,
      );
    }
  });
}

/** Two records of one trial with the same generation (everything but the judgment and provenance). */
const sameGeneration = (a: Trial, b: Trial): boolean => {
  const { provenance: _pa, judge: _ja, ...ra } = a;
  const { provenance: _pb, judge: _jb, ...rb } = b;
  return isDeepStrictEqual(ra, rb);
};

/** A trial whose response was judged and the judging failed (an outage, a budget spent): judged again on resume. */
export const judgeFailed = (t: Trial): boolean => !t.error && typeof t.judge?.error === 'string';

export interface ReadTrialsOptions {
  /** Warnings (duplicates dropped, oversized lines skipped); default: printed to stderr. */
  warn?: (message: string) => void;
  /**
   * The run key every record must carry as `provenance.run` (a run's own store): a line from another run —
   * a store copied between run directories — is refused naming it, rather than counted.
   */
  run?: string;
}

/**
 * Reads a trial store (JSONL). A final line without its newline is a write cut short by a kill: it is
 * ignored (and will be redone). A trial id stored twice with the same content is read once (with a
 * warning); a later record of a trial whose judging had failed, with the same response, replaces it (a
 * re-judgment on resume); any other second record with different content is an error naming both lines.
 * Fields have their types, scores are 0–100 or null. Any other malformed line is an error naming the file
 * and line.
 */
export function readTrials(path: string, opts: ReadTrialsOptions = {}): Trial[] {
  if (!existsSync(path)) throw new InputError(`${path}: trial store not found`);
  const warn = opts.warn ?? ((m: string) => console.error(`warning: ${m}`));
  const trials: Trial[] = [];
  const byId = new Map<string, { trial: Trial; line: number; index: number }>();
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
    checkShape(t, where);
    if (opts.run !== undefined && t.provenance?.run !== opts.run) {
      throw new InputError(
        `${where}: trial ${JSON.stringify(t.id)} was written by another run (provenance.run ${shown(t.provenance?.run)}, this run's is ${JSON.stringify(opts.run)}): ` +
          'a store copied from another run directory? Remove those lines, or use another --out',
      );
    }
    const earlier = byId.get(t.id);
    if (earlier) {
      if (sameTrial(earlier.trial, t)) {
        duplicates++;
        return;
      }
      if (judgeFailed(earlier.trial) && sameGeneration(earlier.trial, t)) {
        trials[earlier.index] = t;
        byId.set(t.id, { trial: t, line: n, index: earlier.index });
        return;
      }
      throw new InputError(
        `${where}: trial id ${JSON.stringify(t.id)} was already stored at line ${earlier.line} with different content (two writers?); keep one of them`,
      );
    }
    byId.set(t.id, { trial: t, line: n, index: trials.length });
    trials.push(t);
  });
  if (duplicates)
    warn(`${path}: ${duplicates} duplicate trial record${duplicates > 1 ? 's' : ''} (same id, same content) read once`);
  return trials;
}

/** The file operations appendTrial uses (node:fs; tests inject a full disk through it). */
export type AppendFs = Pick<
  typeof fs,
  'openSync' | 'fstatSync' | 'writeSync' | 'fsyncSync' | 'ftruncateSync' | 'closeSync'
>;

/** A trial could not be stored (a full disk, an I/O error): the run stops (exit 1) and resumes when rerun. */
export class StoreWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreWriteError';
  }
}

/**
 * Appends one trial as one line (its raw judge output capped) and flushes it to disk before returning.
 * Every write is checked: when the line cannot be written whole (a short write, ENOSPC, EIO), the store is
 * cut back to where it ended before (its last complete line) and a StoreWriteError says so, so a later
 * append can never land after half a record, and a rerun resumes cleanly once there is space again.
 */
export function appendTrial(path: string, trial: Trial, io: AppendFs = fs): void {
  const t =
    trial.judge && trial.judge.raw !== null && trial.judge.raw.length > RAW_KEEP
      ? { ...trial, judge: { ...trial.judge, raw: capRaw(trial.judge.raw) } }
      : trial;
  const bytes = Buffer.from(`${JSON.stringify(t)}\n`, 'utf8');
  const fd = io.openSync(path, 'a');
  try {
    const start = io.fstatSync(fd).size;
    try {
      for (let off = 0; off < bytes.length; ) {
        const n = io.writeSync(fd, bytes, off, bytes.length - off);
        if (!(n > 0)) throw Object.assign(new Error('the write made no progress'), { code: 'ENOSPC' });
        off += n;
      }
      io.fsyncSync(fd);
    } catch (err) {
      let cut = 'cut back to its last complete line';
      try {
        io.ftruncateSync(fd, start);
      } catch (e) {
        cut = `NOT cut back (${(e as Error).message}): remove the partial last line by hand`;
      }
      const e = err as NodeJS.ErrnoException;
      throw new StoreWriteError(
        `${path}: could not store trial ${JSON.stringify(trial.id)} (${e.code ?? e.name}: ${e.message}); the store was ${cut}. ` +
          'Free some space and rerun the same command to resume',
      );
    }
  } finally {
    io.closeSync(fd);
  }
}

/** Whether `path` holds at least one complete line (a run that stored a trial). */
export function hasTrialLines(path: string): boolean {
  return existsSync(path) && forEachLine(path, () => {}, 0) > 0;
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
    appendFileSync(`${path}.torn`, Buffer.concat([torn, Buffer.from('\n')]));
    ftruncateSync(fd, keep);
  } finally {
    closeSync(fd);
  }
}
