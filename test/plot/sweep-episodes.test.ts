// Boost-sweep and episode figures from known numbers: sweep points are the per-level shares counted by
// hand from the trial store, traces are the per-bin means and t intervals computed here by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { meanCi, regionMeansPlot, tracesPlot } from '../../lib/plot/episodes.ts';
import { isSweep, sweepPlot, sweepPoints } from '../../lib/plot/sweep.ts';
import { readTrials } from '../../lib/trials/store.ts';
import { axisMap, num, parseSvg, pathPoints } from '../fixtures/plot/svg.ts';

const close = (a: number, b: number, tol = 0.01): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const SWEEP = join(import.meta.dirname, '..', 'fixtures', 'plot', 'sweep.jsonl');

test('sweepPoints: one point per (boost, condition) with the hand-counted multi-attempt share', () => {
  const trials = readTrials(SWEEP);
  const { points } = sweepPoints(trials, { resamples: 200 });
  assert.equal(points.length, 4 * 2);
  for (const p of points) {
    const counted = trials.filter(
      (t) =>
        t.boost === p.boost &&
        t.condition === p.condition &&
        !t.error &&
        t.judge &&
        !t.judge.error &&
        t.judge.attempts.length > 0,
    );
    assert.equal(p.n_trials, counted.length);
    close(
      p.metrics.multi_attempt_rate.estimate,
      counted.filter((t) => t.judge!.attempts.length > 1).length / counted.length,
      1e-12,
    );
  }
});

test('sweep plot: points at (boost, estimate), a CI band per condition and metric', () => {
  const mk = (boost: number, condition: string, m: number, lo: number, hi: number) => ({
    boost,
    condition,
    n_trials: 30,
    metrics: {
      multi_attempt_rate: { estimate: m, ci: [lo, hi] as [number, number] },
      esr_rate: { estimate: m / 2, ci: [lo / 2, hi / 2] as [number, number] },
      first_attempt_score: { estimate: 30 + boost, ci: [25, 35 + boost] as [number, number] },
    },
  });
  const points = [
    mk(0.5, 'baseline', 0.1, 0.05, 0.15),
    mk(1, 'baseline', 0.2, 0.12, 0.3),
    mk(2, 'baseline', 0.4, 0.3, 0.5),
    mk(0.5, 'ablate', 0.05, 0.01, 0.1),
    mk(1, 'ablate', 0.1, 0.05, 0.16),
    mk(2, 'ablate', 0.2, 0.12, 0.3),
  ];
  const svg = parseSvg(sweepPlot(points, { xLabel: 'boost / threshold' }).svg);
  for (const panel of svg.querySelectorAll('g.panel')) {
    const metric = panel.getAttribute('data-metric')!;
    const x = axisMap(panel.querySelector('.x-axis')!, 'x');
    const y = axisMap(panel.querySelector('.y-axis')!, 'y');
    const circles = [...panel.querySelectorAll('circle.point')];
    assert.equal(circles.length, 6);
    for (const c of circles) {
      const p = points.find(
        (q) => q.condition === c.getAttribute('data-condition') && Math.abs(x(q.boost) - num(c, 'cx')) < 0.01,
      )!;
      assert.ok(p, 'a point at a boost level');
      close(num(c, 'cy'), y((p.metrics as any)[metric].estimate));
    }
    assert.equal(panel.querySelectorAll('path.band').length, 2);
    // the band's upper edge runs through the CI upper bounds
    const band = pathPoints(panel.querySelector('path.band[data-condition="baseline"]')!.getAttribute('d')!);
    const his = points.filter((p) => p.condition === 'baseline').map((p) => y((p.metrics as any)[metric].ci[1]));
    his.forEach((h, i) => close(band[i][1], h));
  }
  assert.ok([...svg.querySelectorAll('text.x-label')].every((t) => t.textContent === 'boost / threshold'));
});

test('meanCi: t interval by hand (values 1, 2, 3, 4: t(0.975, 3) = 3.182446)', () => {
  const r = meanCi([1, 2, 3, 4, NaN]);
  assert.equal(r.n, 4);
  const half = 3.182446305284263 * (Math.sqrt(5 / 3) / 2);
  close(r.ci[0], 2.5 - half, 1e-9);
  close(r.ci[1], 2.5 + half, 1e-9);
  assert.ok(meanCi([7]).ci.every(Number.isNaN));
});

test('traces: mean line through the per-bin means, band through the t CIs', () => {
  const bins = 50;
  const traces = [0, 1, 2].map((e) => Array.from({ length: bins }, (_, b) => (b < 20 ? 2 + e : 0.5 + 0.1 * e)));
  const svg = parseSvg(tracesPlot([{ latent: 42, traces }]).svg);
  const panel = svg.querySelector('g.panel[data-latent="42"]')!;
  const x = axisMap(panel.querySelector('.x-axis')!, 'x');
  const y = axisMap(panel.querySelector('.y-axis')!, 'y');
  const line = pathPoints(panel.querySelector('path.line')!.getAttribute('d')!);
  assert.equal(line.length, bins);
  // bins are numbered from 1 on the axis
  line.forEach(([px, py], b) => {
    close(px, x(b + 1));
    close(py, y(b < 20 ? 3 : 0.6));
  });
  const band = pathPoints(panel.querySelector('path.band')!.getAttribute('d')!);
  const half = 4.302652729911275 * (1 / Math.sqrt(3)); // sd of (2, 3, 4) = 1
  close(band[0][1], y(3 + half));
  assert.match(panel.querySelector('.panel-title')!.textContent!, /n = 3/);
});

test('region means: one point per latent and region at its mean, CI lines at its bounds', () => {
  const rows = [
    {
      latent: 3,
      regions: {
        off_topic: { mean: 4.4, ci: [3.9, 4.9] as [number, number], n: 20 },
        correction: { mean: 2.1, ci: [1.5, 2.7] as [number, number], n: 20 },
        on_topic: { mean: 1, ci: [0.8, 1.2] as [number, number], n: 20 },
      },
    },
    {
      latent: 9,
      regions: {
        off_topic: { mean: 1.2, ci: [1, 1.4] as [number, number], n: 18 },
        on_topic: { mean: 1.1, ci: [NaN, NaN] as [number, number], n: 1 },
      },
    },
  ];
  const fig = regionMeansPlot(rows);
  const svg = parseSvg(fig.svg);
  const panel = svg.querySelector('g.panel')!;
  const y = axisMap(panel.querySelector('.y-axis')!, 'y');
  const regions = [...panel.querySelectorAll('g.region')];
  assert.equal(regions.length, 5);
  for (const g of regions) {
    const r = rows.find((q) => String(q.latent) === g.getAttribute('data-latent'))!.regions as any;
    const s = r[g.getAttribute('data-region')!];
    close(num(g.querySelector('circle.point')!, 'cy'), y(s.mean));
    const ci = g.querySelector('.ci-line');
    if (Number.isFinite(s.ci[0])) {
      close(num(ci!, 'y1'), y(s.ci[0]));
      close(num(ci!, 'y2'), y(s.ci[1]));
    } else assert.equal(ci, null);
  }
  assert.match(fig.caption, /up to 20 episodes/);
});

test('a sweep is recognised by feature: per-feature calibrated boosts are not one, boost levels in threshold spreads are', () => {
  const base = readTrials(SWEEP);
  // Each feature at its own single boost (calibration without a sweep): no sweep.
  const calibrated = base.filter((t) => t.boost === 0.5).map((t) => ({ ...t, boost: 0.1 * t.feature }));
  assert.equal(isSweep(calibrated), false);
  assert.equal(isSweep(base), true);
  // ablate --boost-sweep: boosts differ per feature, levels are shared; points sit at the levels.
  const levels = base.map((t) => ({
    ...t,
    boost: (t.boost ?? 0) + 0.01 * t.feature,
    provenance: { ...t.provenance, boost_level: (t.boost ?? 0) - 1 },
  }));
  assert.equal(isSweep(levels), true);
  assert.deepEqual([...new Set(sweepPoints(levels, { resamples: 50 }).points.map((p) => p.boost))], [-0.5, 0, 0.5, 1]);
});
