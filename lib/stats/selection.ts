// Detector selection rules and the ranking of all latents.
import type { DiffStats } from './differential.ts';

export type SelectionMethod = 'frequency' | 'separability' | 'effect';

export interface SelectionCriterion {
  method: SelectionMethod;
  /** frequency: minimum share of group-a samples where the latent is non-zero (zero on every b sample). */
  min_freq_a?: number;
  /** effect: BH q-value bound (strict) and Cohen's d bound (strict). */
  alpha?: number;
  min_d?: number;
}

export const DEFAULT_CRITERIA: Record<SelectionMethod, SelectionCriterion> = {
  frequency: { method: 'frequency', min_freq_a: 0.8 },
  separability: { method: 'separability' },
  effect: { method: 'effect', alpha: 0.05, min_d: 0.8 },
};

/** Fills in the defaults of a rule's parameters so outputs record every value used. */
export function resolveCriterion(
  method: SelectionMethod,
  overrides: Partial<SelectionCriterion> = {},
): SelectionCriterion {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_CRITERIA[method], ...defined, method };
}

/** 1 where latent l passes the rule. */
export function select(s: DiffStats, c: SelectionCriterion): Uint8Array {
  const d = s.auc.length;
  const out = new Uint8Array(d);
  for (let l = 0; l < d; l++) {
    if (c.method === 'frequency')
      out[l] = s.nnz_b[l] === 0 && s.freq_a[l] >= (c.min_freq_a ?? 0.8) && s.nnz_a[l] > 0 ? 1 : 0;
    else if (c.method === 'separability') out[l] = s.auc[l] === 1 ? 1 : 0;
    else out[l] = s.q_bh[l] < (c.alpha ?? 0.05) && s.cohens_d[l] > (c.min_d ?? 0.8) ? 1 : 0;
  }
  return out;
}

export type RankKey =
  | 'auc'
  | 'cohens_d'
  | 'hedges_g'
  | 'cliffs_delta'
  | 'mean_diff'
  | 'freq_a'
  | 'welch_t'
  | 'q_bh'
  | 'p_mwu';
export const RANK_KEYS: RankKey[] = [
  'auc',
  'cohens_d',
  'hedges_g',
  'cliffs_delta',
  'mean_diff',
  'freq_a',
  'welch_t',
  'q_bh',
  'p_mwu',
];

/** NaN sorts last whatever the direction. */
const keyValue = (x: number, descending: boolean): number => (Number.isNaN(x) ? Infinity : descending ? -x : x);
const cmp = (x: number, y: number): number => (x < y ? -1 : x > y ? 1 : 0);

/**
 * Latent indices in rank order: by `key` (descending, or ascending for p/q-values), ties broken by
 * Cohen's d descending, then by latent index, so the order is fully determined.
 */
export function rankLatents(s: DiffStats, key: RankKey = 'auc'): Int32Array {
  const primary = s[key];
  const descending = key !== 'q_bh' && key !== 'p_mwu';
  const order = Int32Array.from({ length: primary.length }, (_, i) => i);
  return order.sort(
    (i, j) =>
      cmp(keyValue(primary[i], descending), keyValue(primary[j], descending)) ||
      cmp(keyValue(s.cohens_d[i], true), keyValue(s.cohens_d[j], true)) ||
      i - j,
  );
}

/** How often each latent is selected across several derangements' statistics (0–1 per latent). */
export function selectionFrequency(perDerangement: DiffStats[], c: SelectionCriterion): Float64Array {
  if (perDerangement.length === 0) throw new RangeError('selectionFrequency: no derangements given');
  const freq = new Float64Array(perDerangement[0].auc.length);
  for (const s of perDerangement) select(s, c).forEach((on, l) => (freq[l] += on));
  return freq.map((x) => x / perDerangement.length);
}
