// --dry-run: what a command would do, before it does any of it — every setting with the value it resolves
// to and where that came from, then the planned work (the command's own count) and a time estimate.
import { renderRefs } from '../errors.ts';
import { bool, custom } from './kinds.ts';
import { type Resolved, showValue, type Table } from './table.ts';

const isPrice = (v: unknown): v is [number, number] =>
  Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);

export const DRY_RUN_SETTINGS = {
  dryRun: bool({
    doc: 'print the resolved settings (each with where its value came from), the planned work and a time estimate from a few timed steps, then stop',
    key: null,
  }),
};

/** A remote judge's price, for the dry run's cost estimate. */
export const JUDGE_PRICE_SETTINGS = {
  judgePrice: custom<[number, number] | null, string>({
    doc: 'judge price IN,OUT per million input and output tokens: the dry run adds the judge cost',
    default: null,
    auto: 'no cost estimate',
    cli: { type: 'string' },
    expected: 'IN,OUT: two prices ≥ 0 per million tokens',
    valid: isPrice,
    parse: (c) => {
      const parts = c.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
      return parts as [number, number];
    },
    show: (v) => (v ? v.join(',') : 'none'),
    key: null,
    requires: { given: ['dryRun'] },
  }),
};

/** One line per setting: its name (as `name` writes it), the value as the command line writes it (— when none), and its origin. */
export function settingsLines<S extends Table>(table: S, r: Resolved<S>, name: (setting: string) => string): string[] {
  const rows = Object.keys(table)
    .filter((n) => !table[n].hidden)
    .map((n) => {
      const v = (r.values as Record<string, unknown>)[n];
      return [name(n), v === undefined ? '—' : renderRefs(showValue(table[n], v), name), r.origins[n]] as const;
    });
  const width = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, v, o]) => `  ${n.padEnd(width)}  ${v}  (${o})`);
}

/** Seconds as the dry run prints them: `45 s`, `12.5 min`, `3.2 h`. */
export function durationText(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
