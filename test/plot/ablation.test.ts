// Ablation figures drawn from hand-made metrics: bars, whiskers and histogram bins must sit where the
// figure's own axis tick labels say the data values are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conditionBars, pairedDifferences, scoreDeltaHistograms } from '../../lib/plot/ablation.ts';
import type { MetricsSummary } from '../../lib/plot/metricsInfo.ts';
import { svgToPng } from '../../lib/plot/render.ts';
import { PALETTE } from '../../lib/plot/theme.ts';
import { axisMap, num, parseSvg, pathPoints, pngSize } from '../fixtures/plot/svg.ts';

const close = (a: number, b: number, tol = 0.01): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

// The paper's headline numbers (Llama-3.3-70B) with made-up CIs; `random` has an undefined CI.
const METRICS: MetricsSummary = {
  conditions: {
    baseline: {
      n_trials: 4877,
      n_clusters: 975,
      metrics: {
        multi_attempt_rate: { estimate: 0.074, ci: [0.066, 0.083] },
        esr_rate: { estimate: 0.038, ci: [0.032, 0.045] },
        first_attempt_score: { estimate: 26.3, ci: [25.1, 27.6] },
      },
    },
    ablate: {
      n_trials: 4875,
      n_clusters: 975,
      metrics: {
        multi_attempt_rate: { estimate: 0.055, ci: [0.048, 0.063] },
        esr_rate: { estimate: 0.028, ci: [0.023, 0.034] },
        first_attempt_score: { estimate: 27.4, ci: [26.2, 28.7] },
      },
    },
    random: {
      n_trials: 50,
      n_clusters: 10,
      metrics: {
        multi_attempt_rate: { estimate: 0.06, ci: null },
        esr_rate: { estimate: 0.02, ci: [NaN, NaN] },
        first_attempt_score: { estimate: 25, ci: [20, 30] },
      },
    },
  },
  bootstrap: { resamples: 10000, seed: 0, cluster: 'feature', level: 0.95, ci: 'bca' },
};

test('condition bars: one bar per condition and metric at its estimate, whiskers at its CI', () => {
  const fig = conditionBars(METRICS);
  const svg = parseSvg(fig.svg);
  const panels = [...svg.querySelectorAll('g.panel')];
  assert.deepEqual(
    panels.map((p) => p.getAttribute('data-metric')),
    ['multi_attempt_rate', 'esr_rate', 'first_attempt_score'],
  );
  for (const panel of panels) {
    const metric = panel.getAttribute('data-metric')!;
    const y = axisMap(panel.querySelector('.y-axis')!, 'y');
    const bars = [...panel.querySelectorAll('rect.bar')];
    assert.equal(bars.length, 3);
    for (const bar of bars) {
      const v = METRICS.conditions[bar.getAttribute('data-condition')!].metrics[metric];
      close(num(bar, 'y'), y(v.estimate));
      close(num(bar, 'y') + num(bar, 'height'), y(0));
    }
    const whiskers = [...panel.querySelectorAll('g.ci')];
    const expected = Object.entries(METRICS.conditions).filter(([, c]) => c.metrics[metric].ci?.every(Number.isFinite));
    assert.equal(whiskers.length, expected.length, `${metric}: whiskers only where the CI is defined`);
    for (const w of whiskers) {
      const cond = w.getAttribute('data-condition')!;
      const [lo, hi] = METRICS.conditions[cond].metrics[metric].ci!;
      const line = w.querySelector('.ci-line')!;
      close(num(line, 'y1'), y(lo));
      close(num(line, 'y2'), y(hi));
      const bar = bars.find((b) => b.getAttribute('data-condition') === cond)!;
      close(num(line, 'x1'), num(bar, 'x') + num(bar, 'width') / 2);
    }
  }
  // colour-blind-safe colours, one per condition, the same in every panel
  const fills = [...svg.querySelectorAll('rect.bar')].map((b) => b.getAttribute('fill')!);
  assert.equal(new Set(fills).size, 3);
  for (const f of fills) assert.ok((PALETTE as readonly string[]).includes(f), f);
  assert.match(fig.caption, /baseline n = 4,877 trials \(975 features\)/);
  assert.match(fig.caption, /95% BCa cluster-bootstrap CIs \(10,000 resamples over features, seed 0\)/);
});

test('score-delta histograms: bins of 10 points with the hand-counted number of trials', () => {
  const deltas = new Map([
    ['baseline', [-15, 5, 5, 20, 100, -100]],
    ['ablate', [0, 9.5, 10]],
  ]);
  // hand counts: [x0 → count]; a bin is [x0, x0 + 10), and the last one includes 100
  const expected: Record<string, Record<number, number>> = {
    baseline: { [-20]: 1, 0: 2, 20: 1, 90: 1, [-100]: 1 },
    ablate: { 0: 2, 10: 1 },
  };
  const fig = scoreDeltaHistograms(deltas);
  const svg = parseSvg(fig.svg);
  const panels = [...svg.querySelectorAll('g.panel')];
  assert.equal(panels.length, 2);
  const lastX = axisMap(panels[1].querySelector('.x-axis')!, 'x');
  for (const panel of panels) {
    const cond = panel.getAttribute('data-condition')!;
    const y = axisMap(panel.querySelector('.y-axis')!, 'y');
    const bars = [...panel.querySelectorAll('rect.hist-bar')];
    assert.equal(bars.length, 20);
    for (const bar of bars) {
      const x0 = Number(bar.getAttribute('data-x0'));
      const count = expected[cond][x0] ?? 0;
      close(num(bar, 'y'), y(count));
      close(num(bar, 'y') + num(bar, 'height'), y(0));
      close(num(bar, 'x'), lastX(x0) + 0.5);
    }
  }
  assert.match(fig.caption, /baseline 6, ablate 3/);
});

test('paired differences: points and CI lines at the differences, rates in percentage points', () => {
  const diffs = [
    {
      a: 'ablate',
      b: 'baseline',
      metric: 'multi_attempt_rate',
      estimate: -0.019,
      ci: [-0.03, -0.008] as [number, number],
      p: 0.002,
    },
    {
      a: 'ablate',
      b: 'baseline',
      metric: 'esr_rate',
      estimate: -0.01,
      ci: [-0.018, -0.002] as [number, number],
      p: 0.01,
    },
    {
      a: 'ablate',
      b: 'baseline',
      metric: 'first_attempt_score',
      estimate: 1.1,
      ci: [-0.6, 2.8] as [number, number],
      p: 0.2,
    },
  ];
  const svg = parseSvg(pairedDifferences(diffs, METRICS.bootstrap).svg);
  const panels = [...svg.querySelectorAll('g.panel')];
  assert.deepEqual(
    panels.map((p) => p.getAttribute('data-scale')),
    ['fraction', 'score'],
  );
  for (const panel of panels) {
    const k = panel.getAttribute('data-scale') === 'fraction' ? 100 : 1;
    const x = axisMap(panel.querySelector('.x-axis')!, 'x');
    for (const row of panel.querySelectorAll('g.diff')) {
      const d = diffs.find((e) => e.metric === row.getAttribute('data-metric'))!;
      close(num(row.querySelector('circle.point')!, 'cx'), x(d.estimate * k));
      close(num(row.querySelector('.ci-line')!, 'x1'), x(d.ci[0] * k));
      close(num(row.querySelector('.ci-line')!, 'x2'), x(d.ci[1] * k));
    }
    close(num(panel.querySelector('line.zero')!, 'x1'), x(0));
  }
  assert.equal(svg.querySelectorAll('g.diff').length, 3);
});

test('PNG: rasterised at 3× the SVG size', () => {
  const fig = conditionBars(METRICS);
  const size = pngSize(svgToPng(fig.svg));
  assert.deepEqual(size, { width: 3 * fig.width, height: 3 * fig.height });
  // the parse helper itself: an M/L path's vertices
  assert.deepEqual(pathPoints('M1,2L3.5,-4'), [
    [1, 2],
    [3.5, -4],
  ]);
});
