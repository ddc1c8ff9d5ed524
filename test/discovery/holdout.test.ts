// Stability across derangements and the held-out check, on a planted store analysed through
// `find-otd-latents --activations`; expected values are worked out by hand in the comments.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { splitPrompts } from '../../lib/discovery/holdout.ts';
import type { SampleRow } from '../../lib/store/schema.ts';
import { tableFromIPC } from 'apache-arrow';
import { ActsWriter } from '../../lib/store/writer.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const N = 8; // prompts p0..p7
const K = 3; // derangements
const tmp = mkdtempSync(join(tmpdir(), 'otd-stability-'));
const store = join(tmp, 'planted.acts');

/**
 * One token per sample. Latent 1: 2 on every off-topic sample. Latent 2: 1 on the off-topic samples of
 * derangements 0 and 1 only. Latent 3: 1 on every on-topic sample. Latent 4: 3 on the off-topic samples
 * of prompts p0..p3 (all derangements). Nothing else fires.
 */
function plant(off: boolean, k: number, prompt: number): [number, number][] {
  const codes: [number, number][] = [];
  if (off) codes.push([1, 2]);
  if (off && k <= 1) codes.push([2, 1]);
  if (!off) codes.push([3, 1]);
  if (off && prompt <= 3) codes.push([4, 3]);
  return codes;
}

test.before(async () => {
  const w = new ActsWriter(store);
  const rows: SampleRow[] = [];
  const codes: { sample: number[]; token: number[]; latent: number[]; value: number[] } = {
    sample: [],
    token: [],
    latent: [],
    value: [],
  };
  const add = (id: string, off: boolean, k: number, i: number) => {
    for (const [l, v] of plant(off, k, i))
      codes.sample.push(rows.length), codes.token.push(0), codes.latent.push(l), codes.value.push(v);
    rows.push({
      id,
      condition: off ? 'off_topic' : 'on_topic',
      prompt_id: `p${i}`,
      response_id: `p${off ? (i + k + 1) % N : i}`,
      n_tokens: 1,
      span_start: 0,
      span_end: 1,
    });
  };
  for (let i = 0; i < N; i++) add(`on:${i}`, false, -1, i);
  for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) add(`off:${k}:${i}`, true, k, i);
  w.append(rows, {
    sample: Int32Array.from(codes.sample),
    token: Int32Array.from(codes.token),
    latent: Int32Array.from(codes.latent),
    value: Float32Array.from(codes.value),
  });
  await w.finalize({ model: null, sae: null, layer: 0, d_sae: 16 });
});

function analyze(...args: string[]) {
  return spawnSync(
    process.execPath,
    [join(ROOT, 'bin', 'analyze.js'), 'find-otd-latents', '--activations', store, ...args],
    { encoding: 'utf8', cwd: ROOT },
  );
}

type Entry = { latent: number; selected: boolean; stats: Record<string, number | null> };
const entry = (set: { latents: Entry[] }, l: number): Entry => set.latents.find((e) => e.latent === l)!;

test('units: by default each prompt gives one off-topic value (mean over derangements), so n = number of prompts', async () => {
  const out = join(tmp, 'units');
  const r = analyze('--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /8 off-topic vs 8 on-topic prompt values \(24 off-topic and 8 on-topic samples, averaged per prompt\); 2 latents pass the separability rule/,
  );
  const t = tableFromIPC(readFileSync(join(out, 'ranking.arrow')));
  const n = (col: string) => [...new Set(t.getChild(col)!.toArray() as Int32Array)];
  assert.deepEqual([n('n_a'), n('n_b')], [[N], [N]]);
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  assert.equal(set.criterion.unit, 'prompt');
  assert.deepEqual(
    [set.criterion.n_a, set.criterion.n_b, set.criterion.samples_a, set.criterion.samples_b],
    [N, N, K * N, N],
  );
  // latent 2 fires (1) in 2 of 3 derangements on every prompt: mean 2/3 on all 8 prompts vs 0 on-topic, so AUC 1
  assert.deepEqual([entry(set, 2).stats.mean_a, entry(set, 2).stats.auc, entry(set, 2).selected], [2 / 3, 1, true]);
  // latent 4: 3 on prompts p0..p3 in every derangement: 4 prompts above 0, 4 tied with the 8 on-topic zeros
  assert.deepEqual([entry(set, 4).stats.freq_a, entry(set, 4).stats.auc], [0.5, (4 * 8 + (4 * 8) / 2) / 64]);
  assert.deepEqual(set.selected, [1, 2]);
  // the per-derangement stability columns are unchanged by the unit
  assert.deepEqual(set.stability.selected_per_derangement, [2, 2, 1]);
  assert.equal(entry(set, 2).stats.stability, 2 / 3);
});

test('stability: each derangement against all on-topic samples, selected by the same rule', () => {
  const out = join(tmp, 'sep');
  const r = analyze('--out', out, '--unit', 'sample');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /24 off-topic vs 8 on-topic samples; 1 latents pass the separability rule/);
  assert.match(r.stdout, /stability: selected in k of 3 derangements/);
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  assert.deepEqual(set.selected, [1]);
  assert.deepEqual(set.stability.derangements, [0, 1, 2]);
  // per derangement, AUC = 1 for latent 1 always and for latent 2 in derangements 0 and 1
  assert.deepEqual(set.stability.selected_per_derangement, [2, 2, 1]);
  assert.equal(set.stability.selected_in_every_derangement, 1);
  assert.deepEqual(entry(set, 1).stats, {
    ...entry(set, 1).stats,
    auc: 1,
    stability: 1,
    stability_auc_min: 1,
    stability_auc_max: 1,
  });
  // latent 2 overall: (16 off samples above all 8 on + 8 tied at zero) / (24·8) = (128 + 32)/192
  assert.equal(entry(set, 2).stats.auc, 160 / 192);
  assert.deepEqual(
    [entry(set, 2).stats.stability, entry(set, 2).stats.stability_auc_min, entry(set, 2).stats.stability_auc_max],
    [2 / 3, 0.5, 1],
  );
  assert.deepEqual([entry(set, 3).stats.auc, entry(set, 3).stats.stability], [0, 0]);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /selected per derangement: 2, 2, 1; in every one: 1/);
  assert.match(summary, /\| 1 \| 1 \| 1\.0000 \| 0\.0000 \| 2\.0000 \| 0\.0000 \|.*\| yes \| 3\/3 \|/);
});

test('stability under the frequency rule can exceed the pooled selection', () => {
  const out = join(tmp, 'freq');
  const r = analyze('--out', out, '--method', 'frequency', '--unit', 'sample');
  assert.equal(r.status, 0, r.stderr);
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  // latent 2 fires on 2/3 of all off-topic samples (< 0.8: not selected) but on all of derangements 0 and 1
  assert.deepEqual(set.selected, [1]);
  assert.equal(entry(set, 2).selected, false);
  assert.equal(entry(set, 2).stats.stability, 2 / 3);
  // latent 4 fires on half the off-topic samples of every derangement: never selected
  assert.equal(entry(set, 4).stats.stability, 0);
});

test("holdout: selection on the other prompts, AUC on the held-out prompts' samples", () => {
  const out = join(tmp, 'holdout');
  const r = analyze('--out', out, '--holdout', '0.25', '--seed', '3');
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /6 off-topic vs 6 on-topic prompt values \(18 off-topic and 6 on-topic samples, averaged per prompt\) \(selection prompts; 2 prompts held out\)/,
  );
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  const h = set.holdout;
  assert.equal(h.held_out_prompts.length, 2);
  assert.equal(h.selection_prompts.length, 6);
  assert.deepEqual(
    [...h.held_out_prompts, ...h.selection_prompts].sort(),
    Array.from({ length: N }, (_, i) => `p${i}`).sort(),
  );
  assert.deepEqual([h.n_a, h.n_b], [2, 2]);
  assert.deepEqual(
    splitPrompts(
      Array.from({ length: N }, (_, i) => `p${i}`),
      0.25,
      3,
    ).heldOut,
    h.held_out_prompts,
    'seeded and reproducible',
  );
  assert.equal(entry(set, 1).stats.auc_holdout, 1);
  // latent 2 fires on 2 of the 3 off-topic samples of each held-out prompt: mean 2/3 > 0 on both
  assert.equal(entry(set, 2).stats.auc_holdout, 1);
  // latent 4 fires on the off-topic samples of held-out prompts among p0..p3: share f fires, the rest tie at 0
  const f = h.held_out_prompts.filter((p: string) => Number(p.slice(1)) <= 3).length / 2;
  assert.equal(entry(set, 4).stats.auc_holdout, f + (1 - f) / 2);
  // on the selection prompts, latent 4 has AUC g + (1 − g)/2 with g its share there of p0..p3
  const g = h.selection_prompts.filter((p: string) => Number(p.slice(1)) <= 3).length / 6;
  assert.equal(entry(set, 4).stats.auc, g + (1 - g) / 2);
  assert.match(
    readFileSync(join(out, 'summary.md'), 'utf8'),
    /\*\*Held-out check\.\*\* 2 of 8 prompts \(fraction 0\.25, seed 3\) were held out/,
  );
});

test('holdout: each part needs at least 2 prompts', () => {
  const r = analyze('--out', join(tmp, 'bad'), '--holdout', '0.9');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--holdout 0\.9: 8 prompts give 7 held out and 1 for selection; each part needs at least 2/);
  assert.throws(() => splitPrompts(['a', 'b', 'c', 'd'], 1, 0), /strictly between 0 and 1/);
});
