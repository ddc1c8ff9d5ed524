// The per-trial ESR metrics (docs/design.md "Trial metrics"), one entry each: how it is computed (a ratio
// of per-trial sums), how it is reported (column name, percent or score, interval kinds) and how it is
// drawn (label, axes, whether it gets a bar). To add a metric, add an entry to METRIC_DEFS (and, when it
// needs a per-trial quantity no metric sums yet, one to TRIAL_SUMS): docs/extending.md.

/** A counted trial's attempt scores (nulls dropped, at least one). */
type Scores = number[];
const last = (s: Scores): number => s[s.length - 1];

/** Per-trial quantities summed per unit and condition; every metric is a ratio of two of them. The order is the sums' layout. */
export const TRIAL_SUMS = {
  trials: () => 1,
  multi_attempt: (s: Scores) => (s.length > 1 ? 1 : 0),
  esr: (s: Scores) => (s.length > 1 && last(s) > s[0] ? 1 : 0),
  first_score: (s: Scores) => s[0],
  score_delta: (s: Scores) => (s.length > 1 ? last(s) - s[0] : 0),
} as const;

export type TrialSum = keyof typeof TRIAL_SUMS;
export const SUM_NAMES = Object.keys(TRIAL_SUMS) as TrialSum[];

export interface MetricDef {
  /** numerator / denominator, over a condition's counted trials. The denominator is 0 or 1 per trial. */
  ratio: [TrialSum, TrialSum];
  /** proportion: Wilson and Wald (proportion) intervals beside the bootstrap, shown in percent; mean: Wald interval of the mean, in score points. */
  kind: 'proportion' | 'mean';
  /** Column name in the terminal and summary.md tables. */
  short: string;
  /** Name on figures and in report.html. */
  label: string;
  axis: string;
  diffAxis: string;
  /** In the table that sets the cluster bootstrap beside Wilson and the paper's Wald interval. */
  paperComparison?: boolean;
  /** Drawn in the per-condition bar figure. */
  bar?: boolean;
}

export const METRIC_DEFS = {
  multi_attempt_rate: {
    ratio: ['multi_attempt', 'trials'],
    kind: 'proportion',
    short: 'multi-attempt',
    label: 'multi-attempt rate',
    axis: 'multi-attempt rate (% of trials)',
    diffAxis: 'percentage points',
    paperComparison: true,
    bar: true,
  },
  esr_rate: {
    ratio: ['esr', 'trials'],
    kind: 'proportion',
    short: 'ESR',
    label: 'ESR rate',
    axis: 'ESR rate (% of trials)',
    diffAxis: 'percentage points',
    paperComparison: true,
    bar: true,
  },
  improvement_rate: {
    ratio: ['esr', 'multi_attempt'],
    kind: 'proportion',
    short: 'improvement',
    label: 'improvement rate',
    axis: 'improvement rate (% of multi-attempt)',
    diffAxis: 'percentage points',
  },
  first_attempt_score: {
    ratio: ['first_score', 'trials'],
    kind: 'mean',
    short: 'first score',
    label: 'first-attempt score',
    axis: 'first-attempt score (0–100)',
    diffAxis: 'score points',
    bar: true,
  },
  score_delta: {
    ratio: ['score_delta', 'multi_attempt'],
    kind: 'mean',
    short: 'score delta',
    label: 'score delta',
    axis: 'last − first score (points)',
    diffAxis: 'score points',
  },
} as const satisfies Record<string, MetricDef>;

export type MetricName = keyof typeof METRIC_DEFS;
export const METRICS = Object.keys(METRIC_DEFS) as MetricName[];

/** The entry of a metric (typed as the common shape). */
export const metricDef = (m: MetricName): MetricDef => METRIC_DEFS[m];
