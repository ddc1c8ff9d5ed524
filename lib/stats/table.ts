// The top rows of a ranking as text: printed by `stats` and `find-otd-latents` (summary.md writes them with io/markdown.ts).
import type { FindResult } from './detectors.ts';

const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2)) : String(x);

/** The header of topRows: the test's p column is p_strat (within-prompt test) or p_mwu (per-sample). */
export function rankHeader(r: FindResult): string[] {
  return [
    'rank',
    'latent',
    'strat_auc',
    r.stats.tested,
    'q_bh',
    'auc',
    'cohens_d',
    'freq_a',
    'freq_b',
    'mean_a',
    'mean_b',
    'selected',
  ];
}

/** Rows (under rankHeader) of the `n` top-ranked latents: the test's effect, p and q, then per-sample AUC, d, frequencies, means. */
export function topRows(r: FindResult, n: number): string[][] {
  const s = r.stats;
  const rows: string[][] = [];
  for (let i = 0; i < Math.min(n, r.order.length); i++) {
    const l = r.order[i];
    rows.push([
      String(i + 1),
      String(l),
      fmt(s.strat_auc[l]),
      fmt(s[s.tested][l]),
      fmt(s.q_bh[l]),
      fmt(s.auc[l]),
      fmt(s.cohens_d[l]),
      fmt(s.freq_a[l]),
      fmt(s.freq_b[l]),
      fmt(s.mean_a[l]),
      fmt(s.mean_b[l]),
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
