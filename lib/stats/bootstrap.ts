// Bootstrap engine: resample units (observations, clusters or matched pairs) with replacement within
// strata, evaluate every statistic on each resample, and form percentile, basic or BCa intervals
// exactly as scipy.stats.bootstrap does from the same bootstrap distribution.
import { InputError } from '../errors.ts';
import { normalCdf, normalQuantile } from './dists.ts';
import { streams } from '../random.ts';

export type CiMethod = 'percentile' | 'basic' | 'bca';

/** Statistics of a multiset of units; all statistics are computed together (one pass per resample). */
export interface Statistic {
  nStats: number;
  /** Writes the statistics of the units listed in `units` (indices may repeat) into `out`. */
  evaluate(units: Int32Array, out: Float64Array): void;
  /** Optional fast path: statistics of all units but `unit` (the jackknife); else `evaluate` is used. */
  leaveOneOut?(unit: number, out: Float64Array): void;
}

export interface BootstrapOptions {
  /** Stratum of each unit: units are resampled within their stratum, keeping its size. Default: one stratum. */
  strata?: Int32Array;
  resamples?: number;
  seed?: number;
  level?: number;
  method?: CiMethod;
}

export interface BootstrapResult {
  estimate: Float64Array;
  ci: [number, number][];
  /** The method used per statistic: BCa falls back to percentile where it is undefined (see intervalFrom). */
  ciMethod: string[];
  se: Float64Array;
  /** Bootstrap distribution, [stat][resample]. */
  distribution: Float64Array[];
}

const DEFAULTS = { resamples: 10_000, seed: 0, level: 0.95, method: 'bca' as CiMethod };

/**
 * Most resamples one bootstrap takes: its distribution is held in memory (8 bytes per resample and
 * statistic), and at 10^6 the Monte Carlo error of a 95% bound is far below any interval's width.
 */
export const MAX_RESAMPLES = 1_000_000;

/** Refuses a resample count that is not an integer in [min, MAX_RESAMPLES] (an InputError naming `what`). */
export function checkResamples(n: number, what = 'resamples', min = 1): number {
  if (!(Number.isSafeInteger(n) && n >= min && n <= MAX_RESAMPLES))
    throw new InputError(`${what}: expected an integer in [${min}, ${MAX_RESAMPLES}], found ${n}`);
  return n;
}

function strataMembers(nUnits: number, strata?: Int32Array): Int32Array[] {
  if (!strata) return [Int32Array.from({ length: nUnits }, (_, i) => i)];
  const groups = new Map<number, number[]>();
  strata.forEach((s, u) => {
    const g = groups.get(s);
    g ? g.push(u) : groups.set(s, [u]);
  });
  return [...groups.keys()].sort((a, b) => a - b).map((s) => Int32Array.from(groups.get(s)!));
}

/** Runs the bootstrap of `stat` over `nUnits` units. Stream k of the seed draws for stratum k. */
export function bootstrap(nUnits: number, stat: Statistic, opts: BootstrapOptions = {}): BootstrapResult {
  const { resamples, seed, level, method } = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  };
  checkResamples(resamples);
  const members = strataMembers(nUnits, opts.strata);
  const rngs = streams(seed, members.length);
  const k = stat.nStats;
  const estimate = new Float64Array(k);
  stat.evaluate(
    Int32Array.from({ length: nUnits }, (_, i) => i),
    estimate,
  );
  const distribution = Array.from({ length: k }, () => new Float64Array(resamples));
  const draw = new Int32Array(nUnits);
  const out = new Float64Array(k);
  for (let b = 0; b < resamples; b++) {
    let pos = 0;
    members.forEach((m, s) => {
      const rng = rngs[s];
      for (let i = 0; i < m.length; i++) draw[pos++] = m[rng.int(m.length)];
    });
    stat.evaluate(draw, out);
    for (let j = 0; j < k; j++) distribution[j][b] = out[j];
  }
  const jack = method === 'bca' ? jackknife(nUnits, stat, members) : undefined;
  const ci: [number, number][] = [];
  const ciMethod: string[] = [];
  const se = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const r = intervalFrom(
      estimate[j],
      distribution[j],
      method,
      level,
      jack?.map((perStratum) => perStratum[j]),
    );
    ci.push(r.ci);
    ciMethod.push(r.method);
    se[j] = sd(distribution[j]);
  }
  return { estimate, ci, ciMethod, se, distribution };
}

/** Leave-one-unit-out values, [stratum][stat][unit of stratum]. */
function jackknife(nUnits: number, stat: Statistic, members: Int32Array[]): Float64Array[][] {
  const k = stat.nStats;
  const out = new Float64Array(k);
  const rest = new Int32Array(Math.max(0, nUnits - 1));
  return members.map((m) => {
    const values = Array.from({ length: k }, () => new Float64Array(m.length));
    m.forEach((unit, i) => {
      if (stat.leaveOneOut) stat.leaveOneOut(unit, out);
      else {
        let pos = 0;
        for (let u = 0; u < nUnits; u++) if (u !== unit) rest[pos++] = u;
        stat.evaluate(rest, out);
      }
      for (let j = 0; j < k; j++) values[j][i] = out[j];
    });
    return values;
  });
}

function sd(x: Float64Array): number {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  return Math.sqrt(ss / (x.length - 1));
}

/** Quantile with linear interpolation between order statistics (numpy/scipy default, "type 7"). */
function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * BCa tail probabilities (scipy's `_bca_interval`): z0 from the share of the bootstrap distribution
 * below the estimate (ties count ½), acceleration from the jackknife of each stratum.
 */
function bcaAlphas(
  theta: number,
  thetaB: Float64Array,
  jack: Float64Array[],
  alpha: number,
): { a1: number; a2: number; z0: number; a: number } {
  let below = 0;
  for (const v of thetaB) below += (v < theta ? 1 : 0) + (v <= theta ? 1 : 0);
  const z0 = normalQuantile(below / (2 * thetaB.length));
  let num = 0;
  let den = 0;
  for (const tj of jack) {
    const n = tj.length;
    let mean = 0;
    for (const v of tj) mean += v;
    mean /= n;
    let s2 = 0;
    let s3 = 0;
    for (const v of tj) {
      const u = (n - 1) * (mean - v);
      s2 += u * u;
      s3 += u * u * u;
    }
    num += s3 / n ** 3;
    den += s2 / n ** 2;
  }
  const a = num / 6 / den ** 1.5;
  const zAlpha = normalQuantile(alpha);
  const n1 = z0 + zAlpha;
  const n2 = z0 - zAlpha;
  return { a1: normalCdf(z0 + n1 / (1 - a * n1)), a2: normalCdf(z0 + n2 / (1 - a * n2)), z0, a };
}

/**
 * Interval from a bootstrap distribution. Where scipy returns NaN for BCa (a degenerate distribution:
 * every resample equal, or the estimate outside all of them), we give the percentile interval instead and
 * say so in `method`; a constant distribution gives [θ, θ].
 */
export function intervalFrom(
  theta: number,
  thetaB: Float64Array,
  method: CiMethod,
  level: number,
  jack?: Float64Array[],
): { ci: [number, number]; method: string } {
  const sorted = Float64Array.from(thetaB).sort();
  if (sorted.some(Number.isNaN)) return { ci: [NaN, NaN], method };
  const alpha = (1 - level) / 2;
  let p1 = alpha;
  let p2 = 1 - alpha;
  let used: string = method;
  if (method === 'bca') {
    if (!jack) throw new Error('BCa needs jackknife values');
    const { a1, a2 } = bcaAlphas(theta, thetaB, jack, alpha);
    if (Number.isFinite(a1) && Number.isFinite(a2)) [p1, p2] = [a1, a2];
    else used = sorted[0] === sorted[sorted.length - 1] ? 'bca' : 'percentile (BCa undefined)';
  }
  const lo = quantileSorted(sorted, p1);
  const hi = quantileSorted(sorted, p2);
  return { ci: method === 'basic' ? [2 * theta - hi, 2 * theta - lo] : [lo, hi], method: used };
}

/**
 * Statistics that are functions of per-unit sums (counts, totals): totals over the drawn units are
 * accumulated once per resample and `finish` turns them into every statistic at once.
 */
export function sumsStatistic(
  unitSums: Float64Array,
  width: number,
  nStats: number,
  finish: (totals: Float64Array, out: Float64Array) => void,
): Statistic {
  const totals = new Float64Array(width);
  const all = new Float64Array(width);
  const nUnits = unitSums.length / width;
  for (let u = 0; u < nUnits; u++) for (let c = 0; c < width; c++) all[c] += unitSums[u * width + c];
  return {
    nStats,
    evaluate(units, out) {
      totals.fill(0);
      for (let i = 0; i < units.length; i++) {
        const base = units[i] * width;
        for (let c = 0; c < width; c++) totals[c] += unitSums[base + c];
      }
      finish(totals, out);
    },
    leaveOneOut(unit, out) {
      for (let c = 0; c < width; c++) totals[c] = all[c] - unitSums[unit * width + c];
      finish(totals, out);
    },
  };
}
