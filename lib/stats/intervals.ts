// Intervals for a single proportion, and the paper's Wald intervals for comparison.
import { betaQuantile, normalQuantile } from './dists.ts';

export type Interval = [number, number];

const zOf = (level: number): number => normalQuantile(1 - (1 - level) / 2);

/** Wilson score interval (no continuity correction), as scipy's binomtest(k, n).proportion_ci('wilson'). */
export function wilson(k: number, n: number, level = 0.95): Interval {
  if (n === 0) return [NaN, NaN];
  const z = zOf(level);
  const denom = n + z * z;
  const center = (k + (z * z) / 2) / denom;
  const half = (z / denom) * Math.sqrt((k * (n - k)) / n + (z * z) / 4);
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** Clopper–Pearson exact interval, as scipy's binomtest(k, n).proportion_ci('exact'). */
export function clopperPearson(k: number, n: number, level = 0.95): Interval {
  if (n === 0) return [NaN, NaN];
  const a = (1 - level) / 2;
  return [k === 0 ? 0 : betaQuantile(a, k, n - k + 1), k === n ? 1 : betaQuantile(1 - a, k + 1, n - k)];
}

/** The paper's Wald interval p ± z·√(p(1−p)/n), unclipped (as reported there). */
export function waldProportion(k: number, n: number, level = 0.95): Interval {
  const p = k / n;
  const half = zOf(level) * Math.sqrt((p * (1 - p)) / n);
  return [p - half, p + half];
}

/** The paper's ±z·SEM interval for a mean (SEM with the n − 1 standard deviation). */
export function waldMean(values: ArrayLike<number>, level = 0.95): Interval {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const half = zOf(level) * Math.sqrt(ss / (n - 1) / n);
  return [mean - half, mean + half];
}
