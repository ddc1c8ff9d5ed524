// The paper's numbers beside a run's: which runs match a paper configuration, that every number in the data file
// names a source that states it, and the report section that shows them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONDITION_NAMES } from '../../lib/experiments/conditions.ts';
import { buildReport } from '../../lib/report/build.ts';
import PAPER from '../../lib/report/paper-numbers.json' with { type: 'json' };
import { matchPaper, paperSection, type RunShape } from '../../lib/report/paper.ts';
import { METRICS } from '../../lib/trials/metricDefs.ts';

const LLAMA_8B: RunShape = {
  model: { architecture: 'LlamaForCausalLM', hidden_size: 4096, num_layers: 32, vocab_size: 128256 },
  sae: { d_in: 4096, d_sae: 65536, layer: 19 },
};
const ORGANISM: RunShape = {
  model: { architecture: 'LlamaForCausalLM', hidden_size: 128, num_layers: 4, vocab_size: 2048 },
  sae: { d_in: 128, d_sae: 1280, layer: 3 },
};

test('a run matches a paper configuration by model shape and SAE size and hook point, and nothing else', () => {
  for (const c of PAPER.configurations) {
    assert.equal(matchPaper({ model: c.model, sae: c.sae })?.configuration.id, c.id);
    assert.equal(matchPaper({ model: c.model, sae: null })?.matchedOn, 'model');
    assert.equal(
      matchPaper({ model: c.model, sae: { ...c.sae, layer: c.sae.layer - 1 } }),
      null,
      `${c.id}: other layer`,
    );
    assert.equal(matchPaper({ model: c.model, sae: { ...c.sae, d_sae: 2 * c.sae.d_sae } }), null, `${c.id}: other SAE`);
    const L = c.sae.layer;
    assert.equal(
      matchPaper({ model: c.model, sae: { ...c.sae, hook: `blocks.${L}.hook_mlp_out` } }),
      null,
      `${c.id}: same layer, other hook point`,
    );
    // runs recorded before the hook point was: every SAE was read at resid_post.layer
    const { hook: _, ...older } = c.sae;
    assert.equal(matchPaper({ model: c.model, sae: older })?.configuration.id, c.id, `${c.id}: older record`);
  }
  assert.equal(matchPaper(LLAMA_8B)?.matchedOn, 'model and SAE');
  assert.equal(matchPaper(ORGANISM), null);
  assert.equal(matchPaper({ model: null, sae: null }), null);
  assert.equal(new Set(PAPER.configurations.map((c) => JSON.stringify(c.model))).size, PAPER.configurations.length);
});

test('every paper number names a condition and metric we compute, and a source whose text states it', () => {
  const sources = PAPER.sources as Record<string, string>;
  for (const c of PAPER.configurations) {
    for (const r of c.results as {
      condition: string;
      metric: string;
      value: number;
      source: string[];
      bound?: string;
    }[]) {
      const what = `${c.id} ${r.condition} ${r.metric}`;
      assert.ok(CONDITION_NAMES.includes(r.condition as never), `${what}: condition`);
      assert.ok(METRICS.includes(r.metric as never), `${what}: metric`);
      if (r.metric.endsWith('_rate')) assert.ok(r.value >= 0 && r.value <= 1, `${what}: a fraction`);
      const text = r.metric.endsWith('_rate') ? `${Number((100 * r.value).toFixed(1))}%` : String(r.value);
      assert.ok(
        r.source.some((s) => sources[s]?.includes(text)),
        `${what}: no cited source states ${text} (${r.source.join(', ')})`,
      );
    }
  }
});

test('the section shows ours with its interval beside the paper’s value, bounds as bounds, with the sources', () => {
  const metrics = {
    conditions: {
      baseline: {
        n_trials: 100,
        metrics: {
          esr_rate: { estimate: 0.05, ci: [0.03, 0.07] as [number, number] },
          multi_attempt_rate: { estimate: 0.1, ci: [0.06, 0.15] as [number, number] },
        },
      },
    },
  };
  const html = paperSection(matchPaper(LLAMA_8B)!, metrics as never);
  assert.match(html, /Llama-3\.1-8B-Instruct with the Goodfire layer-19 SAE/);
  assert.match(html, /<td class="num">5\.0% \[3\.0%, 7\.0%\]<\/td><td class="num">&lt; 1\.0%<\/td>/);
  assert.match(html, /<td class="num">10\.0% \[6\.0%, 15\.0%\]<\/td><td class="num">≤ 1\.2%<\/td>/);
  assert.match(html, /no-steer<\/td><td>Multi-attempt rate<\/td><td class="num">—<\/td><td class="num">0\.0%<\/td>/i);
  assert.match(html, /<b>sec3\.1<\/b>: Section 3\.1 text/);
});

test('analyze report shows the section for a paper configuration (shape from metrics.json) and not for the organism', async () => {
  const run = (shape: RunShape) => {
    const dir = mkdtempSync(join(tmpdir(), 'report-paper-'));
    const metrics = {
      conditions: {
        baseline: { n_trials: 5, n_errors: 0, n_clusters: 2, metrics: { esr_rate: { estimate: 0.2, ci: [0.1, 0.4] } } },
      },
      differences: [],
      bootstrap: {
        resamples: 1000,
        seed: 0,
        cluster: 'feature',
        level: 0.95,
        ci: 'bca',
        units: 2,
        permutation: 'exact',
      },
      provenance: { shape },
    };
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify(metrics));
    return dir;
  };
  assert.match(await buildReport(run(LLAMA_8B)), /The paper's numbers beside ours/);
  assert.doesNotMatch(await buildReport(run(ORGANISM)), /The paper's numbers beside ours/);
});
