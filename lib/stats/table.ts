// The top rows of a ranking as text: printed by `stats` and `find-otd-latents` (summary.md writes them with io/markdown.ts).
import type { FindResult } from './detectors.ts';

const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2)) : String(x);

export const RANK_HEADER = [
  'rank',
  'latent',
  'freq_a',
  'freq_b',
  'mean_a',
  'mean_b',
  'cohens_d',
  'auc',
  'q_bh',
  'selected',
];

/** Rows (under RANK_HEADER) of the `n` top-ranked latents: rank, latent, frequency and mean per group, d, AUC, q, selected. */
export function topRows(r: FindResult, n: number): string[][] {
  const s = r.stats;
  const rows: string[][] = [];
  for (let i = 0; i < Math.min(n, r.order.length); i++) {
    const l = r.order[i];
    rows.push([
      String(i + 1),
      String(l),
      fmt(s.freq_a[l]),
      fmt(s.freq_b[l]),
      fmt(s.mean_a[l]),
      fmt(s.mean_b[l]),
      fmt(s.cohens_d[l]),
      fmt(s.auc[l]),
      fmt(s.q_bh[l]),
      r.selected[l] ? 'yes' : '',
    ]);
  }
  return rows;
}

/** Header + rows as aligned columns; a last `label` column (when `labels`) is left-aligned. */
export function tableText(rows: string[][], labels = false): string {
  const last = labels ? rows[0].length - 1 : rows[0].length;
  return rows
    .map((row) => row.map((c, i) => (i < last ? c.padStart(Math.max(9, rows[0][i].length + 1)) : `  ${c}`)).join(''))
    .join('\n');
}
