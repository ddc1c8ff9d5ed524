// ESR metrics of judged trials (docs/design.md "Trial metrics") with cluster-bootstrap intervals,
// Wilson/Wald intervals beside them, and differences between conditions with CIs and p-values.
import { bootstrap, type CiMethod, checkResamples, sumsStatistic } from '../stats/bootstrap.ts';
import { waldMean, waldProportion, wilson, type Interval } from '../stats/intervals.ts';
import { swapPermutationTest } from '../stats/permutation.ts';
import { METRICS, type MetricName, metricDef, SUM_NAMES, TRIAL_SUMS } from './metricDefs.ts';
import type { Trial } from './types.ts';

const M = METRICS.length;
/** Per-trial sums, in TRIAL_SUMS order (trials, multi-attempt, ESR, first score, last − first over multi-attempt). */
const WIDTH = SUM_NAMES.length;
const SUM_AT = new Map(SUM_NAMES.map((n, i) => [n, i]));
/** Each metric's numerator and denominator positions in the sums. */
const RATIO_AT = METRICS.map((m) => metricDef(m).ratio.map((n) => SUM_AT.get(n)!) as [number, number]);

export type ExclusionReason = 'trial_error' | 'judge_error' | 'no_judge' | 'no_attempts' | 'all_scores_null';

/** Scores that count (nulls dropped), or why the trial is excluded. A score outside 0–100 is a RangeError. */
export function trialScores(t: Trial): { scores: number[] } | { excluded: ExclusionReason } {
  if (t.error) return { excluded: 'trial_error' };
  if (!t.judge) return { excluded: 'no_judge' };
  if (t.judge.error) return { excluded: 'judge_error' };
  if (!t.judge.attempts || t.judge.attempts.length === 0) return { excluded: 'no_attempts' };
  const bad = t.judge.attempts.find(
    (a) => a.score !== null && !(typeof a.score === 'number' && a.score >= 0 && a.score <= 100),
  );
  if (bad)
    throw new RangeError(
      `trial ${t.id}: attempt score ${JSON.stringify(bad.score)} is not a number in 0–100 (or null)`,
    );
  const scores = t.judge.attempts
    .map((a) => a.score)
    .filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
  return scores.length === 0 ? { excluded: 'all_scores_null' } : { scores };
}

function addTrialSums(scores: number[], into: Float64Array, offset: number): void {
  SUM_NAMES.forEach((name, i) => {
    into[offset + i] += TRIAL_SUMS[name](scores);
  });
}

/** Every metric from summed trial vectors (NaN where a denominator is zero). */
export function metricsFromTotals(t: ArrayLike<number>, out: Float64Array, offset = 0, at = 0): void {
  RATIO_AT.forEach(([num, den], m) => {
    out[at + m] = t[offset + num] / t[offset + den];
  });
}

/** A metric's entry besides the bootstrap: Wilson and Wald for proportions, the Wald interval of the mean for means. */
function classicIntervals(m: number, scores: number[][], level: number): { wilson?: Interval; wald: Interval } {
  const def = metricDef(METRICS[m]);
  const [num, den] = def.ratio.map((n) => TRIAL_SUMS[n]);
  const inDen = scores.filter((s) => den(s) === 1);
  if (def.kind === 'mean') return { wald: waldMean(inDen.map(num), level) };
  const x = inDen.reduce((a, s) => a + num(s), 0);
  return { wilson: wilson(x, inDen.length, level), wald: waldProportion(x, inDen.length, level) };
}

export type ClusterBy = 'feature' | 'prompt' | 'none';

export interface MetricsOptions {
  cluster?: ClusterBy;
  resamples?: number;
  seed?: number;
  level?: number;
  ci?: CiMethod;
  /** Condition that differences are taken against; default: the first condition seen. */
  baseline?: string;
}

export interface MetricEntry {
  estimate: number;
  ci: [number, number];
  ci_method: string;
  wilson?: Interval;
  wald: Interval;
}

export interface MetricsReport {
  conditions: Record<
    string,
    {
      n_trials: number;
      n_errors: number;
      errors: Partial<Record<ExclusionReason, number>>;
      n_clusters: number;
      /** Judge ids of the condition's trials (`paper` for the paper's files). */
      judges: string[];
      /** True when some of its trials were graded by the heuristic judge: every rate is then an approximation. */
      approximation: boolean;
      metrics: Record<MetricName, MetricEntry>;
    }
  >;
  differences: {
    a: string;
    b: string;
    metric: MetricName;
    estimate: number;
    ci: [number, number];
    relative: number;
    relative_ci: [number, number];
    p: number;
  }[];
  bootstrap: {
    resamples: number;
    seed: number;
    cluster: ClusterBy;
    level: number;
    ci: CiMethod;
    units: number;
    strata: string;
    permutation: string;
  };
}

/** The heuristic judge's results are an approximation, not an LLM judgment. */
export function isApproximateJudgment(t: Trial): boolean {
  return (
    t.judge?.id === 'heuristic' ||
    (t.provenance?.judge as { approximation?: unknown } | undefined)?.approximation === true
  );
}

function unitKey(t: Trial, cluster: ClusterBy): string {
  if (cluster === 'feature') return `f:${t.feature}`;
  if (cluster === 'prompt') return `p:${t.prompt}`;
  // no clustering: a replayed (feature, prompt, seed) across conditions stays one matched pair
  return `t:${t.feature}\u0000${t.prompt}\u0000${t.seed}`;
}

/**
 * Metrics per condition and differences between every pair of conditions (a = later, b = earlier,
 * estimate a − b, relative (b − a)/b), all from one bootstrap over units (clusters, or matched trials
 * when not clustering). Units are stratified by the set of conditions they hold, so unpaired data keep
 * each condition's size and paired data resample pairs together.
 */
export function computeMetrics(trials: Trial[], opts: MetricsOptions = {}): MetricsReport {
  const cluster = opts.cluster ?? 'feature';
  const resamples = checkResamples(opts.resamples ?? 10_000);
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  const ci = opts.ci ?? 'bca';
  const conditions = [...new Set(trials.map((t) => t.condition))];
  if (opts.baseline !== undefined) {
    if (!conditions.includes(opts.baseline))
      throw new RangeError(`baseline condition ${opts.baseline} not among ${conditions.join(', ')}`);
    conditions.splice(conditions.indexOf(opts.baseline), 1);
    conditions.unshift(opts.baseline);
  }
  const C = conditions.length;
  const cIndex = new Map(conditions.map((c, i) => [c, i]));
  const units = new Map<string, number>();
  const counted: { unit: number; cond: number; scores: number[] }[] = [];
  const errors = conditions.map(() => ({}) as Partial<Record<ExclusionReason, number>>);
  for (const t of trials) {
    const c = cIndex.get(t.condition)!;
    const r = trialScores(t);
    if ('excluded' in r) {
      errors[c][r.excluded] = (errors[c][r.excluded] ?? 0) + 1;
      continue;
    }
    const key = unitKey(t, cluster);
    if (!units.has(key)) units.set(key, units.size);
    counted.push({ unit: units.get(key)!, cond: c, scores: r.scores });
  }
  const U = units.size;
  if (U === 0) throw new RangeError('no counted trials (every trial was excluded)');
  const width = WIDTH * C;
  const unitSums = new Float64Array(U * width);
  for (const x of counted) addTrialSums(x.scores, unitSums, x.unit * width + x.cond * WIDTH);

  const pairs: [number, number][] = [];
  for (let b = 0; b < C; b++) for (let a = b + 1; a < C; a++) pairs.push([a, b]);
  const nStats = C * M + pairs.length * 2 * M;
  const perCond = new Float64Array(C * M);
  const stat = sumsStatistic(unitSums, width, nStats, (tot, out) => {
    for (let c = 0; c < C; c++) metricsFromTotals(tot, perCond, c * WIDTH, c * M);
    out.set(perCond);
    pairs.forEach(([a, b], p) => {
      for (let m = 0; m < M; m++) {
        const va = perCond[a * M + m];
        const vb = perCond[b * M + m];
        out[C * M + p * 2 * M + m] = va - vb;
        out[C * M + p * 2 * M + M + m] = (vb - va) / vb;
      }
    });
  });
  // stratum = which conditions a unit holds (a bit mask)
  const strata = new Int32Array(U);
  for (let u = 0; u < U; u++) for (let c = 0; c < C; c++) if (unitSums[u * width + c * WIDTH] > 0) strata[u] |= 1 << c;
  const boot = bootstrap(U, stat, { strata, resamples, seed, level, method: ci });

  const report: MetricsReport = {
    // a null prototype: condition names come from the trials (a condition named __proto__ must stay a row)
    conditions: Object.create(null),
    differences: [],
    bootstrap: {
      resamples,
      seed,
      cluster,
      level,
      ci,
      units: U,
      strata: 'units stratified by the set of conditions they contain',
      permutation:
        'two-sided; condition labels swapped within units (sign flip for paired units); stream 1000+pair of the seed',
    },
  };
  conditions.forEach((name, c) => {
    const own = trials.filter((t) => t.condition === name);
    const mine = counted.filter((x) => x.cond === c);
    const scores = mine.map((x) => x.scores);
    const entry = (m: number): MetricEntry => ({
      estimate: boot.estimate[c * M + m],
      ci: boot.ci[c * M + m],
      ci_method: boot.ciMethod[c * M + m],
      ...classicIntervals(m, scores, level),
    });
    report.conditions[name] = {
      n_trials: mine.length,
      n_errors: Object.values(errors[c]).reduce((s, v) => s + (v ?? 0), 0),
      errors: errors[c],
      n_clusters: new Set(mine.map((x) => x.unit)).size,
      judges: [...new Set(own.map((t) => t.judge?.id).filter((j): j is string => typeof j === 'string'))],
      approximation: own.some(isApproximateJudgment),
      metrics: Object.fromEntries(METRICS.map((metric, m) => [metric, entry(m)])) as Record<MetricName, MetricEntry>,
    };
  });
  pairs.forEach(([a, b], p) => {
    const pick = (cond: number): Float64Array => {
      const out = new Float64Array(U * WIDTH);
      for (let u = 0; u < U; u++)
        out.set(unitSums.subarray(u * width + cond * WIDTH, u * width + cond * WIDTH + WIDTH), u * WIDTH);
      return out;
    };
    const pv = swapPermutationTest({
      sumsA: pick(a),
      sumsB: pick(b),
      width: WIDTH,
      nStats: M,
      finish: (t, out) => metricsFromTotals(t, out),
      resamples,
      seed,
      stream: 1000 + p,
    });
    METRICS.forEach((metric, m) => {
      const d = C * M + p * 2 * M + m;
      report.differences.push({
        a: conditions[a],
        b: conditions[b],
        metric,
        estimate: boot.estimate[d],
        ci: boot.ci[d],
        relative: boot.estimate[d + M],
        relative_ci: boot.ci[d + M],
        p: pv[m],
      });
    });
  });
  return report;
}
