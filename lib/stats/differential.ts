// Differential activation of every latent between two groups of samples, from sparse pooled codes.
// Zeros are implicit: each latent's zeros form one tie group, so rank statistics sort only non-zeros.
import { benjaminiHochberg, benjaminiYekutieli, holm, orderOf } from './adjust.ts';
import type { Alternative } from './dists.ts';
import type { PooledCodes } from './sparse.ts';
import { mwuPValue, welchFromMoments } from './tests.ts';

/** Group of each sample: 0 = a (e.g. off_topic), 1 = b (e.g. on_topic), anything else = excluded. */
export type Groups = Uint8Array;

/**
 * Per-latent statistics; every array has length d_sae. Column names follow ranking.arrow. The per-sample
 * columns (freq … cliffs_delta) count every sample; strat_auc, p_strat and n_informative come from the
 * within-prompt test (lib/stats/stratified.ts; NaN, NaN and 0 until it fills them in); q_bh, q_by and
 * p_holm adjust whichever p-value is the test (`tested`).
 */
export interface DiffStats {
  n_a: number;
  n_b: number;
  /** Of p_mwu and p_strat: 'greater' = group a higher. */
  alternative: Alternative;
  /** The p-value column the adjusted ones come from. */
  tested: 'p_mwu' | 'p_strat';
  nnz_a: Int32Array;
  nnz_b: Int32Array;
  freq_a: Float64Array;
  freq_b: Float64Array;
  mean_a: Float64Array;
  mean_b: Float64Array;
  sd_a: Float64Array;
  sd_b: Float64Array;
  max_a: Float64Array;
  max_b: Float64Array;
  mean_diff: Float64Array;
  mean_ratio: Float64Array;
  cohens_d: Float64Array;
  hedges_g: Float64Array;
  auc: Float64Array;
  /** Mann–Whitney U of group a. */
  u: Float64Array;
  /** Per-sample Mann–Whitney p (samples counted as independent), with `alternative`. */
  p_mwu: Float64Array;
  welch_t: Float64Array;
  p_welch: Float64Array;
  cliffs_delta: Float64Array;
  strat_auc: Float64Array;
  p_strat: Float64Array;
  n_informative: Int32Array;
  q_bh: Float64Array;
  q_by: Float64Array;
  p_holm: Float64Array;
  /** Non-zero in at least one sample of either group. */
  active: Uint8Array;
}

/** Transposes the samples of one group into per-latent value lists (CSC). */
function columnsOf(codes: PooledCodes, groups: Groups, which: number): { ptr: Int32Array; vals: Float64Array } {
  const { dSae, indptr, latents, values } = codes;
  const ptr = new Int32Array(dSae + 1);
  for (let r = 0; r < codes.nSamples; r++) {
    if (groups[r] !== which) continue;
    for (let k = indptr[r]; k < indptr[r + 1]; k++) ptr[latents[k] + 1]++;
  }
  for (let l = 0; l < dSae; l++) ptr[l + 1] += ptr[l];
  const fill = ptr.slice(0, dSae);
  const vals = new Float64Array(ptr[dSae]);
  for (let r = 0; r < codes.nSamples; r++) {
    if (groups[r] !== which) continue;
    for (let k = indptr[r]; k < indptr[r + 1]; k++) vals[fill[latents[k]]++] = values[k];
  }
  return { ptr, vals };
}

/** Mean, unbiased variance and max of n values of which only `nz` (non-zeros) are listed. */
function moments(nz: Float64Array, n: number): [number, number, number] {
  let sum = 0;
  let max = nz.length < n ? 0 : -Infinity;
  for (let i = 0; i < nz.length; i++) {
    sum += nz[i];
    if (nz[i] > max) max = nz[i];
  }
  const mean = sum / n;
  let ss = (n - nz.length) * mean * mean;
  for (let i = 0; i < nz.length; i++) ss += (nz[i] - mean) ** 2;
  return [mean, ss / (n - 1), n === 0 ? NaN : max];
}

/**
 * U of group a and the tie term Σ(t³ − t) by merging the sorted non-zeros of both groups with the
 * implicit zero group (za zeros in a, zb in b). Inputs must be sorted ascending.
 */
function sparseU(a: Float64Array, za: number, b: Float64Array, zb: number): [number, number] {
  let i = 0;
  let j = 0;
  let zerosPending = za + zb > 0;
  let bBelow = 0;
  let u = 0;
  let tie = 0;
  while (i < a.length || j < b.length || zerosPending) {
    let v = Infinity;
    if (i < a.length) v = a[i];
    if (j < b.length && b[j] < v) v = b[j];
    if (zerosPending && 0 <= v) v = 0;
    let ca = 0;
    let cb = 0;
    for (; i < a.length && a[i] === v; i++) ca++;
    for (; j < b.length && b[j] === v; j++) cb++;
    if (zerosPending && v === 0) {
      ca += za;
      cb += zb;
      zerosPending = false;
    }
    u += ca * (bBelow + cb / 2);
    bBelow += cb;
    const t = ca + cb;
    tie += t * t * t - t;
  }
  return [u, tie];
}

/**
 * Per-sample statistics of group a (0) vs group b (1) for every latent; q_bh, q_by and p_holm adjust
 * p_mwu over the active latents (`adjust` false leaves that to a caller that adjusts another test).
 */
export function differentialStats(
  codes: PooledCodes,
  groups: Groups,
  alternative: Alternative = 'two-sided',
  adjust = true,
): DiffStats {
  const d = codes.dSae;
  let nA = 0;
  let nB = 0;
  for (let r = 0; r < codes.nSamples; r++) groups[r] === 0 ? nA++ : groups[r] === 1 ? nB++ : 0;
  if (nA < 2 || nB < 2) throw new RangeError(`each group needs at least 2 samples (a: ${nA}, b: ${nB})`);
  const A = columnsOf(codes, groups, 0);
  const B = columnsOf(codes, groups, 1);
  const f64 = (): Float64Array => new Float64Array(d);
  const s: DiffStats = {
    n_a: nA,
    n_b: nB,
    alternative,
    tested: 'p_mwu',
    nnz_a: new Int32Array(d),
    nnz_b: new Int32Array(d),
    freq_a: f64(),
    freq_b: f64(),
    mean_a: f64(),
    mean_b: f64(),
    sd_a: f64(),
    sd_b: f64(),
    max_a: f64(),
    max_b: f64(),
    mean_diff: f64(),
    mean_ratio: f64(),
    cohens_d: f64(),
    hedges_g: f64(),
    auc: f64(),
    u: f64(),
    p_mwu: f64(),
    welch_t: f64(),
    p_welch: f64(),
    cliffs_delta: f64(),
    strat_auc: f64().fill(NaN),
    p_strat: f64().fill(NaN),
    n_informative: new Int32Array(d),
    q_bh: f64(),
    q_by: f64(),
    p_holm: f64(),
    active: new Uint8Array(d),
  };
  const hedgesJ = 1 - 3 / (4 * (nA + nB) - 9);
  for (let l = 0; l < d; l++) {
    const a = A.vals.subarray(A.ptr[l], A.ptr[l + 1]).sort();
    const b = B.vals.subarray(B.ptr[l], B.ptr[l + 1]).sort();
    const [ma, va, xa] = moments(a, nA);
    const [mb, vb, xb] = moments(b, nB);
    s.nnz_a[l] = a.length;
    s.nnz_b[l] = b.length;
    s.freq_a[l] = a.length / nA;
    s.freq_b[l] = b.length / nB;
    s.mean_a[l] = ma;
    s.mean_b[l] = mb;
    s.sd_a[l] = Math.sqrt(va);
    s.sd_b[l] = Math.sqrt(vb);
    s.max_a[l] = xa;
    s.max_b[l] = xb;
    s.mean_diff[l] = ma - mb;
    s.mean_ratio[l] = ma / mb;
    const pooledSd = Math.sqrt(((nA - 1) * va + (nB - 1) * vb) / (nA + nB - 2));
    s.cohens_d[l] = (ma - mb) / pooledSd;
    s.hedges_g[l] = s.cohens_d[l] * hedgesJ;
    const [u, tie] = sparseU(a, nA - a.length, b, nB - b.length);
    s.u[l] = u;
    s.auc[l] = u / (nA * nB);
    s.cliffs_delta[l] = 2 * s.auc[l] - 1;
    s.p_mwu[l] = mwuPValue(u, nA, nB, tie, alternative);
    const w = welchFromMoments(ma, va, nA, mb, vb, nB);
    s.welch_t[l] = w.statistic;
    s.p_welch[l] = w.p;
    s.active[l] = a.length + b.length > 0 ? 1 : 0;
  }
  if (adjust) adjustTested(s, 'p_mwu', s.active);
  return s;
}

/**
 * BH, BY and Holm of the `tested` p-values over the latents marked in `testable` (those that can carry
 * any evidence); every other latent gets q = p_holm = 1.
 */
export function adjustTested(s: DiffStats, tested: DiffStats['tested'], testable: ArrayLike<number>): void {
  const idx: number[] = [];
  for (let l = 0; l < testable.length; l++) if (testable[l]) idx.push(l);
  const p = Float64Array.from(idx, (l) => s[tested][l]);
  const order = orderOf(p);
  const bh = benjaminiHochberg(p, order);
  const adjusted: [Float64Array, Float64Array][] = [
    [s.q_bh, bh],
    [s.q_by, benjaminiYekutieli(p, bh)],
    [s.p_holm, holm(p, order)],
  ];
  for (const [column, values] of adjusted) {
    column.fill(1);
    idx.forEach((l, k) => (column[l] = values[k]));
  }
  s.tested = tested;
}
