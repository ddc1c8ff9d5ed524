// Run directories under runs/: naming a new one, finding the latest of a command.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where run directories go: runs/ in the working directory, or $ESR_RUNS_DIR (read at each call, so a command
 * run in-process by a test sees the environment it is run with). */
export const runsDir = (): string => process.env.ESR_RUNS_DIR ?? 'runs';

/** <root>/<command>-YYYYmmdd-HHMMSS (UTC); root defaults to runs/. */
export function newRunDir(command: string, now = new Date(), root = runsDir()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return join(root, `${command}-${stamp}`);
}

/** The most recent run directory of a command under root (by name, which sorts by time), optionally only complete ones. */
export function latestRun(command: string, complete?: (dir: string) => boolean, root = runsDir()): string | null {
  if (!existsSync(root)) return null;
  const dirs = readdirSync(root)
    .filter((d) => d.startsWith(`${command}-`))
    .sort()
    .map((d) => join(root, d));
  const fit = complete ? dirs.filter(complete) : dirs;
  return fit.length ? fit[fit.length - 1] : null;
}
