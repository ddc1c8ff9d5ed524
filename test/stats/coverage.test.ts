// Coverage of 95% intervals for a proportion with clustered data (seeded simulation): the cluster
// bootstrap (BCa) must cover the true value in 92–98% of datasets; naive intervals that treat trials
// as independent (Wilson, and a bootstrap over trials) visibly under-cover.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrap, sumsStatistic } from '../../lib/stats/bootstrap.ts';
import { wilson } from '../../lib/stats/intervals.ts';
import { streams } from '../../lib/random.ts';

// cluster propensities drawn uniformly from these: true proportion = their mean, strong clustering
const PROPENSITIES = [0.02, 0.1, 0.2, 0.4, 0.8];
const TRUE_P = PROPENSITIES.reduce((a, b) => a + b, 0) / PROPENSITIES.length;
const DATASETS = 400;
const CLUSTERS = 40;
const PER_CLUSTER = 8;

test('coverage: cluster bootstrap ≈ 95%, naive intervals under-cover', () => {
  const [rng] = streams(2024, 1);
  const uniform = (): number => rng.int(2 ** 30) / 2 ** 30;
  const ratio = (t: Float64Array, out: Float64Array): void => {
    out[0] = t[1] / t[0];
  };
  let cluster = 0;
  let naiveWilson = 0;
  let naiveBoot = 0;
  for (let d = 0; d < DATASETS; d++) {
    const sums = new Float64Array(CLUSTERS * 2);
    const trials = new Float64Array(CLUSTERS * PER_CLUSTER * 2);
    let k = 0;
    for (let c = 0; c < CLUSTERS; c++) {
      const p = PROPENSITIES[rng.int(PROPENSITIES.length)];
      for (let i = 0; i < PER_CLUSTER; i++) {
        const y = uniform() < p ? 1 : 0;
        sums[c * 2] += 1;
        sums[c * 2 + 1] += y;
        trials[(c * PER_CLUSTER + i) * 2] = 1;
        trials[(c * PER_CLUSTER + i) * 2 + 1] = y;
        k += y;
      }
    }
    const covers = ([lo, hi]: [number, number]): number => (lo <= TRUE_P && TRUE_P <= hi ? 1 : 0);
    cluster += covers(bootstrap(CLUSTERS, sumsStatistic(sums, 2, 1, ratio), { resamples: 1000, seed: d }).ci[0]);
    naiveBoot += covers(
      bootstrap(CLUSTERS * PER_CLUSTER, sumsStatistic(trials, 2, 1, ratio), {
        resamples: 1000,
        seed: d,
        method: 'percentile',
      }).ci[0],
    );
    naiveWilson += covers(wilson(k, CLUSTERS * PER_CLUSTER));
  }
  const rate = (x: number): number => x / DATASETS;
  console.log(
    `coverage: cluster BCa ${rate(cluster)}, naive bootstrap ${rate(naiveBoot)}, Wilson ${rate(naiveWilson)}`,
  );
  assert.ok(rate(cluster) >= 0.92 && rate(cluster) <= 0.98, `cluster bootstrap coverage ${rate(cluster)}`);
  assert.ok(rate(naiveWilson) < 0.88, `naive Wilson coverage ${rate(naiveWilson)}`);
  assert.ok(rate(naiveBoot) < 0.88, `naive bootstrap coverage ${rate(naiveBoot)}`);
});
