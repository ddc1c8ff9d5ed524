// The null distribution of the within-prompt (stratified) rank statistic S = Σ_i U_i and its p-value.
// Row i holds one group-b value (on-topic) and K_i group-a values (off-topic); U_i counts, over the K_i
// group-a values, 2 for each above the group-b value and 1 for each tie. Under the null, which of the
// K_i + 1 values is the group-b one is uniform and independent across rows, so row i's U_i is uniform
// over U_i^(m), the statistic computed as if value m were the group-b one. Constant rows (all values
// equal) always give U = K_i and are left out; the p-value convolves the informative rows' distributions.
import { type Alternative, normalCdf, normalSf } from './dists.ts';

/**
 * Exact convolution when (support width of S) × (support points of all convolution factors), a bound on
 * its multiply-adds, is at most this (tens of milliseconds); beyond it, the normal approximation. For
 * K = 5 that is exact up to about 530 prompts whose values take three or more distinct values (rows
 * with two distinct values, e.g. one non-zero value, enter as one binomial per shape and cost little);
 * docs/stats.md "The stratified test" gives the measured accuracy at the switch.
 */
export const EXACT_BUDGET = 1 << 24;

const gcd = (a: number, b: number): number => {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
};

/** pmf of Binomial(m, q) for b = 0..m into out[0..m] (log-space recurrence: no overflow for large m). */
function binomialPmf(m: number, q: number, out: Float64Array): void {
  const logRatio = Math.log(q) - Math.log1p(-q);
  let log = m * Math.log1p(-q);
  out[0] = Math.exp(log);
  for (let b = 0; b < m; b++) {
    log += Math.log((m - b) / (b + 1)) + logRatio;
    out[b + 1] = Math.exp(log);
  }
}

export interface StratP {
  p: number;
  /** False where the normal approximation was used. */
  exact: boolean;
}

/**
 * The informative rows of one latent, added one at a time, then `pValue`. Rows whose values take only
 * two distinct values (every row with a single non-zero value, and every informative row at K = 1) are
 * two-point distributions; rows of the same shape are counted together and enter as one binomial.
 * Other rows are kept as (value, multiplicity) lists. Reused across latents with `reset`.
 */
export class StratNull {
  /** Two-point shapes: key cA·(2^15) + cB → number of rows (cA = count of the lower value, cB of the higher). */
  private readonly shapes = new Map<number, number>();
  private genU: Int32Array = new Int32Array(64);
  private genW: Int32Array = new Int32Array(64);
  private genStart: number[] = [0];
  private genDen: number[] = [];
  private genLen = 0;
  private bufA: Float64Array = new Float64Array(1024);
  private bufB: Float64Array = new Float64Array(1024);
  private binom: Float64Array = new Float64Array(64);
  /** Observed Σ U over informative rows, its null mean and variance, the lattice step, the support. */
  observed = 0;
  private mean = 0;
  private variance = 0;
  private step = 0;
  private lo = 0;
  private hi = 0;
  rows = 0;

  reset(): void {
    this.shapes.clear();
    this.genStart.length = 1;
    this.genDen.length = 0;
    this.genLen = 0;
    this.observed = this.mean = this.variance = this.step = this.lo = this.hi = this.rows = 0;
  }

  /**
   * A row whose K + 1 values take two distinct values, cA times the lower one and cB times the higher;
   * `onLower` says whether the group-b value is the lower one. U = 2·cB + cA − 1 when it is, else cB − 1.
   */
  addTwoPoint(cA: number, cB: number, onLower: boolean): number {
    const k = cA + cB - 1;
    const uLo = cB - 1;
    const uHi = 2 * cB + cA - 1;
    const u = onLower ? uHi : uLo;
    const key = cA * 32768 + cB;
    this.shapes.set(key, (this.shapes.get(key) ?? 0) + 1);
    this.observed += u;
    this.mean += k;
    this.variance += cA * cB;
    this.step = gcd(this.step, k + 1);
    this.lo += uLo;
    this.hi += uHi;
    this.rows++;
    return u;
  }

  /**
   * A row of K + 1 values (index 0 = the group-b value), `sorted` = the same values ascending. Returns
   * the row's U, or −1 for a constant row (nothing added).
   */
  addRow(values: ArrayLike<number>, sorted: ArrayLike<number>): number {
    const n = sorted.length;
    if (sorted[0] === sorted[n - 1]) return -1;
    const k = n - 1;
    let u = 0;
    let distinct = 0;
    let start = this.genLen;
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && sorted[j] === sorted[i]) j++;
      distinct++;
      i = j;
    }
    if (distinct === 2) {
      let cA = 1;
      while (sorted[cA] === sorted[0]) cA++;
      return this.addTwoPoint(cA, n - cA, values[0] === sorted[0]);
    }
    if (this.genU.length < start + distinct) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(2 * (start + distinct));
        b.set(a);
        return b;
      };
      this.genU = grow(this.genU);
      this.genW = grow(this.genW);
    }
    let uMin = Infinity;
    let uMax = -Infinity;
    let sq = 0;
    let anchor = 0; // the lattice step is the gcd of differences between the row's values
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && sorted[j] === sorted[i]) j++;
      const t = j - i;
      const ui = 2 * (n - j) + t - 1;
      if (sorted[i] === values[0]) u = ui;
      this.genU[start] = ui;
      this.genW[start++] = t;
      sq += t * (ui - k) ** 2;
      if (i === 0) anchor = ui;
      this.step = gcd(this.step, ui - anchor);
      uMin = Math.min(uMin, ui);
      uMax = Math.max(uMax, ui);
      i = j;
    }
    this.genLen = start;
    this.genStart.push(start);
    this.genDen.push(n);
    this.observed += u;
    this.mean += k;
    this.variance += sq / n;
    this.lo += uMin;
    this.hi += uMax;
    this.rows++;
    return u;
  }

  /** Exact when the convolution fits EXACT_BUDGET (or `forceExact`), else normal with continuity correction. */
  pValue(alternative: Alternative, forceExact = false): StratP {
    if (this.rows === 0) return { p: 1, exact: true };
    const width = this.hi - this.lo;
    let points = this.genLen;
    for (const m of this.shapes.values()) points += m + 1;
    if (!forceExact && width * points > EXACT_BUDGET) return { p: this.normalP(alternative), exact: false };
    const pmf = this.convolve(width);
    const t = this.observed - this.lo;
    let ge = 0;
    let le = 0;
    // sum each tail from its far end, so small tails keep their relative precision
    if (alternative !== 'less') for (let i = width; i >= t; i--) ge += pmf[i];
    if (alternative !== 'greater') for (let i = 0; i <= t; i++) le += pmf[i];
    const p = alternative === 'greater' ? ge : alternative === 'less' ? le : 2 * Math.min(ge, le);
    return { p: Math.min(1, p), exact: true };
  }

  /** Null mean and variance of Σ U over the informative rows, and the step of the lattice it lives on. */
  moments(): { mean: number; variance: number; step: number } {
    return { mean: this.mean, variance: this.variance, step: this.step };
  }

  /** Normal approximation: exact null mean Σ K_i and variance, continuity correction of half the lattice step. */
  private normalP(alternative: Alternative): number {
    const sd = Math.sqrt(this.variance);
    const half = this.step / 2;
    const ge = normalSf((this.observed - half - this.mean) / sd);
    const le = normalCdf((this.observed + half - this.mean) / sd);
    const p = alternative === 'greater' ? ge : alternative === 'less' ? le : 2 * Math.min(ge, le);
    return Math.min(1, p);
  }

  /** The pmf of S − lo over 0..width. */
  private convolve(width: number): Float64Array {
    if (this.bufA.length <= width) {
      this.bufA = new Float64Array(2 * (width + 1));
      this.bufB = new Float64Array(2 * (width + 1));
    }
    let cur = this.bufA;
    let next = this.bufB;
    cur[0] = 1;
    let w = 0;
    for (const [key, m] of this.shapes) {
      const cA = Math.floor(key / 32768);
      const cB = key - cA * 32768;
      const span = cA + cB; // U_hi − U_lo = K + 1
      if (this.binom.length <= m) this.binom = new Float64Array(2 * (m + 1));
      binomialPmf(m, cA / span, this.binom);
      const nw = w + m * span;
      next.fill(0, 0, nw + 1);
      for (let i = 0; i <= w; i++) {
        const x = cur[i];
        if (x === 0) continue;
        for (let b = 0; b <= m; b++) next[i + b * span] += x * this.binom[b];
      }
      [cur, next] = [next, cur];
      w = nw;
    }
    for (let g = 0; g < this.genDen.length; g++) {
      const s = this.genStart[g];
      const e = this.genStart[g + 1];
      let uMin = Infinity;
      let uMax = -Infinity;
      for (let j = s; j < e; j++) (uMin = Math.min(uMin, this.genU[j])), (uMax = Math.max(uMax, this.genU[j]));
      const nw = w + uMax - uMin;
      next.fill(0, 0, nw + 1);
      const den = this.genDen[g];
      for (let j = s; j < e; j++) {
        const off = this.genU[j] - uMin;
        const pr = this.genW[j] / den;
        for (let i = 0; i <= w; i++) next[i + off] += cur[i] * pr;
      }
      [cur, next] = [next, cur];
      w = nw;
    }
    return cur;
  }
}
