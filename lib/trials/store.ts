import { appendFileSync, closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { jsonlRecords } from '../io/lines.ts';
import type { Trial } from './types.ts';

const REQUIRED: (keyof Trial)[] = ['id', 'feature', 'prompt', 'seed', 'condition', 'response'];

/**
 * Reads a trial store (JSONL). A final line without its newline is a write cut short by a kill: it is
 * ignored (and will be redone). Any other malformed line is an error naming the file and line.
 */
export function readTrials(path: string): Trial[] {
  if (!existsSync(path)) throw new InputError(`${path}: trial store not found`);
  const text = readFileSync(path, 'utf8');
  // Only lines ending in a newline are records; anything after the last newline is a torn write.
  const trials: Trial[] = [];
  for (const { value, where } of jsonlRecords(text.slice(0, text.lastIndexOf('\n') + 1), path)) {
    const t = value as Trial;
    for (const field of REQUIRED) {
      if (t[field] === undefined) throw new InputError(`${where}: field ${field} is missing`);
    }
    trials.push(t);
  }
  return trials;
}

/** Appends one trial as one line and flushes it to disk before returning. */
export function appendTrial(path: string, trial: Trial): void {
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, JSON.stringify(trial) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Drops a torn last line (a write cut short by a kill) so appends start on a clean line. */
export function repairTornTail(path: string): void {
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  if (text === '' || text.endsWith('\n')) return;
  const keep = text.slice(0, text.lastIndexOf('\n') + 1);
  appendFileSync(path + '.torn', text.slice(keep.length) + '\n');
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, Buffer.byteLength(keep));
  } finally {
    closeSync(fd);
  }
}
