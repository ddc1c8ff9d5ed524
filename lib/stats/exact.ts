// Exact null distributions of rank statistics (no ties), as probability mass arrays.

/**
 * Null pmf of the Mann–Whitney U statistic for samples of sizes n1, n2 without ties: the
 * coefficients of the Gaussian binomial [n1+n2 choose m]_q, m = min(n1, n2), normalised.
 * Built as ∏_{j=1..m} (1 − q^{n+j}) / (1 − q^j), dividing right after each multiply so every
 * intermediate is again a polynomial with non-negative coefficients.
 */
function mwuNullPmf(n1: number, n2: number): Float64Array {
  const m = Math.min(n1, n2);
  const n = Math.max(n1, n2);
  const maxU = m * n;
  let poly = new Float64Array(maxU + 1);
  poly[0] = 1;
  let degree = 0;
  for (let j = 1; j <= m; j++) {
    const shift = n + j;
    const next = new Float64Array(maxU + 1);
    // multiply by (1 − q^shift)
    for (let k = 0; k <= degree + shift && k <= maxU; k++)
      next[k] = (k <= degree ? poly[k] : 0) - (k >= shift ? poly[k - shift] : 0);
    degree = Math.min(maxU, degree + shift);
    // divide by (1 − q^j): b[k] = a[k] + b[k − j]
    for (let k = j; k <= degree; k++) next[k] += next[k - j];
    degree -= j;
    poly = next;
  }
  let total = 0;
  for (let k = 0; k <= maxU; k++) total += poly[k];
  for (let k = 0; k <= maxU; k++) poly[k] /= total;
  return poly;
}

/** P(U ≥ u) under the null, summing the shorter side by symmetry (as scipy's `_MWU.sf`). */
export function mwuExactSf(u: number, n1: number, n2: number): number {
  const pmf = mwuNullPmf(n1, n2);
  const maxU = n1 * n2;
  const kc = maxU - u;
  if (u < kc) {
    // sf(u) = 1 − cdf(u) + pmf(u) = 1 − cdf(u − 1)
    let cdf = 0;
    for (let k = 0; k <= u; k++) cdf += pmf[k];
    return 1 - cdf + pmf[u];
  }
  let cdf = 0;
  for (let k = 0; k <= kc; k++) cdf += pmf[k];
  return cdf;
}

const wilcoxonCache = new Map<number, Float64Array>();

/** Null pmf of the Wilcoxon signed-rank statistic T+ for n untied, non-zero differences. */
export function wilcoxonNullPmf(n: number): Float64Array {
  const cached = wilcoxonCache.get(n);
  if (cached) return cached;
  const maxT = (n * (n + 1)) / 2;
  // counts of subsets of {1..n} by their sum; exact in float64 up to n ≈ 50 (2^50 < 2^53)
  const counts = new Float64Array(maxT + 1);
  counts[0] = 1;
  for (let r = 1; r <= n; r++) for (let s = (r * (r + 1)) / 2; s >= r; s--) counts[s] += counts[s - r];
  const total = 2 ** n;
  for (let s = 0; s <= maxT; s++) counts[s] /= total;
  wilcoxonCache.set(n, counts);
  return counts;
}
