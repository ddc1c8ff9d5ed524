// Run directories under runs/: naming, finding the latest, reading labels.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';

export const RUNS_DIR = 'runs';

/** runs/<command>-YYYYmmdd-HHMMSS (UTC). */
export function newRunDir(command: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join(RUNS_DIR, `${command}-${stamp}`);
}

/** The most recent run directory of a command (by name, which sorts by time), optionally only complete ones. */
export function latestRun(command: string, complete?: (dir: string) => boolean): string | null {
  if (!existsSync(RUNS_DIR)) return null;
  const dirs = readdirSync(RUNS_DIR).filter((d) => d.startsWith(`${command}-`)).sort().map((d) => join(RUNS_DIR, d));
  const fit = complete ? dirs.filter(complete) : dirs;
  return fit.length ? fit[fit.length - 1] : null;
}

/** A CSV of `index,label` (a header row is allowed). */
export function readLabels(path: string): Map<number, string> {
  if (!existsSync(path)) throw new InputError(`${path}: labels file not found`);
  const labels = new Map<number, string>();
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const comma = line.indexOf(',');
    const index = Number(line.slice(0, comma));
    if (comma < 0 || !Number.isInteger(index)) {
      if (i === 0) return; // header
      throw new InputError(`${path}:${i + 1}: expected index,label`);
    }
    labels.set(index, line.slice(comma + 1).trim().replace(/^"(.*)"$/, '$1'));
  });
  return labels;
}
