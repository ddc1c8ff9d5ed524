// Hypothesis tests matching scipy.stats defaults: mannwhitneyu, wilcoxon, ttest_ind(equal_var=False), ttest_rel.
import { type Alternative, normalSf, pFromSymmetric, tSf } from './dists.ts';
import { mwuExactSf, wilcoxonNullPmf } from './exact.ts';
import { rankAverage } from './rank.ts';

export interface TestResult {
  statistic: number;
  p: number;
}

export type MwuMethod = 'auto' | 'exact' | 'asymptotic';

/** scipy's rule for method='auto': exact when one sample has at most 8 values and nothing is tied. */
function mwuChooseMethod(n1: number, n2: number, hasTies: boolean): 'exact' | 'asymptotic' {
  return (n1 > 8 && n2 > 8) || hasTies ? 'asymptotic' : 'exact';
}

/**
 * p-value of Mann–Whitney U1 (the U of the first sample) given the tie term Σ(t³ − t) of the pooled
 * ranks; the asymptotic branch uses the tie-corrected variance and a continuity correction of ½.
 */
export function mwuPValue(
  u1: number,
  n1: number,
  n2: number,
  tieTerm: number,
  alternative: Alternative = 'two-sided',
  method: MwuMethod = 'auto',
  continuity = true,
): number {
  const u2 = n1 * n2 - u1;
  const [u, factor] = alternative === 'greater' ? [u1, 1] : alternative === 'less' ? [u2, 1] : [Math.max(u1, u2), 2];
  const chosen = method === 'auto' ? mwuChooseMethod(n1, n2, tieTerm > 0) : method;
  let p: number;
  if (chosen === 'exact') {
    p = mwuExactSf(Math.round(u), n1, n2);
  } else {
    const n = n1 + n2;
    const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
    const z = (u - (n1 * n2) / 2 - (continuity ? 0.5 : 0)) / s;
    p = normalSf(z);
  }
  return Math.min(1, Math.max(0, p * factor));
}

/** scipy.stats.mannwhitneyu(x, y) with its defaults; statistic is U of x. */
export function mannWhitneyU(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  alternative: Alternative = 'two-sided',
  method: MwuMethod = 'auto',
): TestResult {
  const n1 = x.length;
  const n2 = y.length;
  const { ranks, tieTerm } = rankAverage([...Array.from(x), ...Array.from(y)]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  return { statistic: u1, p: mwuPValue(u1, n1, n2, tieTerm, alternative, method) };
}

/**
 * scipy.stats.wilcoxon(x, y) with its defaults (zero_method 'wilcox', no continuity correction,
 * method 'auto'): exact for n ≤ 50 without ties or zeros; exhaustive sign-flip permutation for n ≤ 13
 * otherwise; normal approximation with tie correction beyond. Statistic: min(T+, T−) two-sided, else T+.
 */
export function wilcoxon(
  x: ArrayLike<number>,
  y?: ArrayLike<number>,
  alternative: Alternative = 'two-sided',
): TestResult {
  const d = Float64Array.from({ length: x.length }, (_, i) => x[i] - (y ? y[i] : 0));
  if (y && y.length !== x.length)
    throw new Error(`wilcoxon: paired samples differ in length (${x.length} vs ${y.length})`);
  const nonzero = d.filter((v) => v !== 0 && !Number.isNaN(v));
  const nZero = d.length - nonzero.length;
  const count = nonzero.length;
  const { ranks, tieTerm } = rankAverage(nonzero.map(Math.abs));
  let rPlus = 0;
  let rMinus = 0;
  for (let i = 0; i < count; i++) nonzero[i] > 0 ? (rPlus += ranks[i]) : (rMinus += ranks[i]);
  const statistic = alternative === 'two-sided' ? Math.min(rPlus, rMinus) : rPlus;
  if (count === 0) return { statistic, p: NaN };
  const hasTies = tieTerm > 0;
  let p: number;
  if (d.length <= 50 && !hasTies && nZero === 0) {
    p = wilcoxonExactP(rPlus, count, alternative);
  } else if (d.length <= 13) {
    p = signFlipExactP(ranks, nonzero, rPlus, alternative);
  } else {
    const mn = (count * (count + 1)) / 4;
    const se = Math.sqrt((count * (count + 1) * (2 * count + 1) - tieTerm / 2) / 24);
    p = pFromSymmetric((rPlus - mn) / se, normalSf, alternative);
  }
  return { statistic, p };
}

function wilcoxonExactP(rPlus: number, n: number, alternative: Alternative): number {
  const pmf = wilcoxonNullPmf(n);
  const cdf = (k: number): number => {
    let s = 0;
    for (let i = 0; i <= Math.min(k, pmf.length - 1); i++) s += pmf[i];
    return s;
  };
  const sf = (k: number): number => {
    let s = 0;
    for (let i = Math.max(0, k); i < pmf.length; i++) s += pmf[i];
    return s;
  };
  if (alternative === 'less') return cdf(Math.ceil(rPlus));
  if (alternative === 'greater') return sf(Math.floor(rPlus));
  return Math.min(1, 2 * Math.min(sf(Math.floor(rPlus)), cdf(Math.ceil(rPlus))));
}

/** Every sign assignment of the non-zero differences (zeros contribute to no side), as scipy's permutation_test. */
function signFlipExactP(
  ranks: Float64Array,
  nonzero: Float64Array,
  observed: number,
  alternative: Alternative,
): number {
  const n = nonzero.length;
  const total = 2 ** n;
  const gamma = Math.abs(observed) * 2.220446049250313e-14; // scipy's tolerance: 100·eps relative
  let le = 0;
  let ge = 0;
  for (let mask = 0; mask < total; mask++) {
    let t = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) t += ranks[i];
    if (t <= observed + gamma) le++;
    if (t >= observed - gamma) ge++;
  }
  // zeros double the count of identical assignments without changing proportions
  if (alternative === 'less') return le / total;
  if (alternative === 'greater') return ge / total;
  return Math.min(1, (2 * Math.min(le, ge)) / total);
}

export interface WelchResult extends TestResult {
  df: number;
}

/** Welch's t from group moments (unbiased variances); scipy.stats.ttest_ind(equal_var=False). */
export function welchFromMoments(
  mean1: number,
  var1: number,
  n1: number,
  mean2: number,
  var2: number,
  n2: number,
  alternative: Alternative = 'two-sided',
): WelchResult {
  const v1 = var1 / n1;
  const v2 = var2 / n2;
  const se = Math.sqrt(v1 + v2);
  const t = (mean1 - mean2) / se;
  const df = ((v1 + v2) * (v1 + v2)) / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1));
  return { statistic: t, df, p: pFromSymmetric(t, (s) => tSf(s, df), alternative) };
}

function meanVar(x: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const mean = sum / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - mean) ** 2;
  return { mean, variance: ss / (x.length - 1) };
}

export function welchT(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  alternative: Alternative = 'two-sided',
): WelchResult {
  const a = meanVar(x);
  const b = meanVar(y);
  return welchFromMoments(a.mean, a.variance, x.length, b.mean, b.variance, y.length, alternative);
}

/** scipy.stats.ttest_rel(x, y): one-sample t on the paired differences, df = n − 1. */
export function pairedT(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  alternative: Alternative = 'two-sided',
): WelchResult {
  if (x.length !== y.length) throw new Error(`pairedT: paired samples differ in length (${x.length} vs ${y.length})`);
  const d = Float64Array.from({ length: x.length }, (_, i) => x[i] - y[i]);
  const { mean, variance } = meanVar(d);
  const df = d.length - 1;
  const t = mean / Math.sqrt(variance / d.length);
  return { statistic: t, df, p: pFromSymmetric(t, (s) => tSf(s, df), alternative) };
}
