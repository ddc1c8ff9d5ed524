// The ablation report as text: per-condition metrics and paired differences as Markdown tables (printed
// to the terminal and written into summary.md).
import { markdownTable } from '../io/markdown.ts';
import { METRICS, type MetricName, metricDef } from './metricDefs.ts';
import type { MetricsReport } from './metrics.ts';

const NAMES = (m: MetricName): string => metricDef(m).short;
const num = (m: MetricName, x: number): string =>
  !Number.isFinite(x) ? 'n/a' : metricDef(m).kind === 'proportion' ? `${(100 * x).toFixed(1)}%` : x.toFixed(1);
const withCi = (m: MetricName, x: number, ci: [number, number]): string =>
  `${num(m, x)} [${num(m, ci[0])}, ${num(m, ci[1])}]`;
const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(100 * x) || 0}%` : 'n/a'); // `|| 0`: no "-0%"

export function conditionTable(r: MetricsReport): string {
  const rows = Object.entries(r.conditions).map(([name, c]) => [
    c.approximation ? `${name} (approximation)` : name,
    String(c.n_trials),
    String(c.n_clusters),
    String(c.n_errors),
    ...METRICS.map((m) => withCi(m, c.metrics[m].estimate, c.metrics[m].ci)),
  ]);
  return markdownTable(['condition', 'trials', 'features', 'excluded', ...METRICS.map((m) => NAMES(m))], rows);
}

export function proportionTable(r: MetricsReport): string {
  const rows: string[][] = [];
  for (const [name, c] of Object.entries(r.conditions)) {
    for (const m of METRICS.filter((x) => metricDef(x).paperComparison)) {
      const e = c.metrics[m];
      rows.push([
        c.approximation ? `${name} (approximation)` : name,
        NAMES(m),
        num(m, e.estimate),
        `[${num(m, e.ci[0])}, ${num(m, e.ci[1])}]`,
        e.wilson ? `[${num(m, e.wilson[0])}, ${num(m, e.wilson[1])}]` : '',
        `[${num(m, e.wald[0])}, ${num(m, e.wald[1])}]`,
      ]);
    }
  }
  return markdownTable(['condition', 'metric', 'estimate', 'cluster bootstrap', 'Wilson', 'Wald (paper)'], rows);
}

/** Differences between conditions; `against` keeps only those taken against that condition. */
export function differenceTable(r: MetricsReport, against?: string): string {
  const rows = r.differences
    .filter((d) => against === undefined || d.b === against)
    .map((d) => [
      `${d.a} − ${d.b}`,
      NAMES(d.metric),
      withCi(d.metric, d.estimate, d.ci),
      `${pct(d.relative)} [${pct(d.relative_ci[0])}, ${pct(d.relative_ci[1])}]`,
      Number.isFinite(d.p) ? d.p.toPrecision(2) : 'n/a',
    ]);
  return markdownTable(['comparison', 'metric', 'difference [CI]', 'relative reduction [CI]', 'p'], rows);
}

export function intervalNote(r: MetricsReport): string {
  const b = r.bootstrap;
  return `${b.ci.toUpperCase()} ${(100 * b.level).toFixed(0)}% intervals from ${b.resamples.toLocaleString('en-US')} bootstrap resamples over ${b.units} ${b.cluster === 'none' ? 'matched trials' : `${b.cluster}s`} (seed ${b.seed}); paired conditions resample together; p: permutation test (${b.permutation}). Relative reduction = (b − a)/b.`;
}

/** Per condition: trials counted and excluded, with the exclusion reasons (never dropped silently). */
export function exclusionNote(r: MetricsReport): string {
  return Object.entries(r.conditions)
    .map(
      ([name, c]) =>
        `${name}: ${c.n_trials} trials counted, ${c.n_errors} excluded${
          c.n_errors
            ? ` (${Object.entries(c.errors)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : ''
        }, ${c.n_clusters} clusters`,
    )
    .join('\n');
}

export const APPROXIMATION_NOTE = 'heuristic judge: an offline lexical APPROXIMATION, not an LLM judgment';

/** A warning line when some condition's rates come from the heuristic judge; '' otherwise. */
export function approximationNote(r: MetricsReport): string {
  const which = Object.entries(r.conditions)
    .filter(([, c]) => c.approximation)
    .map(([name]) => name);
  return which.length ? `**Approximation.** Rates of ${which.join(', ')} come from the ${APPROXIMATION_NOTE}.` : '';
}

/** Both tables and the notes; `against`: show only differences from that condition (the terminal view). */
export function metricsText(r: MetricsReport, against?: string): string {
  const approx = approximationNote(r);
  return [
    ...(approx ? [approx, ''] : []),
    conditionTable(r),
    '',
    differenceTable(r, against),
    '',
    intervalNote(r),
  ].join('\n');
}
