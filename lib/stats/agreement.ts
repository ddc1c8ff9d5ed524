// Agreement between two raters: Cohen's κ for binary labels, Pearson and Spearman correlation for scores.
import { rankAverage } from './rank.ts';

export interface BinaryAgreement {
  n: number;
  /** Share of items both raters label alike (0–1). */
  agreement: number;
  /** Cohen's κ = (p_o − p_e)/(1 − p_e); null when p_e = 1 (both raters constant and equal: undefined). */
  kappa: number | null;
  /** Share labelled 1 by each rater. */
  rate_a: number;
  rate_b: number;
  /** Counts [a0b0, a0b1, a1b0, a1b1]. */
  table: [number, number, number, number];
}

export function cohenKappa(a: readonly boolean[], b: readonly boolean[]): BinaryAgreement {
  if (a.length !== b.length) throw new RangeError(`cohenKappa: ${a.length} vs ${b.length} labels`);
  const n = a.length;
  const table: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) table[(a[i] ? 2 : 0) + (b[i] ? 1 : 0)]++;
  const po = (table[0] + table[3]) / n;
  const ra = (table[2] + table[3]) / n;
  const rb = (table[1] + table[3]) / n;
  const pe = ra * rb + (1 - ra) * (1 - rb);
  return { n, agreement: po, kappa: pe === 1 ? null : (po - pe) / (1 - pe), rate_a: ra, rate_b: rb, table };
}

/** Pearson's r; null when either side is constant or n < 2. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: ${n} vs ${y.length} values`);
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Spearman's ρ: Pearson's r of average ranks (scipy's spearmanr). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  return pearson(rankAverage(x).ranks, rankAverage(y).ranks);
}
