// Ablation figures: ESR metrics per condition with CIs (the paper's Figures 2, 4 and 5), score-delta
// histograms of multi-attempt trials, and paired differences between conditions with CIs.
import * as d3 from 'd3';
import {
  bottomAxis,
  canvas,
  type Figure,
  frame,
  leftAxis,
  num,
  panelTitle,
  percentFormat,
  wrapLines,
  zeroLine,
} from './figure.ts';
import { ciDescription, type Difference, metricInfo, type MetricsSummary } from './metricsInfo.ts';
import { colourMap, INK, MUTED, PAGE_WIDTH } from './theme.ts';
import { METRICS, metricDef } from '../trials/metricDefs.ts';

export const BAR_METRICS: string[] = METRICS.filter((m) => metricDef(m).bar);

const nList = (m: MetricsSummary): string =>
  Object.entries(m.conditions)
    .map(
      ([name, c]) =>
        `${name} n = ${c.n_trials.toLocaleString('en-US')} trials${c.n_clusters !== undefined ? ` (${c.n_clusters} features)` : ''}`,
    )
    .join('; ');

/** Upper end of a value axis that shows every estimate and CI, starting at 0 unless values go below. */
function valueDomain(values: number[], scale: 'fraction' | 'score'): [number, number] {
  const finite = values.filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  let hi = Math.max(...finite, 0) * 1.1;
  if (!(hi > lo)) hi = scale === 'fraction' ? 0.1 : 10;
  return [lo, hi];
}

/** One panel per metric; one bar per condition at its estimate, whiskers at its CI. */
export function conditionBars(m: MetricsSummary, metrics = BAR_METRICS, name = 'ablation-metrics'): Figure {
  const conditions = Object.keys(m.conditions);
  const colours = colourMap(conditions);
  const panelW = Math.max(200, Math.min(260, PAGE_WIDTH / metrics.length));
  const width = panelW * metrics.length;
  const height = 260;
  const c = canvas(width, height);
  metrics.forEach((metric, i) => {
    const info = metricInfo(metric);
    const f = frame(c.svg, i * panelW, 0, panelW, height, { top: 24, right: 10, bottom: 36, left: 56 });
    f.g.attr('data-metric', metric);
    const vals = conditions.flatMap((k) => {
      const v = m.conditions[k].metrics[metric];
      return v ? [v.estimate, ...(v.ci ?? [])] : [];
    });
    const y = d3.scaleLinear().domain(valueDomain(vals, info.scale)).nice().range([f.height, 0]);
    const x = d3.scaleBand<string>().domain(conditions).range([0, f.width]).padding(0.3);
    leftAxis(f, y, info.axis, { format: info.scale === 'fraction' ? percentFormat(y.domain()[1]) : undefined });
    const xa = bottomAxis(f, x, '', {});
    xa.selectAll('.tick text').each(function (this: any, d: any) {
      const t = d3.select(this).text(null);
      wrapLines(String(d), Math.max(6, Math.floor(x.bandwidth() / 6))).forEach((line, j) =>
        t
          .append('tspan')
          .attr('x', 0)
          .attr('dy', j === 0 ? '0.71em' : '1.1em')
          .text(line),
      );
    });
    panelTitle(f, info.label);
    for (const k of conditions) {
      const v = m.conditions[k].metrics[metric];
      if (!v || !Number.isFinite(v.estimate)) continue;
      const x0 = x(k)!;
      const y0 = y(Math.max(0, y.domain()[0]));
      f.g
        .append('rect')
        .attr('class', 'bar')
        .attr('data-condition', k)
        .attr('x', x0)
        .attr('width', x.bandwidth())
        .attr('y', Math.min(y(v.estimate), y0))
        .attr('height', Math.abs(y0 - y(v.estimate)))
        .attr('fill', colours.get(k)!);
      if (v.ci?.every(Number.isFinite)) whisker(f.g, x0 + x.bandwidth() / 2, y(v.ci[0]), y(v.ci[1]), k);
    }
  });
  return c.finish(
    name,
    'ESR metrics per condition',
    `ESR metrics per condition. Bars: estimates; whiskers: ${ciDescription(m.bootstrap)}. ${nList(m)}.`,
  );
}

/** A vertical CI whisker with caps at x from y1 to y2. */
function whisker(g: any, x: number, y1: number, y2: number, condition: string): void {
  const w = g.append('g').attr('class', 'ci').attr('data-condition', condition);
  w.append('line')
    .attr('class', 'ci-line')
    .attr('x1', x)
    .attr('x2', x)
    .attr('y1', y1)
    .attr('y2', y2)
    .attr('stroke', INK)
    .attr('stroke-width', 1.3);
  for (const yy of [y1, y2])
    w.append('line')
      .attr('class', 'ci-cap')
      .attr('x1', x - 5)
      .attr('x2', x + 5)
      .attr('y1', yy)
      .attr('y2', yy)
      .attr('stroke', INK)
      .attr('stroke-width', 1.3);
}

/** Bin edges of score deltas: width 10 from −100 to 100 (the last bin includes 100). */
export const DELTA_EDGES = d3.range(-100, 101, 10);

/** One histogram per condition of last − first attempt score over multi-attempt trials, on a shared x axis. */
export function scoreDeltaHistograms(deltas: Map<string, number[]>, name = 'score-delta-histograms'): Figure {
  const conditions = [...deltas.keys()];
  const colours = colourMap(conditions);
  const rowH = 120;
  const width = 480;
  const height = 30 + rowH * conditions.length + 40;
  const c = canvas(width, height);
  const x = d3
    .scaleLinear()
    .domain([-100, 100])
    .range([0, width - 50 - 14]);
  const binner = d3.bin().domain([-100, 100]).thresholds(DELTA_EDGES.slice(1, -1));
  const binned = conditions.map((k) => binner(deltas.get(k)!));
  const maxCount = Math.max(1, ...binned.flatMap((bins) => bins.map((b) => b.length)));
  conditions.forEach((k, i) => {
    const last = i === conditions.length - 1;
    const f = frame(
      c.svg,
      0,
      30 + i * rowH - 24,
      width,
      rowH + (last ? 40 : 0),
      { top: 24, right: 14, bottom: last ? 48 : 8, left: 50 },
      'panel',
    );
    f.g.attr('data-condition', k);
    const y = d3.scaleLinear().domain([0, maxCount]).nice().range([f.height, 0]);
    leftAxis(f, y, 'trials', { ticks: 3, integer: true });
    const xa = bottomAxis(f, x, last ? 'last − first attempt score (points)' : '', { ticks: 10 });
    if (!last) xa.selectAll('.tick text').remove();
    panelTitle(f, `${k} (n = ${deltas.get(k)!.length} multi-attempt trials)`);
    f.g
      .selectAll('rect.hist-bar')
      .data(binned[i])
      .join('rect')
      .attr('class', 'hist-bar')
      .attr('data-x0', (b: any) => b.x0)
      .attr('data-count', (b: any) => b.length)
      .attr('x', (b: any) => x(b.x0) + 0.5)
      .attr('width', (b: any) => Math.max(0, x(b.x1) - x(b.x0) - 1))
      .attr('y', (b: any) => y(b.length))
      .attr('height', (b: any) => f.height - y(b.length))
      .attr('fill', colours.get(k)!);
    zeroLine(f, x(0), INK);
  });
  const counts = conditions.map((k) => `${k} ${deltas.get(k)!.length}`).join(', ');
  return c.finish(
    name,
    'Score change within multi-attempt trials',
    `Last − first attempt score of multi-attempt trials, bins of 10 points (dashed: no change; right of it the response improved). n multi-attempt trials: ${counts}.`,
  );
}

/** A forest plot of differences between conditions: rates (percentage points) above, scores below. */
export function pairedDifferences(
  diffs: Difference[],
  bootstrap: MetricsSummary['bootstrap'],
  name = 'ablation-differences',
): Figure {
  const groups = (['fraction', 'score'] as const)
    .map((scale) => ({ scale, rows: diffs.filter((d) => metricInfo(d.metric).scale === scale) }))
    .filter((g) => g.rows.length > 0);
  const rowH = 22;
  const width = 640;
  const panelHeights = groups.map((g) => g.rows.length * rowH + 24 + 44);
  const height = panelHeights.reduce((a, b) => a + b, 0) + 4;
  const c = canvas(width, height);
  let top = 0;
  groups.forEach((grp, gi) => {
    const frac = grp.scale === 'fraction';
    const f = frame(c.svg, 0, top, width, panelHeights[gi], { top: 24, right: 70, bottom: 44, left: 250 }, 'panel');
    f.g.attr('data-scale', grp.scale);
    top += panelHeights[gi];
    const k = frac ? 100 : 1;
    const ext = grp.rows
      .flatMap((d) => [d.estimate, ...(d.ci ?? [])])
      .filter(Number.isFinite)
      .map((v) => v * k);
    const lim = Math.max(1e-9, ...ext.map(Math.abs)) * 1.1;
    const x = d3
      .scaleLinear()
      .domain([Math.min(-lim * 0.1, ...ext) * 1.05, Math.max(lim * 0.1, ...ext) * 1.05])
      .nice()
      .range([0, f.width]);
    const y = d3.scaleBand<number>().domain(d3.range(grp.rows.length)).range([0, f.height]).padding(0.2);
    bottomAxis(f, x, frac ? 'difference (percentage points)' : 'difference (score points)', {
      format: (v) => d3.format('~g')(v),
    });
    panelTitle(f, frac ? 'rates' : 'scores');
    zeroLine(f, x(0), MUTED);
    grp.rows.forEach((d, r) => {
      const cy = y(r)! + y.bandwidth() / 2;
      const row = f.g
        .append('g')
        .attr('class', 'diff')
        .attr('data-metric', d.metric)
        .attr('data-a', d.a)
        .attr('data-b', d.b);
      row
        .append('text')
        .attr('x', -8)
        .attr('y', cy)
        .attr('dy', '0.35em')
        .attr('text-anchor', 'end')
        .text(`${metricInfo(d.metric).label}: ${d.a} − ${d.b}`);
      if (d.ci?.every(Number.isFinite)) {
        row
          .append('line')
          .attr('class', 'ci-line')
          .attr('x1', x(d.ci[0] * k))
          .attr('x2', x(d.ci[1] * k))
          .attr('y1', cy)
          .attr('y2', cy)
          .attr('stroke', INK)
          .attr('stroke-width', 1.5);
      }
      if (Number.isFinite(d.estimate))
        row
          .append('circle')
          .attr('class', 'point')
          .attr('cx', x(d.estimate * k))
          .attr('cy', cy)
          .attr('r', 4)
          .attr('fill', INK);
      if (d.p !== undefined)
        row
          .append('text')
          .attr('x', f.width + 6)
          .attr('y', cy)
          .attr('dy', '0.35em')
          .attr('font-size', 10)
          .text(`p = ${d.p < 0.001 ? '< 0.001' : num(d.p, 3)}`);
    });
  });
  return c.finish(
    name,
    'Differences between conditions',
    `Differences between conditions (a − b). Points: estimates; lines: ${ciDescription(bootstrap)}; p: two-sided permutation test within units. Dashed: no difference; a point without a line has an undefined CI (too few trials to resample).`,
  );
}
