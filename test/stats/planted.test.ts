// Planted detectors among 65,536 latents: each selection rule finds exactly the latents it should.
// Then `analyze stats` end to end on a small store written by our writer.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { differentialStats } from '../../lib/stats/differential.ts';
import { readLatentSet } from '../../lib/stats/latentSet.ts';
import { rankLatents, resolveCriterion, select, type SelectionMethod } from '../../lib/stats/selection.ts';
import { streams } from '../../lib/random.ts';
import type { PooledCodes } from '../../lib/stats/sparse.ts';
import { ActsWriter } from '../../lib/store/writer.ts';
import { RANKING_CONTRACT_COLUMNS } from '../support/ranking-contract.ts';
import { assertExit, runCli } from '../support/cli.ts';

const D = 65_536;
const N_A = 400;
const N_B = 400;
// planted kinds (latent → how it fires); everything else is background noise identical in both groups
const ALWAYS = [101, 2002, 30003, 40004, 65535]; // every a sample, no b sample
const FREQUENT = [7, 8080, 9090, 10100, 50505]; // 85% of a, no b
const SHIFTED = [11, 12121, 13131, 14141, 60606]; // 60% of a at ~3, 20% of b at ~1
const SEPARATED = [15, 16161, 17171, 18181, 61616]; // always on in both groups, a in [5, 6), b in [1, 2)
const EXPECTED: Record<SelectionMethod, number[]> = {
  separability: [...ALWAYS, ...SEPARATED],
  frequency: [...ALWAYS, ...FREQUENT],
  effect: [...ALWAYS, ...FREQUENT, ...SHIFTED, ...SEPARATED],
};

function simulate(
  seed: number,
  d: number,
  nA: number,
  nB: number,
  perSample: number,
): { rows: Map<number, number>[]; groups: Uint8Array } {
  const [rng] = streams(seed, 1);
  const u = (): number => rng.int(2 ** 30) / 2 ** 30;
  const planted = new Set([...ALWAYS, ...FREQUENT, ...SHIFTED, ...SEPARATED].filter((l) => l < d));
  const rows: Map<number, number>[] = [];
  const groups = new Uint8Array(nA + nB);
  for (let r = 0; r < nA + nB; r++) {
    const a = r < nA;
    groups[r] = a ? 0 : 1;
    const row = new Map<number, number>();
    for (let k = 0; k < perSample; k++) {
      const l = rng.int(d);
      if (!planted.has(l)) row.set(l, 0.1 + 3 * u());
    }
    for (const l of ALWAYS) if (l < d && a) row.set(l, 2 + u());
    for (const l of FREQUENT) if (l < d && a && u() < 0.85) row.set(l, 2 + u());
    for (const l of SHIFTED) if (l < d && u() < (a ? 0.6 : 0.2)) row.set(l, a ? 2.5 + u() : 0.5 + u());
    for (const l of SEPARATED) if (l < d) row.set(l, a ? 5 + u() : 1 + u());
    rows.push(row);
  }
  return { rows, groups };
}

function toCsr(rows: Map<number, number>[], d: number): PooledCodes {
  const indptr = new Int32Array(rows.length + 1);
  const lat: number[] = [];
  const val: number[] = [];
  rows.forEach((row, r) => {
    for (const [l, v] of [...row].sort((x, y) => x[0] - y[0])) {
      lat.push(l);
      val.push(v);
    }
    indptr[r + 1] = lat.length;
  });
  return { nSamples: rows.length, dSae: d, indptr, latents: Int32Array.from(lat), values: Float64Array.from(val) };
}

test('planted detectors among 65,536 latents: every rule selects exactly its planted latents', () => {
  const { rows, groups } = simulate(1, D, N_A, N_B, 100);
  const s = differentialStats(toCsr(rows, D), groups);
  for (const method of ['separability', 'frequency', 'effect'] as SelectionMethod[]) {
    const chosen = select(s, resolveCriterion(method));
    const got = Array.from(chosen.keys()).filter((l) => chosen[l] === 1);
    assert.deepEqual(
      got,
      [...EXPECTED[method]].sort((a, b) => a - b),
      method,
    );
  }
  // AUC ranking: the ten AUC = 1 latents first (ties by Cohen's d), then the frequent ones (AUC 0.925)
  const order = rankLatents(s, 'auc');
  assert.deepEqual(
    [...order.slice(0, 10)].sort((a, b) => a - b),
    [...ALWAYS, ...SEPARATED].sort((a, b) => a - b),
  );
  for (let i = 1; i < 10; i++) assert.ok(s.cohens_d[order[i - 1]] >= s.cohens_d[order[i]]);
  assert.deepEqual(
    [...order.slice(10, 15)].sort((a, b) => a - b),
    FREQUENT,
  );
});

test('analyze stats: store in, ranking.arrow and latents.json out', async () => {
  const d = 20_000;
  const { rows, groups } = simulate(2, d, 60, 50, 40);
  const dir = mkdtempSync(join(tmpdir(), 'stats-cli-'));
  const store = join(dir, 'x.acts');
  const w = new ActsWriter(store);
  // two tokens per sample: the pooled max is the larger one, the token outside the span is ignored
  for (let start = 0; start < rows.length; start += 25) {
    const batch = rows.slice(start, start + 25);
    const sample: number[] = [];
    const token: number[] = [];
    const latent: number[] = [];
    const value: number[] = [];
    batch.forEach((row, i) => {
      for (const [l, v] of row) {
        sample.push(i, i, i);
        token.push(1, 2, 0);
        latent.push(l, l, l);
        value.push(v, v / 2, 100);
      }
    });
    w.append(
      batch.map((_, i) => ({
        id: `s${start + i}`,
        condition: groups[start + i] === 0 ? 'off_topic' : 'on_topic',
        prompt_id: `p${start + i}`,
        response_id: null,
        n_tokens: 3,
        span_start: 1,
        span_end: 3,
      })),
      {
        sample: Int32Array.from(sample),
        token: Int32Array.from(token),
        latent: Int32Array.from(latent),
        value: Float32Array.from(value),
      },
    );
  }
  await w.finalize({ model: 'toy', sae: 'toy', layer: 0, d_sae: d });
  const out = join(dir, 'out');
  const r = runCli([
    'stats',
    '--activations',
    store,
    '--method',
    'frequency',
    '--min-freq',
    '0.7',
    '--out',
    out,
    '--show',
    '5',
  ]);
  assertExit(r, 0);
  const t = tableFromIPC(readFileSync(join(out, 'ranking.arrow')));
  assert.equal(t.numRows, d);
  assert.deepEqual(
    t.schema.fields.map((f) => f.name),
    RANKING_CONTRACT_COLUMNS,
  );
  const set = readLatentSet(join(out, 'latents.json'));
  assert.deepEqual(
    [...set.selected].sort((a, b) => a - b),
    EXPECTED.frequency.filter((l) => l < d).sort((a, b) => a - b),
  );
  assert.ok(set.latents.length >= 100);
  // every sample is its own prompt: the within-prompt test cannot run, says why, and the per-sample test does
  assert.match(
    r.stderr,
    /the within-prompt test cannot run: 60 prompts have no group-b sample \(p0, p1, p2, …\); 50 prompts have no group-a sample \(p60, p61, p62, …\); running the per-sample test/,
  );
  assert.deepEqual([set.criterion.unit, typeof set.criterion.fallback], ['sample', 'string']);
  // the pooled maximum ignores the out-of-span token of value 100
  assert.ok(Math.max(...t.getChild('max_a')!.toArray()) < 7);
  const bad = runCli(['stats', '--activations', store, '--a', 'nope', '--out', out]);
  assertExit(bad, 2, /nope: 0/);
});
