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
  private readonly window = new TailWindow();
  private binom: Float64Array = new Float64Array(64);
  /** One factor's runs (offsets, strides, lengths, probabilities), grown as needed. */
  private offs: Int32Array = new Int32Array(64);
  private strides: Int32Array = new Int32Array(64);
  private lengths: Int32Array = new Int32Array(64);
  private probs: Float64Array = new Float64Array(64);

  private growRuns(n: number): void {
    this.offs = new Int32Array(2 * n);
    this.strides = new Int32Array(2 * n);
    this.lengths = new Int32Array(2 * n);
    this.probs = new Float64Array(2 * n);
  }
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
   * A row of K + 1 = n values (index 0 = the group-b value), `sorted` = the same values ascending (both
   * may be longer than n). Returns the row's U, or −1 for a constant row (nothing added).
   */
  addRow(values: ArrayLike<number>, sorted: ArrayLike<number>, n = sorted.length): number {
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
    if (this.offs.length < n) this.growRuns(n);
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
    return this.pValueAt(this.observed, alternative, forceExact);
  }

  /** The p-value that an observed Σ U of `total` (over the informative rows) would have. */
  pValueAt(total: number, alternative: Alternative, forceExact = false): StratP {
    if (this.rows === 0) return { p: 1, exact: true };
    const width = this.hi - this.lo;
    let points = this.genLen;
    for (const m of this.shapes.values()) points += m + 1;
    // rows of one two-point shape only (e.g. a sparse latent: one non-zero value per informative prompt)
    // sum to a scaled binomial, whose tails cost O(rows) at any size
    const binomial = this.genLen === 0 && this.shapes.size === 1;
    if (!binomial && !forceExact && width * points > EXACT_BUDGET)
      return { p: this.normalP(total, alternative), exact: false };
    const ge = alternative === 'less' ? 1 : this.tail(total, true);
    const le = alternative === 'greater' ? 1 : this.tail(total, false);
    const p = alternative === 'greater' ? ge : alternative === 'less' ? le : 2 * Math.min(ge, le);
    return { p: Math.min(1, p), exact: true };
  }

  /**
   * The tail of one shape's rows alone: S − lo = span·B with B ~ Binomial(m, cA/span), t in units of
   * the lattice step (= span). Summed from the far end of the tail.
   */
  private binomialTail(t: number, upper: boolean): number {
    const [[key, m]] = this.shapes;
    const cA = Math.floor(key / 32768);
    const span = cA + (key - cA * 32768);
    if (this.binom.length <= m) this.binom = new Float64Array(2 * (m + 1));
    binomialPmf(m, cA / span, this.binom);
    let p = 0;
    if (upper) for (let b = m; b >= t; b--) p += this.binom[b];
    else for (let b = 0; b <= t; b++) p += this.binom[b];
    return p;
  }

  /** Null mean and variance of Σ U over the informative rows, and the step of the lattice it lives on. */
  moments(): { mean: number; variance: number; step: number } {
    return { mean: this.mean, variance: this.variance, step: this.step };
  }

  /** Normal approximation: exact null mean Σ K_i and variance, continuity correction of half the lattice step. */
  private normalP(total: number, alternative: Alternative): number {
    const sd = Math.sqrt(this.variance);
    const half = this.step / 2;
    const ge = normalSf((total - half - this.mean) / sd);
    const le = normalCdf((total + half - this.mean) / sd);
    const p = alternative === 'greater' ? ge : alternative === 'less' ? le : 2 * Math.min(ge, le);
    return Math.min(1, p);
  }

  /**
   * P(S − lo ≥ t) (`upper`) or P(S − lo ≤ t), convolving the factors one at a time but keeping only the
   * partial sums whose fate is still open: a partial sum that the remaining factors' range R can no longer
   * bring across t is dropped (it cannot count) or added to the result (it must count). Only additions of
   * non-negative terms, so small tails keep their relative precision.
   */
  private tail(total: number, upper: boolean): number {
    // every partial sum lies on lo + step·ℤ: work in units of the step (all offsets and t are multiples of it)
    const g = this.step;
    const width = (this.hi - this.lo) / g;
    // a total off the lattice counts as the next lattice point inside the tail
    const t = upper ? Math.ceil((total - this.lo) / g) : Math.floor((total - this.lo) / g);
    if (upper ? t <= 0 : t >= width) return 1;
    if (upper ? t > width : t < 0) return 0;
    if (this.genLen === 0 && this.shapes.size === 1) return this.binomialTail(t, upper);
    const w = this.window;
    w.start(t, upper, width);
    for (const [key, m] of this.shapes) {
      const cA = Math.floor(key / 32768);
      const span = cA + (key - cA * 32768); // U_hi − U_lo = K + 1
      if (this.binom.length <= m) this.binom = new Float64Array(2 * (m + 1));
      if (this.offs.length <= m) this.growRuns(m + 1);
      binomialPmf(m, cA / span, this.binom);
      for (let b = 0; b <= m; b++) {
        this.offs[b] = (b * span) / g;
        this.lengths[b] = 1;
        this.strides[b] = 1;
      }
      if (!w.add(this.offs, this.strides, this.lengths, this.binom, m + 1, (m * span) / g)) return w.done;
    }
    const { offs, strides, lengths, probs } = this;
    for (let r = 0; r < this.genDen.length; r++) {
      // the row's points come by descending U: read them backwards, ascending, and join equally likely,
      // equally spaced neighbours into runs
      const s = this.genStart[r];
      const e = this.genStart[r + 1];
      const uMin = this.genU[e - 1];
      let n = 0;
      for (let j = e - 1; j >= s; j--) {
        const off = (this.genU[j] - uMin) / g;
        const pr = this.genW[j] / this.genDen[r];
        const last = n - 1;
        if (
          n > 0 &&
          probs[last] === pr &&
          (lengths[last] === 1 || off - offs[last] === lengths[last] * strides[last])
        ) {
          if (lengths[last] === 1) strides[last] = off - offs[last];
          lengths[last]++;
          continue;
        }
        offs[n] = off;
        strides[n] = 1;
        lengths[n] = 1;
        probs[n++] = pr;
      }
      if (!w.add(offs, strides, lengths, probs, n, (this.genU[s] - uMin) / g)) return w.done;
    }
    return w.done;
  }
}

/**
 * One tail of a sum of independent lattice variables, adding the variables one at a time and keeping
 * only the partial sums whose fate is still open: a partial sum that the remaining range R can no longer
 * bring across t is dropped (it cannot count) or moved to `done` (it must count). Only additions of
 * non-negative terms, so small tails keep their relative precision.
 */
class TailWindow {
  private cur = new Float64Array(1024);
  private next = new Float64Array(1024);
  private cum = new Float64Array(1024);
  private pre = new Float64Array(64);
  private suf = new Float64Array(64);
  /** The open window [lo, hi] of partial sums (relative to the minimum so far). */
  private lo = 0;
  private hi = 0;
  private remaining = 0;
  private t = 0;
  private upper = true;
  done = 0;

  /** P(S ≥ t) (`upper`) or P(S ≤ t) for a sum S over [0, width]. */
  start(t: number, upper: boolean, width: number): void {
    if (this.cur.length <= width) {
      this.cur = new Float64Array(2 * (width + 1));
      this.next = new Float64Array(2 * (width + 1));
      this.cum = new Float64Array(2 * (width + 1));
    }
    this.cur[0] = 1;
    this.lo = this.hi = 0;
    this.remaining = width;
    this.t = t;
    this.upper = upper;
    this.done = 0;
  }

  /**
   * Adds a variable over [0, range]: `n` runs, run j putting probability probs[j] on each of the
   * lengths[j] points offsets[j] + k·strides[j] (k = 0..lengths[j] − 1). Returns false once every partial
   * sum is settled.
   */
  add(
    offsets: Int32Array,
    strides: Int32Array,
    lengths: Int32Array,
    probs: Float64Array,
    n: number,
    range: number,
  ): boolean {
    const { cur, next, cum, lo, hi, t, upper } = this;
    this.remaining -= range;
    // after this variable a partial sum p is certain when p ≥ t (upper) or p + R ≤ t, impossible when p + R < t or p > t
    const a = upper ? t - this.remaining : t - this.remaining + 1;
    const b = upper ? t - 1 : t;
    const nlo = Math.max(a, 0);
    const nhi = Math.min(b, hi + range);
    // cumulative mass of the open window from the side that becomes certain
    if (upper) {
      cum[hi + 1] = 0;
      for (let i = hi; i >= lo; i--) cum[i] = cum[i + 1] + cur[i];
    } else {
      let c = 0;
      for (let i = lo; i <= hi; i++) cum[i] = c += cur[i];
    }
    if (nhi >= nlo) next.fill(0, nlo, nhi + 1);
    let done = this.done;
    for (let j = 0; j < n; j++) {
      const pr = probs[j];
      const len = lengths[j];
      for (let k = 0; k < len; k++) {
        const off = offsets[j] + k * strides[j];
        if (upper) {
          const first = Math.max(lo, b - off + 1);
          if (first <= hi) done += pr * cum[first];
        } else {
          const last = Math.min(hi, a - off - 1);
          if (last >= lo) done += pr * cum[last];
        }
      }
      if (len >= RUN_MIN) this.addRun(offsets[j], strides[j], len, pr, nlo, nhi);
      else
        for (let k = 0; k < len; k++) {
          // partial sums i that land inside the new window
          const off = offsets[j] + k * strides[j];
          const from = Math.max(lo, nlo - off);
          const to = Math.min(hi, nhi - off);
          for (let i = from; i <= to; i++) next[i + off] += cur[i] * pr;
        }
    }
    this.done = done;
    this.cur = next;
    this.next = cur;
    this.lo = nlo;
    this.hi = nhi;
    return nhi >= nlo;
  }

  /**
   * next[q] += pr · Σ_{k<len} cur[q − off − k·stride] for q in [nlo, nhi], as sliding sums of `len`
   * along each residue class mod `stride`, each from block prefix and suffix sums (van Herk / Gil-Werman):
   * three passes instead of `len`, and additions of non-negative terms only.
   */
  private addRun(off: number, stride: number, len: number, pr: number, nlo: number, nhi: number): void {
    const { cur, next, lo, hi } = this;
    for (let r = 0; r < stride; r++) {
      const i0 = lo + r; // y_m = cur[i0 + m·stride], m = 0..count − 1
      if (i0 > hi) break;
      const count = Math.floor((hi - i0) / stride) + 1;
      const total = count + len - 1; // window ends u = 0..total − 1 (y = 0 beyond count − 1)
      if (this.pre.length < total) {
        this.pre = new Float64Array(2 * total);
        this.suf = new Float64Array(2 * total);
      }
      const { pre, suf } = this;
      for (let u = 0; u < total; u++)
        pre[u] = (u % len === 0 ? 0 : pre[u - 1]) + (u < count ? cur[i0 + u * stride] : 0);
      for (let u = total - 1; u >= 0; u--)
        suf[u] = (u % len === len - 1 || u === total - 1 ? 0 : suf[u + 1]) + (u < count ? cur[i0 + u * stride] : 0);
      // outputs q = i0 + off + u·stride inside [nlo, nhi]
      const uFrom = Math.max(0, Math.ceil((nlo - i0 - off) / stride));
      const uTo = Math.min(total - 1, Math.floor((nhi - i0 - off) / stride));
      for (let u = uFrom; u <= uTo; u++) {
        const window = u < len || u % len === len - 1 ? pre[u] : suf[u - len + 1] + pre[u];
        next[i0 + off + u * stride] += pr * window;
      }
    }
  }
}

/** Runs of at least this many equally likely, equally spaced points are added as sliding sums. */
const RUN_MIN = 4;
