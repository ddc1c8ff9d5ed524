// Detector selection rules and the ranking of all latents. The rules read per-sample statistics, so with
// one off-topic sample per prompt (K = 1) they are the paper's.
import type { DiffStats } from './differential.ts';

export type SelectionMethod = 'frequency' | 'separability' | 'effect';
/** Benjamini–Hochberg, or Benjamini–Yekutieli (valid under any dependence between latents). */
export type FdrMethod = 'bh' | 'by';
export const FDR_METHODS: FdrMethod[] = ['bh', 'by'];

export interface SelectionCriterion {
  method: SelectionMethod;
  /** frequency: minimum share of group-a samples where the latent is non-zero (zero on every b sample). */
  min_freq_a?: number;
  /** effect: q-value bound (strict) and Cohen's d bound (strict); `fdr` names the q (q_bh or q_by). */
  alpha?: number;
  min_d?: number;
  fdr?: FdrMethod;
}

export const DEFAULT_CRITERIA: Record<SelectionMethod, SelectionCriterion> = {
  frequency: { method: 'frequency', min_freq_a: 0.8 },
  separability: { method: 'separability' },
  effect: { method: 'effect', alpha: 0.05, min_d: 0.8, fdr: 'bh' },
};

/** Fills in the defaults of a rule's parameters so outputs record every value used. */
export function resolveCriterion(
  method: SelectionMethod,
  overrides: Partial<SelectionCriterion> = {},
): SelectionCriterion {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_CRITERIA[method], ...defined, method };
}

/**
 * 1 where latent l passes the rule, each defined per sample: frequency = non-zero on ≥ min_freq_a of
 * the group-a samples and on no group-b sample; separability = every group-a sample above every group-b
 * sample (per-sample AUC = 1, which implies it within every prompt); effect = q < alpha (the test's
 * q_bh, or q_by) and Cohen's d (per-sample SD) > min_d.
 */
export function select(s: DiffStats, c: SelectionCriterion): Uint8Array {
  const d = s.auc.length;
  const out = new Uint8Array(d);
  const q = c.fdr === 'by' ? s.q_by : s.q_bh;
  for (let l = 0; l < d; l++) {
    if (c.method === 'frequency')
      out[l] = s.nnz_b[l] === 0 && s.freq_a[l] >= (c.min_freq_a ?? 0.8) && s.nnz_a[l] > 0 ? 1 : 0;
    else if (c.method === 'separability') out[l] = s.auc[l] === 1 ? 1 : 0;
    else out[l] = q[l] < (c.alpha ?? 0.05) && s.cohens_d[l] > (c.min_d ?? 0.8) ? 1 : 0;
  }
  return out;
}

/** `evidence` = the test's p-value (p_strat, or p_mwu with the per-sample test), ascending. */
export type RankKey =
  | 'evidence'
  | 'strat_auc'
  | 'p_strat'
  | 'auc'
  | 'cohens_d'
  | 'hedges_g'
  | 'cliffs_delta'
  | 'mean_diff'
  | 'freq_a'
  | 'welch_t'
  | 'q_bh'
  | 'q_by'
  | 'p_mwu';
export const RANK_KEYS: RankKey[] = [
  'evidence',
  'strat_auc',
  'p_strat',
  'auc',
  'cohens_d',
  'hedges_g',
  'cliffs_delta',
  'mean_diff',
  'freq_a',
  'welch_t',
  'q_bh',
  'q_by',
  'p_mwu',
];
const ASCENDING: readonly RankKey[] = ['evidence', 'p_strat', 'q_bh', 'q_by', 'p_mwu'];

/** NaN sorts last whatever the direction. */
const keyValue = (x: number, descending: boolean): number => (Number.isNaN(x) ? Infinity : descending ? -x : x);
const cmp = (x: number, y: number): number => (x < y ? -1 : x > y ? 1 : 0);

/** The effect size that goes with the test: strat_auc for the within-prompt test, AUC for the per-sample one. */
export const effectOf = (s: DiffStats): Float64Array => (s.tested === 'p_strat' ? s.strat_auc : s.auc);

/**
 * Latent indices in rank order: by `key` (descending, or ascending for p/q-values), ties broken by the
 * test's effect (strat_auc, or AUC with the per-sample test) descending, then Cohen's d descending, then
 * latent index, so the order is fully determined.
 */
export function rankLatents(s: DiffStats, key: RankKey = 'evidence'): Int32Array {
  const primary = key === 'evidence' ? s[s.tested] : s[key];
  const descending = !ASCENDING.includes(key);
  const effect = effectOf(s);
  const order = Int32Array.from({ length: primary.length }, (_, i) => i);
  return order.sort(
    (i, j) =>
      cmp(keyValue(primary[i], descending), keyValue(primary[j], descending)) ||
      cmp(keyValue(effect[i], true), keyValue(effect[j], true)) ||
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
