// The top rows of a ranking as text: printed by `stats` and `find-otd-latents`, and written to summary.md.
import type { FindResult } from './detectors.ts';

const fmt = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2)) : String(x));

const HEADER = ['rank', 'latent', 'freq_a', 'freq_b', 'mean_a', 'mean_b', 'cohens_d', 'auc', 'q_bh', 'selected'];

/** Rows of the `n` top-ranked latents: rank, latent, frequency and mean per group, d, AUC, q, selected (+ label). */
export function topRows(r: FindResult, n: number, labels?: Map<number, string>): string[][] {
  const s = r.stats;
  const rows: string[][] = [];
  for (let i = 0; i < Math.min(n, r.order.length); i++) {
    const l = r.order[i];
    const row = [String(i + 1), String(l), fmt(s.freq_a[l]), fmt(s.freq_b[l]), fmt(s.mean_a[l]), fmt(s.mean_b[l]), fmt(s.cohens_d[l]), fmt(s.auc[l]), fmt(s.q_bh[l]), r.selected[l] ? 'yes' : ''];
    if (labels) row.push(labels.get(l) ?? '');
    rows.push(row);
  }
  return rows;
}

export function topTableText(r: FindResult, n: number, labels?: Map<number, string>): string {
  const header = labels ? [...HEADER, 'label'] : HEADER;
  return [header, ...topRows(r, n, labels)].map((row) => row.map((c, i) => (i < 10 ? c.padStart(9) : `  ${c}`)).join('')).join('\n');
}

export function topTableMarkdown(r: FindResult, n: number, labels?: Map<number, string>): string {
  const header = labels ? [...HEADER, 'label'] : HEADER;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...topRows(r, n, labels).map(line)].join('\n');
}
