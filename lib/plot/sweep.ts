// Boost sweep: ESR metrics against the steering boost (relative to the calibrated threshold when the
// run records one), one line per condition with its CI band.
import * as d3 from 'd3';
import { computeMetrics, type MetricsOptions } from '../trials/metrics.ts';
import type { Trial } from '../trials/types.ts';
import { BAR_METRICS } from './ablation.ts';
import { bottomAxis, canvas, type Figure, frame, leftAxis, legend, panelTitle, percentFormat } from './figure.ts';
import { ciDescription, metricInfo, type MetricsSummary, type MetricValue } from './metricsInfo.ts';
import { colourMap } from './theme.ts';

export interface SweepPoint {
  boost: number;
  condition: string;
  n_trials: number;
  metrics: Record<string, MetricValue>;
}

/** Metrics with bootstrap CIs at each boost level (trials whose `boost` is null are left out). */
/** A trial's sweep position: its level in threshold spreads (an `ablate --boost-sweep` run), else its boost. */
function sweepLevel(t: Trial): number | null {
  const level = t.provenance?.boost_level;
  return typeof level === 'number' ? level : typeof t.boost === 'number' ? t.boost : null;
}

/** True when some feature was run at two or more sweep positions (per-feature calibrated boosts alone are not a sweep). */
export function isSweep(trials: Trial[]): boolean {
  const byFeature = new Map<number, Set<number>>();
  for (const t of trials) {
    const level = sweepLevel(t);
    if (level === null) continue;
    if (!byFeature.has(t.feature)) byFeature.set(t.feature, new Set());
    byFeature.get(t.feature)!.add(level);
  }
  return [...byFeature.values()].some((levels) => levels.size >= 2);
}

export function sweepPoints(
  trials: Trial[],
  opts: MetricsOptions = {},
): { points: SweepPoint[]; bootstrap: MetricsSummary['bootstrap'] } {
  const levels = [...new Set(trials.map(sweepLevel).filter((b): b is number => b !== null))].sort((a, b) => a - b);
  const points: SweepPoint[] = [];
  let bootstrap: MetricsSummary['bootstrap'];
  for (const boost of levels) {
    const report = computeMetrics(
      trials.filter((t) => sweepLevel(t) === boost),
      opts,
    );
    bootstrap = report.bootstrap;
    for (const [condition, c] of Object.entries(report.conditions))
      points.push({ boost, condition, n_trials: c.n_trials, metrics: c.metrics });
  }
  return { points, bootstrap };
}

/** One panel per metric: estimate against boost per condition (line and points), CI as a band. */
export function sweepPlot(
  points: SweepPoint[],
  o: { bootstrap?: MetricsSummary['bootstrap']; xLabel?: string; metrics?: string[]; name?: string } = {},
): Figure {
  const metrics = o.metrics ?? BAR_METRICS;
  const conditions = [...new Set(points.map((p) => p.condition))];
  const colours = colourMap(conditions);
  const panelW = 240;
  const width = panelW * metrics.length;
  const height = 290;
  const c = canvas(width, height);
  const x = d3
    .scaleLinear()
    .domain(d3.extent(points, (p) => p.boost) as [number, number])
    .nice();
  metrics.forEach((metric, i) => {
    const info = metricInfo(metric);
    const f = frame(c.svg, i * panelW, 26, panelW, height - 26, { top: 22, right: 12, bottom: 44, left: 56 });
    f.g.attr('data-metric', metric);
    x.range([0, f.width]);
    const vals = points
      .flatMap((p) => [p.metrics[metric]?.estimate, ...(p.metrics[metric]?.ci ?? [])])
      .filter((v): v is number => Number.isFinite(v));
    const y = d3
      .scaleLinear()
      .domain([Math.min(0, ...vals), Math.max(...vals, info.scale === 'fraction' ? 0.01 : 1) * 1.05])
      .nice()
      .range([f.height, 0]);
    leftAxis(f, y, info.axis, { format: info.scale === 'fraction' ? percentFormat(y.domain()[1]) : undefined });
    bottomAxis(f, x, o.xLabel ?? 'boost');
    panelTitle(f, info.label);
    const series = conditions.map((cond) => ({
      cond,
      colour: colours.get(cond)!,
      mine: points.filter(
        (p) => p.condition === cond && p.metrics[metric] && Number.isFinite(p.metrics[metric].estimate),
      ),
    }));
    // all bands first, so no band covers another condition's line
    for (const { cond, colour, mine } of series) {
      const withCi = mine.filter((p) => p.metrics[metric].ci?.every(Number.isFinite));
      f.g
        .append('path')
        .attr('class', 'band')
        .attr('data-condition', cond)
        .attr(
          'd',
          d3
            .area<SweepPoint>()
            .x((p) => x(p.boost))
            .y0((p) => y(p.metrics[metric].ci![0]))
            .y1((p) => y(p.metrics[metric].ci![1]))(withCi) ?? '',
        )
        .attr('fill', colour)
        .attr('fill-opacity', 0.18);
    }
    for (const { cond, colour, mine } of series) {
      f.g
        .append('path')
        .attr('class', 'line')
        .attr('data-condition', cond)
        .attr(
          'd',
          d3
            .line<SweepPoint>()
            .x((p) => x(p.boost))
            .y((p) => y(p.metrics[metric].estimate))(mine) ?? '',
        )
        .attr('fill', 'none')
        .attr('stroke', colour)
        .attr('stroke-width', 1.8);
      for (const p of mine)
        f.g
          .append('circle')
          .attr('class', 'point')
          .attr('data-condition', cond)
          .attr('cx', x(p.boost))
          .attr('cy', y(p.metrics[metric].estimate))
          .attr('r', 3)
          .attr('fill', colour);
    }
  });
  legend(
    c.svg,
    56,
    16,
    conditions.map((k) => ({ label: k, colour: colours.get(k)!, shape: 'line' as const })),
  );
  const levels = [...new Set(points.map((p) => p.boost))];
  const ns = conditions
    .map(
      (k) =>
        `${k} ${points
          .filter((p) => p.condition === k)
          .map((p) => p.n_trials)
          .join('/')}`,
    )
    .join('; ');
  return c.finish(
    o.name ?? 'boost-sweep',
    'ESR metrics across steering strength',
    `ESR metrics at ${levels.length} boost levels; lines: estimates, bands: ${ciDescription(o.bootstrap)} at each level. n trials per level (in boost order): ${ns}.`,
  );
}
