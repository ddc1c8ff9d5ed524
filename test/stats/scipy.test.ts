// Our statistics against scipy on committed fixtures (test/fixtures/stats/make_stats.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { benjaminiHochberg, holm } from '../../lib/stats/adjust.ts';
import { type CiMethod, intervalFrom } from '../../lib/stats/bootstrap.ts';
import { differentialStats } from '../../lib/stats/differential.ts';
import type { Alternative } from '../../lib/stats/dists.ts';
import { clopperPearson, wilson } from '../../lib/stats/intervals.ts';
import { mannWhitneyU, pairedT, welchT, wilcoxon } from '../../lib/stats/tests.ts';

const ref = JSON.parse(readFileSync(new URL('../fixtures/stats/scipy_ref.json', import.meta.url), 'utf8'));

/** |ours − scipy| ≤ max(rel·|scipy|, abs); null in the fixture means NaN. */
function close(ours: number, theirs: number | null, rel: number, abs: number, what: string): void {
  if (theirs === null) return assert.ok(Number.isNaN(ours), `${what}: expected NaN, got ${ours}`);
  if (!Number.isFinite(theirs)) return assert.equal(ours, theirs, what);
  const err = Math.abs(ours - theirs);
  assert.ok(err <= Math.max(rel * Math.abs(theirs), abs), `${what}: ours ${ours} vs scipy ${theirs} (|Δ| = ${err})`);
}
const STAT = [1e-6, 1e-12] as const;
const P = [1e-4, 1e-9] as const;

test('mannwhitneyu matches scipy (auto method: exact and asymptotic; all alternatives)', () => {
  for (const c of ref.mannwhitneyu) {
    const r = mannWhitneyU(c.x, c.y, c.alternative as Alternative);
    close(r.statistic, c.u, ...STAT, `${c.name} ${c.alternative} U`);
    close(r.p, c.p, ...P, `${c.name} ${c.alternative} p`);
  }
});

test('wilcoxon matches scipy (exact, sign-flip permutation with zeros, asymptotic with ties)', () => {
  for (const c of ref.wilcoxon) {
    const r = wilcoxon(c.x, c.y ?? undefined, c.alternative as Alternative);
    close(r.statistic, c.statistic, ...STAT, `${c.name} ${c.alternative} statistic`);
    close(r.p, c.p, ...P, `${c.name} ${c.alternative} p`);
  }
});

test('ttest_ind(equal_var=False) and ttest_rel match scipy', () => {
  for (const c of ref.ttest_ind_welch) {
    const r = welchT(c.x, c.y, c.alternative as Alternative);
    close(r.statistic, c.t, ...STAT, `${c.name} t`);
    close(r.df, c.df, ...STAT, `${c.name} df`);
    close(r.p, c.p, ...P, `${c.name} ${c.alternative} p`);
  }
  for (const c of ref.ttest_rel) {
    const r = pairedT(c.x, c.y, c.alternative as Alternative);
    close(r.statistic, c.t, ...STAT, `${c.name} t`);
    close(r.p, c.p, ...P, `${c.name} ${c.alternative} p`);
  }
});

test('Benjamini–Hochberg matches false_discovery_control; Holm matches the step-down formula', () => {
  const q = benjaminiHochberg(ref.adjust.p);
  const h = holm(ref.adjust.p);
  ref.adjust.bh.forEach((v: number, i: number) => close(q[i], v, ...P, `q[${i}]`));
  ref.adjust.holm.forEach((v: number, i: number) => close(h[i], v, ...P, `holm[${i}]`));
});

test('Wilson and Clopper–Pearson match binomtest(...).proportion_ci', () => {
  for (const c of ref.proportions) {
    wilson(c.k, c.n).forEach((v, i) => close(v, c.wilson[i], 1e-6, 1e-12, `wilson ${c.k}/${c.n}`));
    clopperPearson(c.k, c.n).forEach((v, i) => close(v, c.exact[i], 1e-6, 1e-12, `exact ${c.k}/${c.n}`));
  }
});

test('differential statistics over sparse codes match dense scipy per latent', () => {
  const D = ref.differential;
  const n = D.n_a + D.n_b;
  // CSR from the fixture's (row, col, value) triplets, rows in order
  const indptr = new Int32Array(n + 1);
  for (const r of D.rows) indptr[r + 1]++;
  for (let r = 0; r < n; r++) indptr[r + 1] += indptr[r];
  const codes = {
    nSamples: n,
    dSae: D.d_sae,
    indptr,
    latents: Int32Array.from(D.cols),
    values: Float64Array.from(D.vals),
  };
  const groups = Uint8Array.from({ length: n }, (_, r) => (r < D.n_a ? 0 : 1));
  const s = differentialStats(codes, groups);
  const greater = differentialStats(codes, groups, 'greater');
  for (let l = 0; l < D.d_sae; l++) {
    for (const k of [
      'mean_a',
      'mean_b',
      'sd_a',
      'sd_b',
      'max_a',
      'max_b',
      'freq_a',
      'freq_b',
      'cohens_d',
      'cliffs_delta',
      'welch_t',
    ] as const) {
      close(s[k][l], D[k][l], 1e-6, 1e-12, `latent ${l} ${k}`);
    }
    close(s.u[l], D.u[l], ...STAT, `latent ${l} U`);
    close(s.auc[l], D.u[l] / (D.n_a * D.n_b), ...STAT, `latent ${l} auc`);
    for (const k of ['p_mwu', 'p_welch', 'q_bh', 'p_holm'] as const) close(s[k][l], D[k][l], ...P, `latent ${l} ${k}`);
    close(greater.p_mwu[l], D.p_mwu_greater[l], ...P, `latent ${l} p_mwu (greater)`);
  }
  // inactive latents: q = 1, AUC ½
  for (let l = D.d_sae - 10; l < D.d_sae; l++) {
    assert.equal(s.active[l], 0);
    assert.equal(s.q_bh[l], 1);
    assert.equal(s.auc[l], 0.5);
  }
});

test('bootstrap intervals match scipy.stats.bootstrap given the same resample indices', () => {
  const mean = (x: number[]): number => x.reduce((a, b) => a + b, 0) / x.length;
  const sum = (x: number[]): number => x.reduce((a, b) => a + b, 0);
  const stat: Record<string, (d: number[][]) => number> = {
    mean: ([x]) => mean(x),
    diff_two_sample: ([x, y]) => mean(x) - mean(y),
    ratio_paired: ([x, y]) => sum(x) / sum(y),
  };
  for (const c of ref.bootstrap) {
    const f = stat[c.name];
    const data: number[][] = c.data;
    const theta = f(data);
    const B = c.indices[0].length;
    const thetaB = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const resampled = c.paired
        ? data.map((x) => c.indices[0][b].map((i: number) => x[i]))
        : data.map((x, j) => c.indices[j][b].map((i: number) => x[i]));
      thetaB[b] = f(resampled);
    }
    // jackknife per sample (paired: one sample of observation pairs), as scipy does
    const samples = c.paired ? [data[0].length] : data.map((x) => x.length);
    const jack = samples.map((n, j) =>
      Float64Array.from({ length: n }, (_, i) => {
        const drop = (x: number[]): number[] => x.filter((_, k) => k !== i);
        return f(c.paired ? data.map(drop) : data.map((x, jj) => (jj === j ? drop(x) : x)));
      }),
    );
    const method = c.method.toLowerCase() as CiMethod;
    const { ci } = intervalFrom(theta, thetaB, method, 0.95, jack);
    close(ci[0], c.ci[0], 1e-6, 1e-12, `${c.name} ${c.method} low`);
    close(ci[1], c.ci[1], 1e-6, 1e-12, `${c.name} ${c.method} high`);
  }
});

test('episode regions: paired tests on region means agree with scipy on the same vectors; missing regions counted', async () => {
  const { compareRegions } = await import('../../lib/stats/episodes.ts');
  const { pooledFromDense } = await import('../../lib/stats/sparse.ts');
  const c = ref.wilcoxon.find((w: any) => w.name === 'paired' && w.alternative === 'greater');
  const n = c.x.length;
  // latent 1 carries the fixture's paired vectors; one extra episode lacks region y
  const x = pooledFromDense([...c.x.map((v: number) => [0, v]), [0, 9]], 2);
  const y = pooledFromDense([...c.y.map((v: number) => [0, v]), [0, 0]], 2);
  const present = Uint8Array.from({ length: n + 1 }, (_, r) => (r < n ? 1 : 0));
  const ids = Array.from({ length: n + 1 }, (_, r) => `e${r}`);
  const [r] = compareRegions(
    ids,
    { codes: x, present: new Uint8Array(n + 1).fill(1) },
    { codes: y, present },
    [1],
    'greater',
  );
  assert.equal(r.n_pairs, n);
  assert.equal(r.n_missing, 1);
  close(r.wilcoxon.p, c.p, ...P, 'episode wilcoxon p');
  const t = ref.ttest_rel.find((w: any) => w.name === 'rel_a' && w.alternative === 'greater');
  const [rt] = compareRegions(
    t.x.map((_: number, i: number) => `e${i}`),
    {
      codes: pooledFromDense(
        t.x.map((v: number) => [v]),
        1,
      ),
      present: new Uint8Array(t.x.length).fill(1),
    },
    {
      codes: pooledFromDense(
        t.y.map((v: number) => [v]),
        1,
      ),
      present: new Uint8Array(t.x.length).fill(1),
    },
    [0],
    'greater',
  );
  close(rt.paired_t.p, t.p, ...P, 'episode paired t p');
});
