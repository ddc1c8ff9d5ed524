// Detector-discovery figures: the ranking (effect size against −log10 q, detectors highlighted and
// labelled), pooled activation distributions on- vs off-topic for the top latents, and stability of
// each top latent's separation across derangements.
import * as d3 from 'd3';
import { bottomAxis, canvas, type Figure, frame, leftAxis, legend, panelTitle } from './figure.ts';
import { colourMap, INK, MUTED, NAMED_COLOURS } from './theme.ts';

export interface RankingPoint {
  latent: number;
  effect: number;
  q: number;
  selected: boolean;
  rank: number;
  label?: string;
}

/** −log10 q, with q = 0 (underflow) drawn at the largest finite value seen, marked as a floor. */
function negLog10(q: number[]): { y: number[]; capped: boolean[] } {
  const raw = q.map((v) => -Math.log10(v));
  const finiteMax = Math.max(0, ...raw.filter(Number.isFinite));
  return { y: raw.map((v) => (v === Infinity ? finiteMax : v)), capped: raw.map((v) => v === Infinity) };
}

/**
 * Effect size (x) against −log10 q (y) for every latent with both defined. Points that fall on the
 * same pixel are drawn once (tens of thousands of latents stay a small file); detectors are all
 * drawn, on top, and up to `maxLabels` of them (in rank order) are labelled.
 */
export function rankingPlot(
  points: RankingPoint[],
  o: {
    effectLabel?: string;
    /** What the q-values adjust, for the caption (default: the within-prompt test's p_strat). */
    test?: string;
    /** 'by': the q-values are Benjamini–Yekutieli's. */
    fdr?: 'bh' | 'by';
    rule?: string;
    nA?: number;
    nB?: number;
    maxLabels?: number;
    name?: string;
  } = {},
): Figure {
  // A latent with no variance in either group has d = ±∞: drawn at the edge of the finite range, outlined.
  const usable = points.filter(
    (p) => !Number.isNaN(p.effect) && p.effect !== null && !Number.isNaN(p.q) && p.q !== null,
  );
  const { y: ys, capped } = negLog10(usable.map((p) => p.q));
  const finite = usable.map((p) => p.effect).filter(Number.isFinite);
  const [lo, hi] = finite.length ? [Math.min(0, ...finite), Math.max(0, ...finite)] : [-1, 1];
  const infinite = usable.map((p) => !Number.isFinite(p.effect));
  const width = 400;
  const height = 320;
  const c = canvas(width, height);
  const f = frame(c.svg, 0, 0, width, height, { top: 28, right: 16, bottom: 46, left: 52 });
  const x = d3.scaleLinear().domain([lo, hi]).nice().range([0, f.width]);
  const [left, right] = x.domain();
  const xs = usable.map((p) => (p.effect === Infinity ? right : p.effect === -Infinity ? left : p.effect));
  const y = d3
    .scaleLinear()
    .domain([0, Math.max(1, ...ys)])
    .nice()
    .range([f.height, 0]);
  const fdrName = o.fdr === 'by' ? 'Benjamini–Yekutieli' : 'Benjamini–Hochberg';
  leftAxis(f, y, `−log10 q (${o.fdr === 'by' ? 'BY' : 'BH'})`);
  bottomAxis(f, x, o.effectLabel ?? 'strat_auc (within-prompt AUC)');
  const seen = new Set<string>();
  const others = f.g.append('g').attr('class', 'others');
  const detectors = f.g.append('g').attr('class', 'detectors');
  const order = usable.map((_, i) => i).sort((a, b) => usable[a].rank - usable[b].rank);
  for (const i of order) {
    const p = usable[i];
    const cx = x(xs[i]);
    const cy = y(ys[i]);
    const cls = infinite[i] ? 'point infinite' : 'point';
    if (p.selected) {
      detectors
        .append('circle')
        .attr('class', `${cls} detector`)
        .attr('data-latent', p.latent)
        .attr('cx', cx)
        .attr('cy', cy)
        .attr('r', 3.5)
        .attr('fill', NAMED_COLOURS.off_topic)
        .attr('stroke', infinite[i] ? INK : '#ffffff')
        .attr('stroke-width', infinite[i] ? 1.2 : 0.6);
      continue;
    }
    const key = `${Math.round(cx)},${Math.round(cy)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dot = others
      .append('circle')
      .attr('class', cls)
      .attr('data-latent', p.latent)
      .attr('cx', cx)
      .attr('cy', cy)
      .attr('r', 2)
      .attr('fill', MUTED)
      .attr('fill-opacity', 0.7);
    if (infinite[i]) dot.attr('r', 3).attr('stroke', INK).attr('stroke-width', 1);
  }
  const sel = order.filter((i) => usable[i].selected);
  const labelled = (sel.length ? sel : order).slice(0, o.maxLabels ?? 8);
  const placed: [number, number][] = [];
  for (const i of labelled) {
    const p = usable[i];
    const [px, py] = [x(xs[i]), y(ys[i])];
    // skip a label that would overprint one already placed (the caption names the labelled set)
    if (placed.some(([qx, qy]) => Math.abs(qx - px) < 30 && Math.abs(qy - py) < 11)) continue;
    placed.push([px, py]);
    const right = px < f.width * 0.7;
    f.g
      .append('text')
      .attr('class', 'point-label')
      .attr('x', px + (right ? 5 : -5))
      .attr('y', py - 4)
      .attr('text-anchor', right ? 'start' : 'end')
      .attr('font-size', 9)
      .text(p.label ? `${p.latent} ${p.label.slice(0, 24)}` : String(p.latent));
  }
  const notes = [
    capped.some(Boolean) ? 'q = 0 is drawn at the largest finite −log10 q' : '',
    infinite.some(Boolean)
      ? 'outlined points have d = ±∞ (no variance in either group) and are drawn at the edge of the axis'
      : '',
  ].filter(Boolean);
  legend(c.svg, f.margin.left, 14, [
    { label: `detectors (${sel.length})`, colour: NAMED_COLOURS.off_topic, shape: 'circle' },
    { label: 'other latents', colour: MUTED, shape: 'circle' },
  ]);
  const ns = o.nA !== undefined ? ` n = ${o.nA} off-topic vs ${o.nB} on-topic samples.` : '';
  const labelNote = `${sel.length ? '' : 'no latent passed the rule; '}labelled: ${placed.length === labelled.length ? '' : 'where they do not overlap, '}the top ${labelled.length} ${sel.length ? 'detectors' : 'latents'} by rank`;
  return c.finish(
    o.name ?? 'discovery-ranking',
    'Latent ranking: effect size against significance',
    `Every latent (${usable.length.toLocaleString('en-US')}): effect size against −log10 of the ${fdrName} q of ${o.test ?? "the within-prompt rank test's p_strat (one-sided, off-topic higher)"}; detectors${o.rule ? ` (rule: ${o.rule})` : ''} in colour, ${labelNote}.${notes.length ? ` ${notes.join('; ')}.` : ''}${ns}`,
  );
}

export interface LatentDistribution {
  latent: number;
  label?: string;
  /** Pooled value of every sample, per group (e.g. off_topic, on_topic); zeros included. */
  groups: Record<string, number[]>;
}

/** Small multiples: for each latent, the share of samples per pooled-activation bin, one step line per group. */
export function activationDistributions(
  dists: LatentDistribution[],
  o: { pool?: string; span?: string; bins?: number; name?: string } = {},
): Figure {
  const cols = Math.min(3, dists.length);
  const rows = Math.ceil(dists.length / cols);
  const panelW = 220;
  const panelH = 150;
  const width = panelW * cols;
  const height = 26 + panelH * rows;
  const c = canvas(width, height);
  const groupNames = [...new Set(dists.flatMap((d) => Object.keys(d.groups)))];
  const colours = colourMap(groupNames);
  dists.forEach((d, i) => {
    const f = frame(c.svg, (i % cols) * panelW, 26 + Math.floor(i / cols) * panelH, panelW, panelH, {
      top: 20,
      right: 10,
      bottom: 36,
      left: 58,
    });
    f.g.attr('data-latent', d.latent);
    const all = Object.values(d.groups).flat();
    const hi = Math.max(...all, 1e-9);
    const x = d3.scaleLinear().domain([0, hi]).nice().range([0, f.width]);
    const bin = d3
      .bin()
      .domain(x.domain() as [number, number])
      .thresholds(x.ticks(o.bins ?? 20));
    const shares = groupNames.map((g) => {
      const v = d.groups[g] ?? [];
      return {
        g,
        n: v.length,
        bins: bin(v).map((b) => ({ x0: b.x0!, x1: b.x1!, share: v.length ? b.length / v.length : 0 })),
      };
    });
    const y = d3
      .scaleLinear()
      .domain([0, Math.max(...shares.flatMap((s) => s.bins.map((b) => b.share)), 0.01)])
      .nice()
      .range([f.height, 0]);
    leftAxis(f, y, 'share of samples', { ticks: 4, format: d3.format('.0%') });
    bottomAxis(f, x, `pooled activation (${o.pool ?? 'max'})`, { ticks: 4, labelOffset: 30 });
    panelTitle(f, `latent ${d.latent}${d.label ? ` ${d.label.slice(0, 18)}` : ''}`);
    for (const s of shares) {
      const pts: [number, number][] = s.bins.flatMap(
        (b) =>
          [
            [x(b.x0), y(b.share)],
            [x(b.x1), y(b.share)],
          ] as [number, number][],
      );
      f.g
        .append('path')
        .attr('class', 'dist')
        .attr('data-group', s.g)
        .attr('d', d3.line()(pts))
        .attr('fill', 'none')
        .attr('stroke', colours.get(s.g)!)
        .attr('stroke-width', 1.6);
    }
  });
  legend(
    c.svg,
    46,
    14,
    groupNames.map((g) => ({ label: g.replace('_', '-'), colour: colours.get(g)!, shape: 'line' as const })),
  );
  const ns = groupNames.map((g) => `${g} n = ${dists[0]?.groups[g]?.length ?? 0}`).join(', ');
  return c.finish(
    o.name ?? 'discovery-distributions',
    'Pooled activations on- and off-topic for the top latents',
    `Distribution of each top-ranked latent's ${o.pool ?? 'max'}-pooled activation over the ${o.span ?? 'response'} span, as the share of samples per bin (zeros in the first bin); ${ns} samples.`,
  );
}

export interface StabilityRow {
  latent: number;
  label?: string;
  /** The separation statistic (e.g. AUC) of this latent in each derangement. */
  perDerangement: number[];
  /** Share of derangements in which the selection rule picks the latent (0–1). */
  selectionFrequency: number;
}

/** One column per latent: its statistic in every derangement (dots) and their mean (bar), with how often it was selected. */
export function stabilityPlot(
  rows: StabilityRow[],
  o: { statistic?: string; rule?: string; name?: string; nOn?: number; nOffPerDerangement?: number } = {},
): Figure {
  const k = rows[0]?.perDerangement.length ?? 0;
  const width = Math.max(360, 70 + rows.length * 30);
  const height = 280;
  const c = canvas(width, height);
  const f = frame(c.svg, 0, 0, width, height, { top: 40, right: 12, bottom: 46, left: 52 });
  const stat = o.statistic ?? 'AUC';
  const x = d3
    .scaleBand<number>()
    .domain(rows.map((r) => r.latent))
    .range([0, f.width])
    .padding(0.25);
  const vals = rows.flatMap((r) => r.perDerangement).filter(Number.isFinite);
  const auc = stat === 'AUC' || stat === 'strat_auc';
  const lo = auc ? Math.min(0.5, ...vals) : Math.min(0, ...vals);
  const y = d3
    .scaleLinear()
    .domain([lo, auc ? 1 : Math.max(...vals, 1)])
    .nice()
    .range([f.height, 0]);
  leftAxis(f, y, `${stat} per derangement`);
  bottomAxis(f, x, 'latent (rank order)', { labelOffset: 34 })
    .selectAll('.tick text')
    .attr('transform', 'rotate(-35)')
    .attr('text-anchor', 'end')
    .attr('dx', '-0.3em')
    .attr('dy', '0.5em');
  rows.forEach((r) => {
    const cx = x(r.latent)! + x.bandwidth() / 2;
    const g = f.g.append('g').attr('class', 'latent').attr('data-latent', r.latent);
    const mean = d3.mean(r.perDerangement.filter(Number.isFinite));
    if (mean !== undefined)
      g.append('line')
        .attr('class', 'mean')
        .attr('x1', cx - x.bandwidth() / 2)
        .attr('x2', cx + x.bandwidth() / 2)
        .attr('y1', y(mean))
        .attr('y2', y(mean))
        .attr('stroke', INK)
        .attr('stroke-width', 2);
    r.perDerangement.forEach((v, j) => {
      if (!Number.isFinite(v)) return;
      const jitter = k > 1 ? (j / (k - 1) - 0.5) * x.bandwidth() * 0.7 : 0;
      g.append('circle')
        .attr('class', 'point')
        .attr('data-derangement', j)
        .attr('cx', cx + jitter)
        .attr('cy', y(v))
        .attr('r', 2.6)
        .attr('fill', NAMED_COLOURS.off_topic)
        .attr('fill-opacity', 0.8);
    });
    g.append('text')
      .attr('class', 'freq')
      .attr('x', cx)
      .attr('y', -6)
      .attr('text-anchor', 'middle')
      .attr('font-size', 9)
      .text(`${Math.round(r.selectionFrequency * k)}/${k}`);
  });
  f.g.append('text').attr('x', 0).attr('y', -24).attr('font-size', 10).text('selected in (of derangements):');
  const ns =
    o.nOn !== undefined
      ? ` Each derangement: ${o.nOffPerDerangement} off-topic samples, each against its prompt's on-topic sample (${o.nOn}).`
      : '';
  return c.finish(
    o.name ?? 'discovery-stability',
    'Stability across derangements',
    `${stat} of each top-ranked latent computed separately in each of ${k} derangements (dots; bar: mean), and how many derangements' statistics the selection rule${o.rule ? ` (${o.rule})` : ''} selects it in (numbers above).${ns}`,
  );
}
