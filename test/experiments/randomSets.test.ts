// The random control is free of detector-like latents: on a planted discovery run where near-detectors
// have exactly the ablated detectors' activity (so activity matching alone would pick them), no random
// set ever holds a latent that passes a selection rule or has AUC ≥ 0.7; the uniform control neither.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DETECTOR_AUC,
  detectorLike,
  normMisses,
  type RandomControl,
  randomControl,
  storeActivity,
} from '../../lib/experiments/randomSets.ts';
import { findDetectors } from '../../lib/stats/detectors.ts';
import { readRanking, writeRanking } from '../../lib/stats/rankingFile.ts';
import { openStore } from '../../lib/store/reader.ts';
import type { SampleRow } from '../../lib/store/schema.ts';
import { ActsWriter } from '../../lib/store/writer.ts';

const N = 10; // prompts
const K = 2; // derangements
const D = 40;
const ABLATED = [0, 1, 2, 3]; // fire (2.0) on every off-topic sample only: AUC 1
const NEAR = [4, 5, 6, 7]; // fire (2.0) on off-topic samples and on-topic ones of prompts 0..1: AUC (10·8 + 10·2·½)/100 = 0.9, the activity closest to ABLATED
const SHIFTED = [8, 9]; // fire everywhere, 3.0 off-topic vs 1.0 on-topic: AUC 1 (large effect)
const dir = mkdtempSync(join(tmpdir(), 'random-control-'));
/** A made-up decoder: W_dec[l] = (cos l, sin l, (l mod 4) / 2) in 3 dimensions. */
const DIN = 3;
const row = (l: number) => [Math.cos(l), Math.sin(l), (l % 4) / 2];
const decoder = { rows: (ls: number[]) => Float32Array.from(ls.flatMap(row)), dIn: DIN };

/** Two tokens per sample; background latents 10..39 fire on token 1 of sample s when (s + l) % (l % 5 + 2) === 0. */
function codes(off: boolean, prompt: number, s: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  if (off) for (const l of ABLATED) out.push([0, l, 2]);
  if (off || prompt <= 1) for (const l of NEAR) out.push([0, l, 2]);
  for (const l of SHIFTED) out.push([1, l, off ? 3 : 1]);
  for (let l = 10; l < D; l++) if ((s + l) % ((l % 5) + 2) === 0) out.push([1, l, 0.5 + (l % 7) / 4]);
  return out;
}

const run = (async () => {
  const w = new ActsWriter(join(dir, 'activations.acts'));
  const rows: SampleRow[] = [];
  const c = { sample: [] as number[], token: [] as number[], latent: [] as number[], value: [] as number[] };
  const add = (id: string, off: boolean, i: number) => {
    for (const [t, l, v] of codes(off, i, rows.length)) {
      c.sample.push(rows.length);
      c.token.push(t);
      c.latent.push(l);
      c.value.push(v);
    }
    rows.push({
      id,
      condition: off ? 'off_topic' : 'on_topic',
      prompt_id: `p${i}`,
      response_id: `p${i}`,
      n_tokens: 2,
      span_start: 0,
      span_end: 2,
    });
  };
  for (let i = 0; i < N; i++) add(`on:${i}`, false, i);
  for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) add(`off:${k}:${i}`, true, i);
  w.append(rows, {
    sample: Int32Array.from(c.sample),
    token: Int32Array.from(c.token),
    latent: Int32Array.from(c.latent),
    value: Float32Array.from(c.value),
  });
  await w.finalize({ model: null, sae: null, layer: 0, d_sae: D });
  const r = await findDetectors(openStore(join(dir, 'activations.acts')));
  writeRanking(join(dir, 'ranking.arrow'), r.stats, r.order, r.selected);
  return dir;
})();

function rankingAuc(runDir: string): Map<number, number> {
  const { rows, columns } = readRanking(join(runDir, 'ranking.arrow'), ['latent', 'auc']);
  return new Map(Array.from({ length: rows }, (_, i) => [Number(columns.latent[i]), Number(columns.auc[i])]));
}

test('detector-like: every latent that passes a rule or has AUC ≥ 0.7', async () => {
  const runDir = await run;
  const auc = rankingAuc(runDir);
  assert.equal(auc.get(4), 0.9);
  assert.equal(auc.get(8), 1);
  for (let l = 10; l < D; l++) assert.ok(auc.get(l)! < DETECTOR_AUC, `background latent ${l}: AUC ${auc.get(l)}`);
  assert.deepEqual(detectorLike(join(runDir, 'ranking.arrow')), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('activity-matched sets hold no detector-like latent although the near-detectors match best', async () => {
  const runDir = await run;
  const activity = await storeActivity(openStore(join(runDir, 'activations.acts')));
  // the near-detectors share the ablated latents' mean code (2) and fire on a similar share of tokens
  assert.equal(activity.mean[4], activity.mean[0]);
  assert.deepEqual([activity.freq[0], activity.freq[4]], [20 / 60, 22 / 60]);
  const auc = rankingAuc(runDir);
  for (const match of ['activity-norm', 'activity', 'none'] as const) {
    const rc = await randomControl({
      match,
      runDir,
      source: 'test',
      dSae: D,
      ablated: ABLATED,
      steered: [20],
      k: 25,
      seed: 3,
      openStore,
      decoder,
    });
    assert.equal(rc.sets.length, 25);
    assert.deepEqual(rc.exclusion.detector_like, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const s of rc.sets) {
      assert.equal(s.latents.length, ABLATED.length);
      assert.equal(new Set(s.latents).size, ABLATED.length);
      for (const l of s.latents) {
        assert.ok(l >= 10 && l !== 20, `${match}: latent ${l} is ablated, steered or detector-like`);
        assert.ok(auc.get(l)! < DETECTOR_AUC, `${match}: latent ${l} has AUC ${auc.get(l)}`);
      }
    }
    assert.equal(rc.match, match);
    assert.equal(rc.activity === null, match === 'none');
  }
});

/** A random control of latents given by hand: no discovery run to match activity in or exclude detectors from. */
const BY_HAND = {
  runDir: null,
  source: '--latents 1,2',
  dSae: D,
  ablated: [1, 2],
  steered: [3],
  k: 2,
  seed: 0,
  openStore,
};

test('activity matching needs a discovery run; the uniform control does not', async () => {
  await assert.rejects(
    randomControl({
      match: 'activity',
      runDir: null,
      source: '--latents 1,2',
      dSae: D,
      ablated: [1, 2],
      steered: [],
      k: 1,
      seed: 0,
      openStore,
    }),
    /--latents 1,2 comes with no discovery run.*--random-match none/,
  );
  const rc = await randomControl({ ...BY_HAND, match: 'none' });
  assert.deepEqual(rc.exclusion.detector_like, []);
  assert.match(rc.exclusion.rule, /no discovery ranking/);
  for (const s of rc.sets) assert.ok(s.latents.every((l) => ![1, 2, 3].includes(l)));
});

/** Mean over the off-topic response tokens of ‖Σ_{l∈set} f_l·W_dec[l]‖, from the planted codes directly. */
function plantedRemovedNorm(set: number[]): number {
  let total = 0;
  let tokens = 0;
  let s = N; // off-topic samples follow the N on-topic ones, in the order the store was written
  for (let k = 0; k < K; k++)
    for (let i = 0; i < N; i++, s++) {
      const sums = [new Array(DIN).fill(0), new Array(DIN).fill(0)];
      for (const [t, l, v] of codes(true, i, s)) if (set.includes(l)) row(l).forEach((x, j) => (sums[t][j] += v * x));
      for (const v of sums) total += Math.hypot(...v);
      tokens += 2;
    }
  return total / tokens;
}

test('activity-norm matching: removed norms as recomputed from the planted codes, every set at least as close as its activity-only draw', async () => {
  const runDir = await run;
  // background latents as the "ablated" set, so that other background latents can match their removed norm
  const ablated = [11, 12, 13, 14];
  const args = { runDir, source: 'test', dSae: D, ablated, steered: [20], k: 8, seed: 5, openStore, decoder };
  const norm = await randomControl({ ...args, match: 'activity-norm' });
  const plain = await randomControl({ ...args, match: 'activity' });
  const n = norm.norm!;
  assert.equal(n.tokens.total, N * K * 2);
  assert.ok(Math.abs(n.ablated - plantedRemovedNorm(ablated)) < 1e-5, `${n.ablated} vs ${plantedRemovedNorm(ablated)}`);
  norm.sets.forEach((s, k) => {
    const mine = plantedRemovedNorm(s.latents);
    assert.ok(Math.abs(n.sets[k] - mine) < 1e-5, `set ${k}: recorded ${n.sets[k]}, recomputed ${mine}`);
    const before = Math.abs(plantedRemovedNorm(plain.sets[k].latents) - n.ablated);
    assert.ok(Math.abs(mine - n.ablated) <= before + 1e-9, `set ${k}: gap ${Math.abs(mine - n.ablated)} > ${before}`);
    assert.equal(n.activity_distance?.length, 8);
    assert.equal(n.within_tolerance[k], Math.abs(mine - n.ablated) <= 0.02 * n.ablated, `set ${k}: within_tolerance`);
  });
  // the activity draws miss the ablated norm; the swaps close most of the gap
  const gap = (sets: { latents: number[] }[]) =>
    sets.reduce((a, s) => a + Math.abs(plantedRemovedNorm(s.latents) - n.ablated), 0) / sets.length;
  assert.ok(gap(norm.sets) < 0.5 * gap(plain.sets), `mean gap ${gap(norm.sets)} vs ${gap(plain.sets)} before`);
  assert.equal(plain.norm, null);
});

test('normMisses: a warning naming the sets whose removed norm missed the 2% tolerance, none when all came within it', () => {
  const norm = {
    ablated: 60,
    sets: [59.5, 11.8],
    within_tolerance: [true, false],
    activity_distance: [0.1, 0.3],
    tokens: { total: 10, measured: 10 },
    rule: 'r',
  };
  const control = {
    match: 'activity-norm',
    rule: 'r',
    exclusion: { rule: 'r', detector_like: [] },
    activity: null,
    norm,
    sets: [],
  };
  const text = normMisses(control as unknown as RandomControl);
  assert.match(
    text ?? '',
    /^1 of 2 sets could not be matched on removed norm within 2% \(the ablated set removes 60\.0000, those sets 11\.8000;/,
  );
  assert.equal(
    normMisses({ ...control, norm: { ...norm, within_tolerance: [true, true] } } as unknown as RandomControl),
    null,
  );
  assert.equal(normMisses({ ...control, norm: null } as unknown as RandomControl), null);
});

/** A wider made-up decoder (8 dimensions) so that 4 ablated rows fit twice: W_dec[l][j] = cos(l·(j + 1)). */
const WIDE = 8;
const wideRow = (l: number) => Array.from({ length: WIDE }, (_, j) => Math.cos(l * (j + 1)));
const wideDecoder = { rows: (ls: number[]) => Float32Array.from(ls.flatMap(wideRow)), dIn: WIDE };

test('rotation: the ablated latents themselves, their removed norm on the store equal to the ablated set, rows recorded', async () => {
  const runDir = await run;
  const args = { runDir, source: 'test', dSae: D, ablated: ABLATED, steered: [20], k: 3, seed: 5, openStore };
  const rc = await randomControl({ ...args, match: 'rotation', decoder: wideDecoder });
  assert.equal(rc.match, 'rotation');
  for (const s of rc.sets) assert.deepEqual(s.latents, ABLATED);
  assert.deepEqual(rc.exclusion.detector_like, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(rc.activity, {
    identical: 'the same latents clamped (the same encoder), so the same codes at the same tokens',
    store: join(runDir, 'activations.acts'),
    tokens: (N + N * K) * 2,
  });
  assert.deepEqual(rc.rotation, {
    file: 'random_rotation.safetensors',
    tensors: ['set_0', 'set_1', 'set_2'],
    streams: [2, 3, 4],
    rank: 4,
  });
  // the ablated set's removed norm, recomputed from the planted codes with the wide rows
  let total = 0;
  for (let k = 0, s = N; k < K; k++)
    for (let i = 0; i < N; i++, s++) {
      const sum = new Array(WIDE).fill(0);
      for (const [, l, v] of codes(true, i, s))
        if (ABLATED.includes(l)) wideRow(l).forEach((x, j) => (sum[j] += v * x));
      total += Math.hypot(...sum); // token 1 holds no ablated latent: its norm is 0
    }
  const n = rc.norm!;
  assert.ok(Math.abs(n.ablated - total / (N * K * 2)) < 1e-5, `${n.ablated} vs ${total / (N * K * 2)}`);
  assert.equal(n.sets.length, 3);
  for (const x of n.sets) assert.ok(Math.abs(x - n.ablated) < 1e-5 * n.ablated, `${x} vs ${n.ablated}`);
  assert.deepEqual(n.within_tolerance, [true, true, true]);
  assert.equal(rc.rows!.length, 3);
  // the rows are the sets' own: orthogonal to every ablated row
  for (const rows of rc.rows!)
    for (let i = 0; i < ABLATED.length; i++)
      for (const l of ABLATED) {
        const r = rows.subarray(i * WIDE, (i + 1) * WIDE);
        assert.ok(Math.abs(wideRow(l).reduce((a, x, j) => a + x * r[j], 0)) < 1e-5);
      }
});

test('rotation works with latents given by hand (no store: norm null) and refuses d_in < 2r', async () => {
  const rc = await randomControl({ ...BY_HAND, match: 'rotation', decoder: wideDecoder });
  assert.equal(rc.norm, null);
  assert.deepEqual(rc.activity, {
    identical: 'the same latents clamped (the same encoder), so the same codes at the same tokens',
    store: null,
    tokens: null,
  });
  assert.match(rc.exclusion.rule, /no discovery ranking/);
  assert.equal(rc.rows![0].length, 2 * WIDE);
  await assert.rejects(
    randomControl({ ...BY_HAND, ablated: [1, 2, 5], match: 'rotation', decoder }),
    /span 3 dimensions of d_in = 3/,
  );
});
