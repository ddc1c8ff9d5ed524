// The within-prompt test, stability across derangements and the held-out check, on planted stores analysed
// through `find-otd-latents --activations`; expected values are worked out by hand in the comments.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { splitPrompts } from '../../lib/discovery/holdout.ts';
import { derangements, discoveryDerangements } from '../../lib/discovery/pairs.ts';
import type { SampleRow } from '../../lib/store/schema.ts';
import { ActsWriter } from '../../lib/store/writer.ts';
import { assertExit, runCli } from '../support/cli.ts';

const N = 16; // prompts p0..p15
const K = 3; // derangements
const HOLDOUT = { fraction: 0.25, seed: 3 };
const tmp = mkdtempSync(join(tmpdir(), 'otd-stability-'));
/** Deranged within the selection and held-out parts (as find-otd-latents makes them with --holdout 0.25 --seed 3). */
const store = join(tmp, 'planted.acts');
/** Deranged over all prompts, so some off-topic samples cross the held-out split. */
const crossing = join(tmp, 'crossing.acts');

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

async function writeStore(dir: string, perms: number[][]): Promise<void> {
  const w = new ActsWriter(dir);
  const rows: SampleRow[] = [];
  const codes = { sample: [] as number[], token: [] as number[], latent: [] as number[], value: [] as number[] };
  const add = (id: string, off: boolean, k: number, i: number, response: number) => {
    for (const [l, v] of plant(off, k, i)) {
      codes.sample.push(rows.length);
      codes.token.push(0);
      codes.latent.push(l);
      codes.value.push(v);
    }
    rows.push({
      id,
      condition: off ? 'off_topic' : 'on_topic',
      prompt_id: `p${i}`,
      response_id: `p${response}`,
      n_tokens: 1,
      span_start: 0,
      span_end: 1,
    });
  };
  for (let i = 0; i < N; i++) add(`on:${i}`, false, -1, i, i);
  for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) add(`off:${k}:${i}`, true, k, i, perms[k][i]);
  w.append(rows, {
    sample: Int32Array.from(codes.sample),
    token: Int32Array.from(codes.token),
    latent: Int32Array.from(codes.latent),
    value: Float32Array.from(codes.value),
  });
  await w.finalize({ model: null, sae: null, layer: 0, d_sae: 16 });
}

test.before(async () => {
  await writeStore(store, discoveryDerangements(N, K, 3, HOLDOUT));
  await writeStore(crossing, derangements(N, K, 3));
});

function analyze(dir: string, ...args: string[]) {
  return runCli(['find-otd-latents', '--activations', dir, ...args]);
}

type Entry = { latent: number; selected: boolean; stats: Record<string, number | null> };
const entry = (set: { latents: Entry[] }, l: number): Entry => set.latents.find((e) => e.latent === l)!;
const close = (x: number | null, y: number, what: string) =>
  assert.ok(x !== null && Math.abs(x - y) <= 1e-12 * Math.abs(y), `${what}: ${x} vs ${y}`);

test('the within-prompt test by default: strat_auc, exact p_strat, q over informative latents, ranked by evidence', () => {
  const out = join(tmp, 'default');
  const r = analyze(store, '--out', out);
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /48 off-topic vs 16 on-topic samples; within-prompt test over 16 prompts \(K = 3\); 1 latents pass the separability rule/,
  );
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  assert.deepEqual(
    [set.criterion.unit, set.criterion.alternative, set.criterion.n_a, set.criterion.n_b, set.criterion.prompts],
    ['prompt', 'greater', K * N, N, N],
  );
  // latent 1: every prompt's row is {0 | 2, 2, 2}: U = 6 = 2K, and under the null the on-topic value is the
  // lowest with probability 1/4 per prompt: p = 4^-16
  close(entry(set, 1).stats.p_strat, 4 ** -16, 'latent 1 p_strat');
  assert.equal(entry(set, 1).stats.strat_auc, 1);
  // latent 2: rows {0 | 1, 1, 0}: U = 5 (observed) or 1, each with probability 1/2: p = 2^-16; strat_auc 5/6
  close(entry(set, 2).stats.p_strat, 2 ** -16, 'latent 2 p_strat');
  close(entry(set, 2).stats.strat_auc, 5 / 6, 'latent 2 strat_auc');
  // latent 4: informative on p0..p3 only (U = 6, probability 1/4 each): p = 4^-4; strat_auc (4·1 + 12·½)/16
  close(entry(set, 4).stats.p_strat, 4 ** -4, 'latent 4 p_strat');
  assert.equal(entry(set, 4).stats.strat_auc, 10 / 16);
  assert.equal(entry(set, 4).stats.n_informative, 4);
  // latent 3 fires on on-topic samples only: U = 0 everywhere, p = 1
  assert.deepEqual([entry(set, 3).stats.strat_auc, entry(set, 3).stats.p_strat], [0, 1]);
  // BH over the 4 informative latents (1, 2, 4, 3 in p order): q_1 = min(4p_1, 4p_2/2, 4p_4/3, 1)
  close(entry(set, 1).stats.q_bh, 4 * 4 ** -16, 'latent 1 q_bh');
  close(entry(set, 4).stats.q_bh, (4 / 3) * 4 ** -4, 'latent 4 q_bh');
  // ranked by p_strat, ties (p = 1) by strat_auc: the silent latents (½) before latent 3 (0)
  const t = tableFromIPC(readFileSync(join(out, 'ranking.arrow')));
  const order = Array.from(t.getChild('latent')!.toArray() as Int32Array);
  assert.deepEqual(order.slice(0, 3), [1, 2, 4]);
  assert.equal(order.at(-1), 3);
  assert.deepEqual([...new Set(t.getChild('n_a')!.toArray() as Int32Array)], [K * N]);
  // the per-sample rules: separability = every off-topic sample above every on-topic one
  assert.deepEqual(set.selected, [1]);
  // a BCa interval over prompts; a latent constant within every prompt has the degenerate [1, 1]
  assert.deepEqual([entry(set, 1).stats.strat_auc_lo, entry(set, 1).stats.strat_auc_hi], [1, 1]);
  const [lo, hi] = [entry(set, 4).stats.strat_auc_lo!, entry(set, 4).stats.strat_auc_hi!];
  assert.ok(lo < 10 / 16 && 10 / 16 < hi && lo >= 0.5 && hi <= 1, `latent 4 interval [${lo}, ${hi}]`);
});

test('stability: each derangement, each prompt against its own on-topic sample, selected by the same rule', () => {
  const out = join(tmp, 'stability');
  const r = analyze(store, '--out', out);
  assertExit(r, 0);
  assert.match(r.stdout, /stability: selected in k of 3 derangements/);
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  assert.deepEqual(set.stability.derangements, [0, 1, 2]);
  // latent 1 separates in every derangement, latent 2 in derangements 0 and 1
  assert.deepEqual(set.stability.selected_per_derangement, [2, 2, 1]);
  assert.equal(set.stability.selected_in_every_derangement, 1);
  assert.deepEqual(
    [entry(set, 1).stats.stability, entry(set, 1).stats.stability_auc_min, entry(set, 1).stats.stability_auc_max],
    [1, 1, 1],
  );
  assert.deepEqual(
    [entry(set, 2).stats.stability, entry(set, 2).stats.stability_auc_min, entry(set, 2).stats.stability_auc_max],
    [2 / 3, 0.5, 1],
  );
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /selected per derangement: 2, 2, 1; in every one: 1/);
  assert.match(summary, /\| 1 \| 1 \| 1\.0000 \| \[1\.00, 1\.00\] \|.*\| yes \| 3\/3 \|/);
});

test('rules per sample (frequency, effect with q_bh or q_by), two-sided p, and the per-sample test', () => {
  const run = (name: string, ...args: string[]) => {
    const r = analyze(store, '--out', join(tmp, name), ...args);
    assertExit(r, 0);
    return JSON.parse(readFileSync(join(tmp, name, 'latents.json'), 'utf8'));
  };
  // frequency: latent 1 fires on every off-topic sample and no on-topic one; latent 2 on 2/3 (< 0.8)
  assert.deepEqual(run('freq', '--method', 'frequency').selected, [1]);
  // effect: q < 0.05 and per-sample d > 0.8: latents 1 (d = ∞) and 2 (d ≈ 1.6); latent 4 has d = 0.75/√(81/62) ≈ 0.66
  const effect = run('effect', '--method', 'effect');
  assert.deepEqual(effect.selected, [1, 2]);
  close(entry(effect, 4).stats.cohens_d, 0.75 / Math.sqrt(81 / 62), 'latent 4 d (per-sample SD)');
  const by = run('by', '--method', 'effect', '--fdr', 'by');
  assert.equal(by.criterion.fdr, 'by');
  // BY = BH × (1 + 1/2 + 1/3 + 1/4) over the 4 informative latents
  close(entry(by, 4).stats.q_by, (4 / 3) * 4 ** -4 * (25 / 12), 'latent 4 q_by');
  // two-sided: 2·min(P(S ≥ s), P(S ≤ s)); latent 3 (on-topic only) is now as extreme as latent 1
  const two = run('two', '--alternative', 'two-sided');
  close(entry(two, 1).stats.p_strat, 2 * 4 ** -16, 'latent 1 two-sided');
  close(entry(two, 3).stats.p_strat, 2 * 4 ** -16, 'latent 3 two-sided');
  // --unit sample: Mann–Whitney over all samples; no strat columns, ranked by p_mwu
  const sample = run('sample', '--unit', 'sample');
  assert.equal(sample.criterion.unit, 'sample');
  assert.equal(entry(sample, 1).stats.p_strat, null);
  assert.deepEqual(
    sample.latents.slice(0, 3).map((e: Entry) => e.latent),
    [1, 2, 4],
  );
});

test('holdout: derangements within the parts, selection on the rest, strat_auc on the held-out prompts', () => {
  const out = join(tmp, 'holdout');
  const r = analyze(store, '--out', out, '--holdout', '0.25', '--seed', '3');
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /36 off-topic vs 12 on-topic samples; within-prompt test over 12 prompts \(K = 3\) \(selection prompts; 4 prompts held out\)/,
  );
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  const h = set.holdout;
  const ids = Array.from({ length: N }, (_, i) => `p${i}`);
  assert.deepEqual(splitPrompts(ids, 0.25, 3).heldOut, h.held_out_prompts, 'seeded and reproducible');
  assert.deepEqual([...h.held_out_prompts, ...h.selection_prompts].sort(), [...ids].sort());
  assert.deepEqual([h.n_a, h.n_b, h.crossing_samples_left_out], [12, 4, 0]);
  assert.equal(entry(set, 1).stats.strat_auc_holdout, 1);
  close(entry(set, 1).stats.p_strat_holdout, 4 ** -4, 'latent 1 p_strat on 4 held-out prompts');
  // latent 4 on each side: strat_auc = (g·1 + (n − g)·½)/n with g of p0..p3 among its n prompts; p = 4^-g
  const g = (part: string[]) => part.filter((p: string) => Number(p.slice(1)) <= 3).length;
  const gs = g(h.selection_prompts);
  const gh = g(h.held_out_prompts);
  close(entry(set, 4).stats.strat_auc, (gs + (12 - gs) / 2) / 12, 'latent 4 strat_auc (selection)');
  close(entry(set, 4).stats.p_strat, 4 ** -gs, 'latent 4 p_strat (selection)');
  assert.equal(entry(set, 4).stats.strat_auc_holdout, (gh + (4 - gh) / 2) / 4);
  assert.match(
    readFileSync(join(out, 'summary.md'), 'utf8'),
    /\*\*Held-out check\.\*\* 4 of 16 prompts \(fraction 0\.25, seed 3\) were held out/,
  );
});

test('holdout on a store deranged over all prompts: crossing samples and prompts left without off-topic samples are left out', () => {
  const out = join(tmp, 'crossing');
  const r = analyze(crossing, '--out', out, '--holdout', '0.5', '--seed', '3');
  assertExit(r, 0);
  const set = JSON.parse(readFileSync(join(out, 'latents.json'), 'utf8'));
  const held = new Set<string>(set.holdout.held_out_prompts);
  const perms = derangements(N, K, 3);
  let crossed = 0;
  for (const p of perms) for (let i = 0; i < N; i++) if (held.has(`p${i}`) !== held.has(`p${p[i]}`)) crossed++;
  assert.ok(crossed > 0);
  assert.equal(set.holdout.crossing_samples_left_out, crossed);
  const kept = (part: (i: number) => boolean) =>
    perms.reduce((n, p) => n + p.filter((j, i) => part(i) && part(j) === part(i)).length, 0);
  assert.equal(
    set.criterion.samples_a,
    kept((i) => !held.has(`p${i}`)),
  );
  assert.equal(
    set.holdout.n_a,
    kept((i) => held.has(`p${i}`)),
  );
});

test('holdout: each part needs at least 2 prompts', () => {
  const r = analyze(store, '--out', join(tmp, 'bad'), '--holdout', '0.95');
  assertExit(r, 2);
  assert.match(
    r.stderr,
    /--holdout 0\.95: 16 prompts give 15 held out and 1 for selection; each part needs at least 2/,
  );
  assert.throws(() => splitPrompts(['a', 'b', 'c', 'd'], 1, 0), /strictly between 0 and 1/);
});
