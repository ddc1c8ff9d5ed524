// The report's example responses: picked per condition, every attempt marked where it stands with its score,
// model text escaped (a response full of markup stays text), checked in headless Chromium (skipped, saying
// why, without it).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Trial } from '../../lib/trials/types.ts';
import { chromiumMissing, withPage } from '../../scripts/chromium.ts';
import { assertExit, runCli } from '../support/cli.ts';

const HOSTILE = 'Saturn <script>window.hacked = 1</script> & <img src=x onerror="window.hacked = 2"> rings.';
const trials: Trial[] = [
  {
    id: 'baseline:f7:p0:s1',
    feature: 7,
    feature_label: 'astronomy & <planets>',
    prompt: 'Explain how to bake bread.',
    seed: 1,
    condition: 'baseline',
    boost: 3.5,
    interventions: [],
    response: `${HOSTILE}\n\nWait, let me get back to the question. Knead the dough and bake it.`,
    judge: {
      id: 'heuristic',
      attempts: [
        { text: HOSTILE, score: 10 },
        { text: 'Wait, let me get back to the question. Knead the dough and bake it.', score: 90 },
      ],
      raw: null,
      error: null,
    },
    error: null,
    provenance: {},
  },
  {
    id: 'baseline:f8:p1:s2',
    feature: 8,
    feature_label: 'cheese',
    prompt: 'Explain how to tune a guitar.',
    seed: 2,
    condition: 'baseline',
    boost: 2,
    interventions: [],
    response: 'Turn the pegs until each string matches.',
    judge: {
      id: 'heuristic',
      attempts: [{ text: 'Turn the pegs until each string matches.', score: 70 }],
      raw: null,
      error: null,
    },
    error: null,
    provenance: {},
  },
  {
    id: 'ablate:f7:p0:s1',
    feature: 7,
    feature_label: 'astronomy & <planets>',
    prompt: 'Explain how to bake bread.',
    seed: 1,
    condition: 'ablate',
    boost: 3.5,
    interventions: [],
    response: 'Saturn has rings. Moons too.',
    // an LLM judge that paraphrased: the attempt is not verbatim in the response
    judge: {
      id: 'openai:m',
      attempts: [{ text: 'The response talks about Saturn.', score: 5 }],
      raw: null,
      error: null,
    },
    error: null,
    provenance: {},
  },
];

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-examples-'));
  writeFileSync(join(dir, 'trials.jsonl'), trials.map((t) => `${JSON.stringify(t)}\n`).join(''));
  return dir;
}

test('analyze report --examples N: a section per condition with the prompt, the feature and the marked response, escaped', async (t) => {
  const dir = runDir();
  assertExit(runCli(['report', dir, '--examples', '2']), 0);
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /<h2>Example responses<\/h2>/);
  assert.deepEqual(
    [...html.matchAll(/data-trial="([^"]+)"/g)].map((m) => m[1]),
    ['baseline:f7:p0:s1', 'baseline:f8:p1:s2', 'ablate:f7:p0:s1'],
  );
  assert.doesNotMatch(html, /<script|<img src=x/);
  assert.match(html, /steering feature 7 “astronomy &amp; &lt;planets&gt;” · boost 3\.5/);
  assert.match(html, /multi-attempt, 10 → 90 \(\+80\)/);
  assertExit(runCli(['report', dir, '--examples', '0', '--out', join(dir, 'none.html')]), 0);
  assert.doesNotMatch(readFileSync(join(dir, 'none.html'), 'utf8'), /Example responses/);
  assertExit(runCli(['report', dir, '--examples', '-1']), 2, /--examples: expected an integer ≥ 0/);

  const missing = chromiumMissing();
  if (missing) {
    t.skip(`Chromium unavailable: ${missing}`);
    return;
  }
  const seen = await withPage(pathToFileURL(join(dir, 'report.html')).href, async (page, problems) => {
    await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    return {
      problems,
      hacked: await page.evaluate(() => (window as unknown as { hacked?: number }).hacked ?? null),
      examples: await page.evaluate(() =>
        [...document.querySelectorAll('.example')].map((ex) => ({
          trial: ex.getAttribute('data-trial'),
          response: [...ex.querySelectorAll('.response')].map((r) => r.textContent).join('|'),
          badges: [...ex.querySelectorAll('.badge')].map((b) => b.textContent),
          colours: [...ex.querySelectorAll('.attempt')].map((a) => getComputedStyle(a).borderBottomColor),
          attemptText: [...ex.querySelectorAll('.attempt')].map((a) => a.textContent),
        })),
      ),
    };
  });
  assert.deepEqual(seen.problems, { console: [], pageErrors: [], failedRequests: [] });
  assert.equal(seen.hacked, null, 'no markup from a response ran');
  const [first, second, third] = seen.examples;
  // the marked response reads as the response itself, badges aside
  assert.equal(
    first.response,
    `attempt 1 · score 10${trials[0].response.replace('\n\nWait', '\n\nattempt 2 · score 90Wait')}`,
  );
  assert.deepEqual(first.badges, ['attempt 1 · score 10', 'attempt 2 · score 90']);
  assert.deepEqual(first.colours, ['rgb(213, 94, 0)', 'rgb(0, 114, 178)']);
  assert.deepEqual(second.badges, ['attempt 1 · score 70']);
  // a paraphrasing judge: its attempt shown as given, the response in full beside it
  assert.equal(third.attemptText[0], 'attempt 1 · score 5The response talks about Saturn.');
  assert.match(third.response, /Saturn has rings\. Moons too\./);
});
