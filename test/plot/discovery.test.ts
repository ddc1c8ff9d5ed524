// Discovery figures of a run directory made from a store with planted latents: the detector is
// highlighted where its statistics put it, per-derangement AUCs and selection counts match the
// planted values, and distributions show the hand-known shares.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { writeFigures } from '../../lib/plot/run.ts';
import { findDetectors } from '../../lib/stats/detectors.ts';
import { writeLatentSet } from '../../lib/stats/latentSet.ts';
import { writeRanking } from '../../lib/stats/rankingFile.ts';
import { openStore } from '../../lib/store/reader.ts';
import { writePlantedStore } from '../fixtures/plot/store.ts';
import { axisMap, num, parseSvg, pathPoints, pngSize } from '../fixtures/plot/svg.ts';
import { assertExit, runCli } from '../support/cli.ts';

const close = (a: number, b: number, tol = 0.01): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

async function plantedRun(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'plot-discovery-'));
  await writePlantedStore(join(dir, 'activations.acts'));
  // latent 5 (AUC 1 in 2 of 3 derangements) is not above every on-topic sample overall: unselected, as the figures below expect
  const r = await findDetectors(openStore(join(dir, 'activations.acts')));
  writeRanking(join(dir, 'ranking.arrow'), r.stats, r.order, r.selected);
  writeLatentSet(join(dir, 'latents.json'), r.latentSet);
  return dir;
}

const runDir = plantedRun();
const figure = (dir: string, name: string): Element =>
  parseSvg(readFileSync(join(dir, 'figures', `${name}.svg`), 'utf8'));

test('writeFigures: a discovery run gets ranking, distributions and stability as SVG + PNG with an index', async () => {
  const dir = await runDir;
  const written = await writeFigures(dir);
  assert.deepEqual(
    written.map((w) => w.name),
    ['discovery-ranking', 'discovery-distributions', 'discovery-stability'],
  );
  const index = JSON.parse(readFileSync(join(dir, 'figures', 'index.json'), 'utf8'));
  assert.deepEqual(
    index.figures.map((f: any) => f.png),
    written.map((w) => `${w.name}.png`),
  );
  for (const w of written) {
    const svg = readFileSync(join(dir, 'figures', w.svg), 'utf8');
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    assert.equal(pngSize(readFileSync(join(dir, 'figures', w.png))).width, 3 * width);
    assert.ok(w.caption.includes('n = ') || w.caption.includes('samples'), w.caption);
  }
});

test('ranking: the planted detector is the one highlighted, at (strat_auc, −log10 q) from ranking.arrow', async () => {
  const dir = await runDir;
  if (!existsSync(join(dir, 'figures'))) await writeFigures(dir);
  const svg = figure(dir, 'discovery-ranking');
  const t = tableFromIPC(readFileSync(join(dir, 'ranking.arrow')));
  const row = [...t].find((r: any) => r.latent === 3)!;
  const det = [...svg.querySelectorAll('circle.detector')];
  assert.deepEqual(
    det.map((c) => c.getAttribute('data-latent')),
    ['3'],
  );
  const panel = svg.querySelector('g.panel')!;
  const x = axisMap(panel.querySelector('.x-axis')!, 'x');
  const y = axisMap(panel.querySelector('.y-axis')!, 'y');
  close(num(det[0], 'cx'), x(row.strat_auc));
  close(num(det[0], 'cy'), y(-Math.log10(row.q_bh)));
  assert.equal(row.strat_auc, 1);
  assert.ok([...svg.querySelectorAll('text.point-label')].some((e) => e.textContent === '3'));
  // latent 1 is 1 on every on-topic sample and 0 off-topic: strat_auc 0, q = 1, at the origin
  const l1 = svg.querySelector('circle[data-latent="1"]')!;
  close(num(l1, 'cx'), x(0));
  close(num(l1, 'cy'), y(0));
});

test('stability: per-derangement AUCs 1, 1, 0.5 for latent 5 (selected in 2 of 3), 1 ×3 for latent 3', async () => {
  const dir = await runDir;
  if (!existsSync(join(dir, 'figures'))) await writeFigures(dir);
  const svg = figure(dir, 'discovery-stability');
  const panel = svg.querySelector('g.panel')!;
  const y = axisMap(panel.querySelector('.y-axis')!, 'y');
  const expected: Record<string, [number[], string]> = {
    '3': [[1, 1, 1], '3/3'],
    '5': [[1, 1, 0.5], '2/3'],
    '7': [[0.5, 0.5, 0.5], '0/3'],
  };
  for (const [latent, [aucs, freq]] of Object.entries(expected)) {
    const g = panel.querySelector(`g.latent[data-latent="${latent}"]`)!;
    const pts = [...g.querySelectorAll('circle.point')].sort(
      (a, b) => Number(a.getAttribute('data-derangement')) - Number(b.getAttribute('data-derangement')),
    );
    assert.equal(pts.length, 3);
    pts.forEach((p, k) => close(num(p, 'cy'), y(aucs[k])));
    assert.equal(g.querySelector('text.freq')!.textContent, freq);
    const mean = aucs.reduce((s, v) => s + v, 0) / 3;
    close(num(g.querySelector('line.mean')!, 'y1'), y(mean));
  }
});

test('distributions: latent 3 is zero on every on-topic sample (100% in the first bin)', async () => {
  const dir = await runDir;
  if (!existsSync(join(dir, 'figures'))) await writeFigures(dir);
  const svg = figure(dir, 'discovery-distributions');
  const panel = svg.querySelector('g.panel[data-latent="3"]')!;
  const y = axisMap(panel.querySelector('.y-axis')!, 'y');
  const x = axisMap(panel.querySelector('.x-axis')!, 'x');
  const on = pathPoints(panel.querySelector('path.dist[data-group="on_topic"]')!.getAttribute('d')!);
  close(on[0][0], x(0));
  close(on[0][1], y(1));
  for (const [, py] of on.slice(2)) close(py, y(0));
  // off-topic values 2.0 … 2.7 (8 per derangement): no sample in the first bin
  const off = pathPoints(panel.querySelector('path.dist[data-group="off_topic"]')!.getAttribute('d')!);
  close(off[0][1], y(0));
  const shares = off.filter((_, i) => i % 2 === 0).map(([, py]) => py);
  const total = shares.reduce((s, py) => s + (y(0) - py) / (y(0) - y(1)), 0);
  close(total, 1, 1e-3);
});

test('analyze plot: a directory with nothing to draw is not an error; a missing one is bad input', () => {
  const empty = mkdtempSync(join(tmpdir(), 'plot-empty-'));
  let r = runCli(['plot', empty]);
  assertExit(r, 0);
  assert.match(r.stdout, /no figure to draw/);
  r = runCli(['plot', join(empty, 'nope')]);
  assertExit(r, 2, /run directory not found/);
});
