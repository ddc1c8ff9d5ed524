// Self-correction episodes: mean activation of each latent in the off-topic, correction and on-topic
// regions (with CIs), and activation traces over the response normalised to 50 bins with CI bands.
import * as d3 from 'd3';
import { tQuantile } from '../stats/dists.ts';
import { bottomAxis, canvas, type Figure, frame, leftAxis, legend, panelTitle } from './figure.ts';
import { colourMap, NAMED_COLOURS } from './theme.ts';

export const REGIONS = ['off_topic', 'correction', 'on_topic'] as const;

export interface RegionStat {
  mean: number;
  ci: [number, number];
  n: number;
}

export interface LatentRegions {
  latent: number;
  label?: string;
  regions: Partial<Record<(typeof REGIONS)[number], RegionStat>>;
}

/** Mean and t-based CI of values (NaN entries skipped); the CI is undefined for fewer than 2 values. */
export function meanCi(values: ArrayLike<number>, level = 0.95): RegionStat {
  const v = Array.from(values).filter(Number.isFinite);
  const n = v.length;
  const mean = n ? d3.mean(v)! : NaN;
  if (n < 2) return { mean, ci: [NaN, NaN], n };
  const half = tQuantile(1 - (1 - level) / 2, n - 1) * (d3.deviation(v)! / Math.sqrt(n));
  return { mean, ci: [mean - half, mean + half], n };
}

/** Dodged points with CI whiskers: for each latent, one per region. */
export function regionMeansPlot(
  rows: LatentRegions[],
  o: { name?: string; level?: number; ciMethod?: string } = {},
): Figure {
  const width = Math.max(360, 80 + rows.length * 44);
  const height = 280;
  const c = canvas(width, height);
  const f = frame(c.svg, 0, 0, width, height, { top: 34, right: 12, bottom: 46, left: 56 });
  const x = d3
    .scaleBand<number>()
    .domain(rows.map((r) => r.latent))
    .range([0, f.width])
    .padding(0.2);
  const dodge = d3
    .scaleBand<string>()
    .domain([...REGIONS])
    .range([0, x.bandwidth()])
    .padding(0.2);
  const vals = rows
    .flatMap((r) => REGIONS.flatMap((g) => (r.regions[g] ? [r.regions[g]!.mean, ...r.regions[g]!.ci] : [])))
    .filter(Number.isFinite);
  const y = d3
    .scaleLinear()
    .domain([Math.min(0, ...vals), Math.max(...vals, 1e-6) * 1.05])
    .nice()
    .range([f.height, 0]);
  leftAxis(f, y, 'mean activation in region');
  bottomAxis(f, x, 'latent', { labelOffset: 34 });
  for (const r of rows) {
    for (const g of REGIONS) {
      const s = r.regions[g];
      if (!s || !Number.isFinite(s.mean)) continue;
      const cx = x(r.latent)! + dodge(g)! + dodge.bandwidth() / 2;
      const el = f.g.append('g').attr('class', 'region').attr('data-latent', r.latent).attr('data-region', g);
      if (s.ci.every(Number.isFinite))
        el.append('line')
          .attr('class', 'ci-line')
          .attr('x1', cx)
          .attr('x2', cx)
          .attr('y1', y(s.ci[0]))
          .attr('y2', y(s.ci[1]))
          .attr('stroke', NAMED_COLOURS[g])
          .attr('stroke-width', 1.5);
      el.append('circle')
        .attr('class', 'point')
        .attr('cx', cx)
        .attr('cy', y(s.mean))
        .attr('r', 3.5)
        .attr('fill', NAMED_COLOURS[g]);
    }
  }
  legend(
    c.svg,
    f.margin.left,
    16,
    REGIONS.map((g) => ({ label: g.replace('_', '-'), colour: NAMED_COLOURS[g], shape: 'circle' as const })),
  );
  const n = Math.max(0, ...rows.flatMap((r) => REGIONS.map((g) => r.regions[g]?.n ?? 0)));
  const level = Math.round(100 * (o.level ?? 0.95));
  return c.finish(
    o.name ?? 'episodes-regions',
    'Detector activation by episode region',
    `Per-episode mean activation of each latent in the off-topic, correction and on-topic regions of self-correction episodes, averaged over episodes (points) with ${level}% ${o.ciMethod ?? 't'} CIs (lines); up to ${n} episodes per region.`,
  );
}

export interface LatentTraces {
  latent: number;
  label?: string;
  /** [episodes][bins]: activation averaged within each of the response's equal-length bins. */
  traces: number[][];
}

/** Small multiples: per latent, the mean trace over episodes with a t-based CI band per bin. */
export function tracesPlot(rows: LatentTraces[], o: { name?: string; level?: number; bins?: number } = {}): Figure {
  const cols = Math.min(3, rows.length);
  const panelW = 230;
  const panelH = 160;
  const width = panelW * cols;
  const height = panelH * Math.ceil(rows.length / cols);
  const c = canvas(width, height);
  const colours = colourMap(['off_topic']);
  rows.forEach((r, i) => {
    const bins = r.traces[0]?.length ?? o.bins ?? 50;
    const stats = d3.range(bins).map((b) =>
      meanCi(
        r.traces.map((t) => t[b]),
        o.level,
      ),
    );
    const f = frame(c.svg, (i % cols) * panelW, Math.floor(i / cols) * panelH, panelW, panelH, {
      top: 22,
      right: 10,
      bottom: 40,
      left: 50,
    });
    f.g.attr('data-latent', r.latent);
    const x = d3.scaleLinear().domain([1, bins]).range([0, f.width]); // bins numbered from 1
    const vals = stats.flatMap((s) => [s.mean, ...s.ci]).filter(Number.isFinite);
    const y = d3
      .scaleLinear()
      .domain([Math.min(0, ...vals), Math.max(...vals, 1e-6)])
      .nice()
      .range([f.height, 0]);
    leftAxis(f, y, 'activation', { ticks: 4 });
    bottomAxis(f, x, `position in response (bin of ${bins})`, { ticks: 5, labelOffset: 30 });
    panelTitle(f, `latent ${r.latent}${r.label ? ` ${r.label.slice(0, 18)}` : ''} (n = ${r.traces.length})`);
    const colour = colours.get('off_topic')!;
    const idx = d3.range(bins).filter((b) => stats[b].ci.every(Number.isFinite));
    f.g
      .append('path')
      .attr('class', 'band')
      .attr(
        'd',
        d3
          .area<number>()
          .x((b) => x(b + 1))
          .y0((b) => y(stats[b].ci[0]))
          .y1((b) => y(stats[b].ci[1]))(idx) ?? '',
      )
      .attr('fill', colour)
      .attr('fill-opacity', 0.2);
    const idm = d3.range(bins).filter((b) => Number.isFinite(stats[b].mean));
    f.g
      .append('path')
      .attr('class', 'line')
      .attr(
        'd',
        d3
          .line<number>()
          .x((b) => x(b + 1))
          .y((b) => y(stats[b].mean))(idm) ?? '',
      )
      .attr('fill', 'none')
      .attr('stroke', colour)
      .attr('stroke-width', 1.6);
  });
  const level = Math.round(100 * (o.level ?? 0.95));
  return c.finish(
    o.name ?? 'episodes-traces',
    'Detector activation along self-correction responses',
    `Activation of each latent along the response, each episode's tokens averaged into ${rows[0]?.traces[0]?.length ?? 50} equal bins; line: mean over episodes, band: ${level}% t CI per bin; n = episodes.`,
  );
}
