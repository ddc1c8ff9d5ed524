// How each ESR metric is named and scaled on a figure (from the metric registry, lib/trials/metricDefs.ts),
// and the slice of metrics.json figures read.
import { METRIC_DEFS, metricDef, type MetricName } from '../trials/metricDefs.ts';
import type { MetricEntry, MetricsReport } from '../trials/metrics.ts';

export type Scale = 'fraction' | 'score';

/** A metric's label, scale and axis titles; a metric the registry does not know is drawn as a score. */
export function metricInfo(metric: string): { label: string; scale: Scale; axis: string; diffAxis: string } {
  if (!(metric in METRIC_DEFS))
    return {
      label: metric.replace(/_/g, ' '),
      scale: 'score',
      axis: metric.replace(/_/g, ' '),
      diffAxis: 'difference',
    };
  const d = metricDef(metric as MetricName);
  return { label: d.label, scale: d.kind === 'proportion' ? 'fraction' : 'score', axis: d.axis, diffAxis: d.diffAxis };
}

// metrics.json as read back: computeMetrics' MetricsReport (one type), where a NaN was written as null and
// figures need only part of each record (the rest optional).
type Written<T> = { [K in keyof T]?: T[K] };

export interface MetricValue extends Written<Omit<MetricEntry, 'estimate' | 'ci'>> {
  estimate: number;
  ci: [number, number] | null;
}

export interface ConditionSummary extends Written<Omit<MetricsReport['conditions'][string], 'n_trials' | 'metrics'>> {
  n_trials: number;
  metrics: Record<string, MetricValue>;
}

export interface Difference
  extends Written<Omit<MetricsReport['differences'][number], 'a' | 'b' | 'metric' | 'estimate' | 'ci'>> {
  a: string;
  b: string;
  metric: string;
  estimate: number;
  ci: [number, number] | null;
}

/** What figures and report.html need from metrics.json (docs/design.md "Metrics"). */
export interface MetricsSummary {
  conditions: Record<string, ConditionSummary>;
  differences?: Difference[];
  bootstrap?: Written<MetricsReport['bootstrap']>;
}

/** "95% BCa cluster-bootstrap CIs (10,000 resamples over features, seed 0)" from the bootstrap settings. */
export function ciDescription(b: MetricsSummary['bootstrap']): string {
  if (!b) return '95% CIs';
  const level = `${Math.round(100 * (b.level ?? 0.95))}%`;
  const method = b.ci === 'bca' ? 'BCa ' : b.ci ? `${b.ci} ` : '';
  const over = b.cluster === 'feature' ? 'features' : b.cluster === 'prompt' ? 'prompts' : 'matched trials';
  const kind = b.cluster && b.cluster !== 'none' ? 'cluster-bootstrap' : 'bootstrap';
  return `${level} ${method}${kind} CIs (${(b.resamples ?? 0).toLocaleString('en-US')} resamples over ${over}, seed ${b.seed ?? 0})`;
}
