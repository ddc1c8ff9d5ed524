// Run directories under runs/: naming, finding the latest, reading labels.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { indexLabelRows } from '../io/lines.ts';

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
  for (const row of indexLabelRows(readFileSync(path, 'utf8'), path)) if (row.label !== null) labels.set(row.index, row.label);
  return labels;
}
