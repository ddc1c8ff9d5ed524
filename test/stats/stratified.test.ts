// The within-prompt (stratified) rank test against scipy and exact references
// (test/fixtures/stats/make_strat.py): permutation_test, binomtest, integer convolution, false_discovery_control.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { benjaminiHochberg, benjaminiYekutieli } from '../../lib/stats/adjust.ts';
import { compareRegions } from '../../lib/stats/episodes.ts';
import type { Alternative } from '../../lib/stats/dists.ts';
import { pooledFromDense } from '../../lib/stats/sparse.ts';
import { type Strata, strataOf, stratifiedStats, stratumAucs } from '../../lib/stats/stratified.ts';
import { EXACT_BUDGET, StratNull } from '../../lib/stats/stratNull.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/stats/strat_ref.json', import.meta.url), 'utf8'));

/** One latent (column 0) plus an all-zero latent (column 1); sample rows: per prompt its on value, then its off values. */
function design(rows: number[][], responses = true) {
  const dense: number[][] = [];
  const groups: number[] = [];
  const prompts: string[] = [];
  const resp: string[] = [];
  rows.forEach((values, i) =>
    values.forEach((v, m) => {
      dense.push([v, 0]);
      groups.push(m === 0 ? 1 : 0);
      prompts.push(`p${i}`);
      resp.push(`r${i}.${m}`);
    }),
  );
  const strata = strataOf(Uint8Array.from(groups), prompts, responses ? resp : undefined);
  if (typeof strata === 'string') throw new Error(strata);
  return { codes: pooledFromDense(dense, 2), strata };
}

const rowsOf = (on: number[], off: number[][]): number[][] => on.map((v, i) => [v, ...off[i]]);

function closeRel(ours: number, theirs: number, rel: number, what: string): void {
  assert.ok(
    Math.abs(ours - theirs) <= rel * Math.abs(theirs) + 1e-300,
    `${what}: ours ${ours} vs reference ${theirs} (rel ${Math.abs(ours - theirs) / theirs})`,
  );
}

test('p_strat equals scipy permutation_test (permutation_type samples, every permutation) on tiny tied data', () => {
  for (const c of ref.tiny) {
    const { codes, strata } = design(rowsOf(c.on, c.off));
    for (const alt of ['greater', 'two-sided', 'less'] as Alternative[]) {
      const s = stratifiedStats(codes, strata, alt);
      closeRel(s.p_strat[0], c[alt], 1e-12, `n ${c.n} K ${c.k} ${alt}`);
      assert.equal(s.p_strat[1], 1, 'a latent that never fires has p = 1');
    }
    // strat_auc = S / 2nK at constant K
    const s = stratifiedStats(codes, strata);
    closeRel(s.strat_auc[0], c.statistic / (2 * c.n * c.k), 1e-15, `n ${c.n} K ${c.k} strat_auc`);
    assert.equal(s.strat_auc[1], 0.5);
  }
});

test('at K = 1 p_strat equals scipy binomtest on the untied pairs', () => {
  for (const c of ref.binom) {
    const { codes, strata } = design(rowsOf(c.on, c.off));
    for (const alt of ['greater', 'two-sided', 'less'] as Alternative[]) {
      closeRel(stratifiedStats(codes, strata, alt).p_strat[0], c[alt], 1e-12, `n ${c.n} ${alt}`);
    }
    assert.equal(stratifiedStats(codes, strata).n_informative[0], c.untied);
  }
});

test('exact p on 48 prompts × K = 5 (sparse to dense), variable K, and K = 9 and 12 with distinct values equals an integer convolution; tails to 1e-12 relative', () => {
  for (const c of ref.exact) {
    const { codes, strata } = design(c.rows);
    const ge = stratifiedStats(codes, strata, 'greater').p_strat[0];
    const le = stratifiedStats(codes, strata, 'less').p_strat[0];
    closeRel(ge, c.ge, 1e-12, `${c.name} P(S ≥ s)`);
    closeRel(le, c.le, 1e-12, `${c.name} P(S ≤ s)`);
  }
});

test('normal approximation uses the exact null mean, variance and lattice step', () => {
  for (const c of ref.exact) {
    const acc = new StratNull();
    let constant = 0;
    for (const row of c.rows) {
      const u = acc.addRow(
        row,
        [...row].sort((a, b) => a - b),
      );
      if (u < 0) constant += row.length - 1;
    }
    const m = acc.moments();
    closeRel(m.mean + constant, c.mean, 1e-15, `${c.name} mean`);
    closeRel(m.variance, c.var, 1e-12, `${c.name} variance`);
    assert.equal(m.step, c.step, `${c.name} lattice step`);
    assert.equal(acc.observed + constant, c.statistic, `${c.name} S`);
  }
});

test('strata: one group-b sample and ≥ 1 group-a samples per prompt; repeated responses of a prompt count once', () => {
  const g = Uint8Array.from([1, 0, 0, 0, 1, 0, 0]);
  const prompts = ['a', 'a', 'a', 'a', 'b', 'b', 'b'];
  const s = strataOf(g, prompts, ['x', 'y', 'z', 'y', 'y', 'x', 'x']) as Strata;
  assert.deepEqual([...s.k], [2, 1]);
  assert.equal(s.duplicates, 2);
  assert.deepEqual([...s.groups], [1, 0, 0, 2, 1, 0, 2]);
  assert.deepEqual([...s.position], [0, 1, 2, 0, 0, 1, 0]);
  assert.match(
    strataOf(Uint8Array.from([1, 0, 1, 0, 0]), ['a', 'a', 'a', 'b', 'b']) as string,
    /1 prompts have no group-b.*\(b\).*more than one group-b sample \(a\)/,
  );
  assert.match(strataOf(Uint8Array.from([1, 1, 0]), ['a', 'b', 'b']) as string, /no group-a sample \(a\)/);
  assert.match(strataOf(Uint8Array.from([1, 0]), ['a', 'a']) as string, /1 complete prompt \(need at least 2\)/);
});

test('per-stratum AUCs by definition; their mean is strat_auc', () => {
  const c = ref.exact[4];
  const { codes, strata } = design(c.rows);
  const [aucs] = stratumAucs(codes, strata, [0]);
  const mean = aucs.reduce((x, y) => x + y, 0) / aucs.length;
  closeRel(stratifiedStats(codes, strata).strat_auc[0], mean, 1e-14, 'strat_auc');
  const [zeros] = stratumAucs(codes, strata, [1]);
  assert.ok(zeros.every((x) => x === 0.5));
});

test('Benjamini–Hochberg and Benjamini–Yekutieli equal scipy false_discovery_control', () => {
  const q = benjaminiHochberg(ref.adjust.p);
  const y = benjaminiYekutieli(ref.adjust.p);
  ref.adjust.bh.forEach((v: number, i: number) => closeRel(q[i], v, 1e-12, `bh[${i}]`));
  ref.adjust.by.forEach((v: number, i: number) => closeRel(y[i], v, 1e-12, `by[${i}]`));
});

test(`the normal approximation takes over beyond ${EXACT_BUDGET} multiply-adds; there it is within ×2.1 of the exact p for p in [1e-6, 0.05]`, () => {
  // rows of K + 1 values, a share of them zero, added until the exact convolution would exceed the budget
  let seed = 5;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (const [k, zeros, bound] of [
    [2, 0.5, 1.15],
    [5, 0, 1.05],
    [5, 0.5, 1.35],
    [5, 0.7, 1.6],
    [10, 0.7, 2.1],
  ]) {
    const acc = new StratNull();
    let rows = 0;
    for (;;) {
      const row = Array.from({ length: k + 1 }, () => (rand() < zeros ? 0 : Math.round(rand() * 40) / 10));
      if (
        acc.addRow(
          row,
          [...row].sort((x, y) => x - y),
        ) < 0
      )
        continue;
      rows++;
      if (!acc.pValueAt(0, 'greater').exact) break;
    }
    assert.ok(rows > 200, `K ${k}: exact up to ${rows} rows`);
    const { mean, variance } = acc.moments();
    let checked = 0;
    for (let z = 1; z <= 5.5; z += 0.5) {
      const t = Math.round(mean + z * Math.sqrt(variance));
      const exact = acc.pValueAt(t, 'greater', true).p;
      if (exact < 1e-6 || exact > 0.05) continue;
      const normal = acc.pValueAt(t, 'greater').p;
      const ratio = Math.max(normal / exact, exact / normal);
      assert.ok(
        ratio <= bound,
        `K ${k}, zeros ${zeros}, ${rows} rows, p ${exact}: normal ${normal} (×${ratio.toFixed(3)})`,
      );
      checked++;
    }
    assert.ok(checked >= 4);
  }
});

test('episode regions: the within-episode rank test is the sign test on the untied episodes', () => {
  // x > y in 4 episodes, below in 1, tied in 1: binomtest(4, 5) two-sided = 12/32, greater = 6/32
  const x = [3, 2, 5, 1, 4, 4];
  const y = [1, 2, 2, 0, 3, 5];
  const region = (v: number[]) => ({
    codes: pooledFromDense(
      v.map((a) => [a]),
      1,
    ),
    present: new Uint8Array(6).fill(1),
  });
  const ids = x.map((_, i) => `e${i}`);
  const [two] = compareRegions(ids, region(x), region(y), [0]);
  assert.deepEqual([two.strat.auc, two.strat.untied], [4.5 / 6, 5]);
  closeRel(two.strat.p, 12 / 32, 1e-14, 'two-sided p');
  const [greater] = compareRegions(ids, region(x), region(y), [0], 'greater');
  closeRel(greater.strat.p, 6 / 32, 1e-14, 'one-sided p');
});

test('a sparse latent over thousands of prompts: exact at any size (one binomial), equal to scipy binom', () => {
  for (const c of ref.sparse_large) {
    const rows = Array.from({ length: c.n }, () => new Array<number>(c.k + 1).fill(0));
    for (const [i, m, v] of c.nonzero) rows[i][m] = v;
    const { codes, strata } = design(rows);
    const greater = stratifiedStats(codes, strata, 'greater');
    assert.equal(greater.normal, 0, 'no normal approximation');
    assert.equal(greater.n_informative[0], c.m);
    closeRel(greater.p_strat[0], c.greater, 1e-10, `${c.n} × ${c.k} greater`);
    closeRel(stratifiedStats(codes, strata, 'less').p_strat[0], c.less, 1e-10, `${c.n} × ${c.k} less`);
  }
});
