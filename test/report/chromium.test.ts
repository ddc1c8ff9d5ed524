// analyze report: one self-contained HTML file that headless Chromium (Debian's: `npm run setup:system`
// installs it; without it that test skips, saying so) loads with no console errors, no failed requests,
// and every figure decoded as an image.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { writeJsonAtomic } from '../../lib/io/atomic.ts';
import { buildReport } from '../../lib/report/build.ts';
import { findDetectors } from '../../lib/stats/detectors.ts';
import { writeLatentSet } from '../../lib/stats/latentSet.ts';
import { writeRanking } from '../../lib/stats/rankingFile.ts';
import { openStore } from '../../lib/store/reader.ts';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { readTrials } from '../../lib/trials/store.ts';
import { chromiumMissing, withPage } from '../../scripts/chromium.ts';
import { writePlantedStore } from '../fixtures/plot/store.ts';
import { assertExit, runCli } from '../support/cli.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'plot');
const EXPECTED_FIGURES = [
  'discovery-ranking',
  'discovery-distributions',
  'discovery-stability',
  'ablation-metrics',
  'ablation-differences',
  'score-delta-histograms',
];

/** A run directory with a discovery (planted store) and an ablation (heuristic-judged trials + metrics.json). */
async function fullRun(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  await writePlantedStore(join(dir, 'activations.acts'));
  // per-sample units, as the planted store's expectations below (latent 5 passes in 2 of 3 derangements only)
  const r = await findDetectors(openStore(join(dir, 'activations.acts')), { unit: 'sample' });
  writeRanking(join(dir, 'ranking.arrow'), r.stats, r.order, r.selected);
  writeLatentSet(join(dir, 'latents.json'), r.latentSet);
  copyFileSync(join(FIXTURES, 'ablation.jsonl'), join(dir, 'trials.jsonl'));
  writeJsonAtomic(
    join(dir, 'metrics.json'),
    computeMetrics(readTrials(join(dir, 'trials.jsonl')), { resamples: 1000 }),
  );
  return dir;
}

let reported: Promise<string> | undefined;
/** The run directory with the report.html `analyze report` wrote, made by whichever test needs it first. */
const reportedRun = (): Promise<string> =>
  (reported ??= fullRun().then((dir) => {
    assertExit(runCli(['report', dir]), 0);
    return dir;
  }));

test('analyze report writes one self-contained report.html with every figure inline and the heuristic-judge warning', async () => {
  const dir = await reportedRun();
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.deepEqual(
    [...html.matchAll(/<figure id="fig-([^"]+)"/g)].map((m) => m[1]),
    EXPECTED_FIGURES,
  );
  assert.equal([...html.matchAll(/<img src="data:image\/svg\+xml;base64,/g)].length, EXPECTED_FIGURES.length);
  assert.doesNotMatch(html, /(src|href)="(https?:|\/\/)/, 'nothing loaded from outside the file');
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /heuristic judge = approximation/);
  assert.match(html, /separability: AUC = 1/);
  // the planted detector is the one selected, and its row says so
  assert.match(html, /latents selected<\/th><td>1: 3<\/td>/);
  // exclusions are reported, not dropped: one trial error in baseline, one judge error in random
  assert.match(html, /\{&quot;trial_error&quot;:1\}/);
  // numbers sit in right-aligned cells (the stylesheet's td.num), never in a span the stylesheet ignores
  assert.match(html, /<td class="num">3<\/td>/);
  assert.doesNotMatch(html, /<span class="num">/);
});

test('report of an LLM-judged sweep: no heuristic warning; a run directory with nothing in it is bad input', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-sweep-'));
  copyFileSync(join(FIXTURES, 'sweep.jsonl'), join(dir, 'trials.jsonl'));
  const html = await buildReport(dir, { boostLabel: 'boost / threshold' });
  assert.doesNotMatch(html, /heuristic judge = approximation/);
  assert.match(html, /openai:gpt-4o-mini/);
  assert.deepEqual(
    [...html.matchAll(/<figure id="fig-([^"]+)"/g)].map((m) => m[1]),
    ['score-delta-histograms', 'boost-sweep'],
  );
  await assert.rejects(buildReport(mkdtempSync(join(tmpdir(), 'report-empty-'))), /nothing to report/);
});

test('headless Chromium: the report loads with no console errors and every figure renders', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.skip(`Chromium unavailable: ${missing}`);
    return;
  }
  const html = join(await reportedRun(), 'report.html');
  const { problems, images, align, title } = await withPage(pathToFileURL(html).href, async (page, problems) => {
    const images = await page.evaluate(() =>
      [...document.images].map((img) => ({
        alt: img.alt,
        complete: img.complete,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
      })),
    );
    const align = await page.evaluate(() =>
      [...document.querySelectorAll('td')].map((td) => ({
        num: td.classList.contains('num'),
        align: getComputedStyle(td).textAlign,
      })),
    );
    return { problems, images, align, title: await page.title() };
  });
  assert.deepEqual(problems, { console: [], pageErrors: [], failedRequests: [] });
  assert.match(title, /^ESR report: report-/);
  assert.equal(images.length, EXPECTED_FIGURES.length);
  const numeric = align.filter((c) => c.num);
  assert.ok(numeric.length > 50, `numeric cells: ${numeric.length}`);
  assert.deepEqual([...new Set(numeric.map((c) => c.align))], ['right']);
  assert.ok(
    align.some((c) => !c.num && c.align !== 'right'),
    'text cells keep their alignment',
  );
  for (const img of images) {
    assert.ok(
      img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
      `figure "${img.alt}" did not render: ${JSON.stringify(img)}`,
    );
  }
});
