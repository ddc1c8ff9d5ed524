// The heuristic judge's "approximation" label travels with every rate computed from it: in the metrics
// report and its text, in `analyze metrics` output, and visibly on the ablation figures.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildFigures } from '../../lib/plot/run.ts';
import { computeMetrics } from '../../lib/trials/metrics.ts';
import { metricsText } from '../../lib/trials/report.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { parseSvg } from '../fixtures/plot/svg.ts';
import { assertExit, runCli } from '../support/cli.ts';

function trials(judge: string): Trial[] {
  return Array.from({ length: 12 }, (_, i) => ({
    id: `${judge}:${i}`,
    feature: i % 4,
    feature_label: null,
    prompt: `p${i % 3}`,
    seed: i,
    condition: i % 2 ? 'ablate' : 'baseline',
    boost: 1,
    interventions: [],
    response: 'r',
    error: null,
    provenance: {},
    judge: {
      id: judge,
      attempts:
        i % 3
          ? [{ text: 'a', score: 20 }]
          : [
              { text: 'a', score: 10 },
              { text: 'b', score: 60 },
            ],
      raw: null,
      error: null,
    },
  }));
}

test("metrics from the heuristic judge are labelled an approximation; an LLM judge's are not", () => {
  const r = computeMetrics(trials('heuristic'), { resamples: 200 });
  assert.equal(r.conditions.baseline.approximation, true);
  assert.deepEqual(r.conditions.baseline.judges, ['heuristic']);
  const text = metricsText(r);
  assert.match(
    text,
    /\*\*Approximation\.\*\* Rates of baseline, ablate come from the heuristic judge: an offline lexical APPROXIMATION/,
  );
  assert.match(text, /\| baseline \(approximation\) \| 6 \|/);
  const llm = computeMetrics(trials('openai:m'), { resamples: 200 });
  assert.equal(llm.conditions.baseline.approximation, false);
  assert.doesNotMatch(metricsText(llm), /approximation/i);
});

test('analyze metrics prints the label; the ablation figures carry it visibly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'approx-'));
  const store = join(dir, 'trials.jsonl');
  writeFileSync(
    store,
    `${trials('heuristic')
      .map((t) => JSON.stringify(t))
      .join('\n')}\n`,
  );
  const r = runCli(['metrics', '--trials', store, '--resamples', '200', '--out', join(dir, 'metrics.json')]);
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /Rates of baseline, ablate come from the heuristic judge: an offline lexical APPROXIMATION, not an LLM judgment/,
  );
  assert.match(r.stdout, /\| baseline \(approximation\) \|/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).conditions.ablate.approximation, true);
  const figs = await buildFigures(dir);
  assert.ok(figs.length >= 2);
  for (const f of figs) {
    const svg = parseSvg(f.svg);
    assert.match(
      svg.querySelector('text.approximation')!.textContent!,
      /heuristic judge: an offline lexical APPROXIMATION/,
      f.name,
    );
    assert.equal(svg.getAttribute('height'), String(f.height));
    assert.match(f.title, /\(heuristic judge: approximation\)$/);
    assert.match(f.caption, /Heuristic judge: an offline lexical APPROXIMATION, not an LLM judgment\.$/);
  }
});
