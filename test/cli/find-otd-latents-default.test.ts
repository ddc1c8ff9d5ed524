// The shipped default end to end: `npx analyze find-otd-latents` with no flags but --out, every output
// present and schema-valid, and a rerun with the same (default) seed gives identical latents.json.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { readLatentSet } from '../../lib/stats/latentSet.ts';
import { openStore } from '../../lib/store/reader.ts';
import { assertExit, ROOT, runCommand } from '../support/cli.ts';
import { RANKING_CONTRACT_COLUMNS } from '../support/ranking-contract.ts';

const tmp = mkdtempSync(join(tmpdir(), 'otd-default-'));
const prompts = readFileSync(join(ROOT, 'data', 'prompts.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim());
const saeCfg = JSON.parse(readFileSync(join(ROOT, 'data', 'sae', 'cfg.json'), 'utf8'));
const dSae = saeCfg.d_sae;

const npxAnalyze = (out: string) => runCommand('npx', ['--no-install', 'analyze', 'find-otd-latents', '--out', out]);

const isNumberOrNull = (x: unknown) => x === null || (typeof x === 'number' && Number.isFinite(x));

test('npx analyze find-otd-latents on the shipped default: complete, schema-valid, reproducible', () => {
  const a = join(tmp, 'a');
  const r = npxAnalyze(a);
  assertExit(r, 0);
  const n = prompts.length;
  const k = 5;
  assert.match(
    r.stdout,
    new RegExp(
      `^${n * k} off-topic vs ${n} on-topic samples; within-prompt test over ${n} prompts \\(K = ${k}\\); \\d+ latents pass the separability rule`,
      'm',
    ),
  );

  // responses.json: one non-empty response per prompt
  const responses = JSON.parse(readFileSync(join(a, 'responses.json'), 'utf8')).value;
  assert.equal(responses.length, n);
  assert.ok(responses.every((x: unknown) => typeof x === 'string' && x.trim() !== ''));

  // activations.acts: every on/off-topic sample, codes of the SAE's width
  const store = openStore(join(a, 'activations.acts'));
  assert.equal(store.samples.n, n * (k + 1));
  assert.equal(store.meta.d_sae, dSae);
  assert.equal(store.samples.condition.filter((c) => c === 'on_topic').length, n);
  assert.ok(store.samples.id.every((id) => /^(on:\d+|off:[0-4]:\d+)$/.test(id)));

  // ranking.arrow: every latent once, the columns of docs/design.md "Ranking", ranks 1..d_sae
  const ranking = tableFromIPC(readFileSync(join(a, 'ranking.arrow')));
  assert.deepEqual(
    ranking.schema.fields.map((f) => f.name),
    RANKING_CONTRACT_COLUMNS,
  );
  assert.equal(ranking.numRows, dSae);
  // per-sample counts in every row; the within-prompt test's informative prompts are at most n
  assert.deepEqual([...new Set(ranking.getChild('n_a')!.toArray() as Int32Array)], [n * k]);
  assert.deepEqual([...new Set(ranking.getChild('n_b')!.toArray() as Int32Array)], [n]);
  assert.ok((ranking.getChild('n_informative')!.toArray() as Int32Array).every((x) => x >= 0 && x <= n));
  assert.deepEqual(
    Array.from(ranking.getChild('latent')!.toArray() as Int32Array).sort((x, y) => x - y),
    Array.from({ length: dSae }, (_, i) => i),
  );
  assert.deepEqual(
    Array.from(ranking.getChild('rank')!, Number).sort((x, y) => x - y),
    Array.from({ length: dSae }, (_, i) => i + 1),
  );

  // latents.json: the latent-set schema, readable by the latent-set reader (what `ablate` uses)
  const set = JSON.parse(readFileSync(join(a, 'latents.json'), 'utf8'));
  assert.equal(readLatentSet(join(a, 'latents.json')).latents.length, set.latents.length);
  assert.equal(set.method, 'separability');
  assert.equal(set.layer, saeCfg.hook_layer);
  assert.ok(set.latents.length >= Math.min(100, dSae));
  for (const e of set.latents) {
    assert.ok(Number.isInteger(e.latent) && e.latent >= 0 && e.latent < dSae);
    assert.equal(typeof e.selected, 'boolean');
    for (const key of [
      'freq_a',
      'freq_b',
      'mean_a',
      'mean_b',
      'cohens_d',
      'auc',
      'p_mwu',
      'strat_auc',
      'strat_auc_lo',
      'strat_auc_hi',
      'p_strat',
      'q_bh',
      'q_by',
      'stability',
      'stability_auc_min',
      'stability_auc_max',
    ]) {
      assert.ok(isNumberOrNull(e.stats[key]), `latent ${e.latent} stats.${key}`);
    }
    assert.ok(e.stats.stability >= 0 && e.stats.stability <= 1);
  }
  const listed = set.latents.map((e: { latent: number }) => e.latent);
  assert.ok(
    set.selected.every((l: number) => listed.includes(l)),
    'every selected latent is listed',
  );
  assert.deepEqual(
    set.selected,
    set.latents.filter((e: { selected: boolean }) => e.selected).map((e: { latent: number }) => e.latent),
  );
  assert.deepEqual(set.stability.derangements, [0, 1, 2, 3, 4]);
  assert.equal(set.provenance.activations, 'activations.acts');
  assert.match(readFileSync(join(a, 'summary.md'), 'utf8'), /^# Off-topic detector latents/);

  const b = join(tmp, 'b');
  const again = npxAnalyze(b);
  assertExit(again, 0);
  assert.equal(readFileSync(join(b, 'latents.json'), 'utf8'), readFileSync(join(a, 'latents.json'), 'utf8'));
});
