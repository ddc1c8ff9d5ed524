// Benchmark: cluster bootstrap with BCa of every ESR metric, 5,000 trials in 500 clusters, 10,000
// resamples — ours (all five metrics together) against scipy.stats.bootstrap (one call per metric,
// resampling cluster indices with a vectorized statistic), same data, same run.
//   node --import tsx bench/stats/bootstrap.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrap, sumsStatistic } from '../../lib/stats/bootstrap.ts';
import { streams } from '../../lib/random.ts';
import { METRICS } from '../../lib/trials/metricDefs.ts';
import { metricsFromTotals } from '../../lib/trials/metrics.ts';

const CLUSTERS = 500;
const PER = 10;
const [rng] = streams(5, 1);
// per-cluster sums [trials, multi-attempt, ESR, first score, delta over multi-attempt]
const sums = new Float64Array(CLUSTERS * 5);
for (let c = 0; c < CLUSTERS; c++) {
  const pMulti = rng.int(30) / 100;
  for (let i = 0; i < PER; i++) {
    const multi = rng.int(100) < pMulti * 100;
    const a0 = rng.int(101);
    const last = multi ? rng.int(101) : a0;
    sums[c * 5] += 1;
    sums[c * 5 + 1] += multi ? 1 : 0;
    sums[c * 5 + 2] += multi && last > a0 ? 1 : 0;
    sums[c * 5 + 3] += a0;
    sums[c * 5 + 4] += multi ? last - a0 : 0;
  }
}
const t0 = performance.now();
const r = bootstrap(
  CLUSTERS,
  sumsStatistic(sums, 5, 5, (t, out) => metricsFromTotals(t, out)),
  { resamples: 10_000, seed: 1 },
);
const ours = (performance.now() - t0) / 1000;

const dir = mkdtempSync(join(tmpdir(), 'bench-boot-'));
writeFileSync(join(dir, 'sums.bin'), sums);
const peer = spawnSync(
  join(process.cwd(), '.venv-ref/bin/python'),
  [fileURLToPath(new URL('./bootstrap_peer.py', import.meta.url)), join(dir, 'sums.bin')],
  { encoding: 'utf8' },
);
rmSync(dir, { recursive: true, force: true });
if (peer.status !== 0) throw new Error(`peer failed: ${peer.stderr}`);
const p = JSON.parse(peer.stdout);
console.log(`${CLUSTERS * PER} trials in ${CLUSTERS} clusters, 10,000 resamples, BCa, ${METRICS.length} metrics`);
METRICS.forEach((m, j) =>
  console.log(
    `  ${m.padEnd(20)} ours [${r.ci[j].map((x) => x.toFixed(4)).join(', ')}]  scipy [${p.ci[j].map((x: number) => x.toFixed(4)).join(', ')}]`,
  ),
);
console.log(
  `ours: ${ours.toFixed(3)} s; scipy.stats.bootstrap: ${p.seconds.toFixed(2)} s; ratio ${(p.seconds / ours).toFixed(0)}×`,
);
console.log('(intervals differ only by Monte Carlo error: the two sides draw different resamples)');
