// Benchmark: the within-prompt test of every latent of a 65,536-latent store of find-otd-latents' design
// (48 prompts × K = 5: 288 samples; per-latent firing rates log-uniform in 0.1–60% by default, prompt and
// response effects), ours (exact p for every latent) against scipy's permutation_test with Monte Carlo
// permutations on a subset of latents, scaled up linearly, in the same run; and our p against an exact numpy
// convolution. Times are CPU seconds of one thread (process.cpuUsage, time.process_time), so a shared
// machine does not distort the ratio; a first, cold call (as a command makes it).
//   node --import tsx bench/stats/stratified.ts [--peer-latents 64] [--resamples 9999] [--max-rate 0.6]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareGroups } from '../../lib/stats/detectors.ts';
import { rankLatents } from '../../lib/stats/selection.ts';
import { strataOf, stratifiedStats } from '../../lib/stats/stratified.ts';
import { simulateDiscovery } from '../../test/support/discovery-sim.ts';

const { values: a } = parseArgs({
  options: {
    'peer-latents': { type: 'string', default: '64' },
    resamples: { type: 'string', default: '9999' },
    'max-rate': { type: 'string', default: '0.6' },
  },
});
const peerLatents = Number(a['peer-latents']);
const resamples = Number(a.resamples);
const D = 65_536;
const N = 48;
const K = 5;

const sim = simulateDiscovery({
  prompts: N,
  k: K,
  nulls: D - 20,
  detectors: 20,
  seed: 1,
  effects: 1,
  rates: [0.001, Number(a['max-rate'])],
});
const ids = { prompt: sim.promptIds, response: sim.responseIds };
const nnz = sim.codes.latents.length;

const strata = strataOf(sim.groups, sim.promptIds, sim.responseIds);
if (typeof strata === 'string') throw new Error(strata);
const cpu = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};
let t0 = process.cpuUsage();
const st = stratifiedStats(sim.codes, strata, 'greater');
const oursTest = cpu(t0);
t0 = process.cpuUsage();
const all = compareGroups(sim.codes, sim.groups, ids, { unit: 'prompt', alternative: 'greater' }, 'bench').stats;
rankLatents(all);
const oursAll = cpu(t0);

// the peer's latents: spread over the informative ones, dense values [latent][prompt][0 = on, 1..K = off]
const informative = Array.from({ length: D }, (_, l) => l).filter((l) => st.n_informative[l] > 0);
const chosen = Array.from(
  { length: peerLatents },
  (_, i) => informative[Math.floor((i * informative.length) / peerLatents)],
);
const at = new Map(chosen.map((l, j) => [l, j]));
const dense = new Float64Array(peerLatents * N * (K + 1));
for (let s = 0; s < sim.codes.nSamples; s++) {
  const i = strata.stratum[s];
  for (let e = sim.codes.indptr[s]; e < sim.codes.indptr[s + 1]; e++) {
    const j = at.get(sim.codes.latents[e]);
    if (j !== undefined) dense[(j * N + i) * (K + 1) + strata.position[s]] = sim.codes.values[e];
  }
}
const dir = mkdtempSync(join(tmpdir(), 'bench-strat-'));
writeFileSync(join(dir, 'values.bin'), dense);
const peer = spawnSync(
  join(process.cwd(), '.venv-ref/bin/python'),
  [
    fileURLToPath(new URL('./stratified_peer.py', import.meta.url)),
    dir,
    String(peerLatents),
    String(N),
    String(K + 1),
    String(resamples),
  ],
  { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } },
);
rmSync(dir, { recursive: true, force: true });
if (peer.status !== 0) throw new Error(`peer failed: ${peer.stderr}`);
const p = JSON.parse(peer.stdout);

let maxRel = 0;
let mcOutside = 0;
chosen.forEach((l, j) => {
  maxRel = Math.max(maxRel, Math.abs(st.p_strat[l] - p.p_exact[j]) / p.p_exact[j]);
  // the Monte Carlo p within 4 binomial SDs (plus its 1/(R+1) floor) of the exact one
  const sd = Math.sqrt((p.p_exact[j] * (1 - p.p_exact[j])) / resamples);
  if (Math.abs(p.p_mc[j] - p.p_exact[j]) > 4 * sd + 1 / (resamples + 1)) mcOutside++;
});
const scipyAll = (p.seconds_mc * informative.length) / peerLatents;
const numpyAll = (p.seconds_exact * informative.length) / peerLatents;
console.log(
  `store: ${D} latents, ${N} prompts × (1 + ${K}) samples, ${nnz.toLocaleString('en-US')} non-zero pooled values; ${informative.length} latents informative in some prompt (mean ${(st.n_informative.reduce((x, y) => x + y, 0) / informative.length).toFixed(1)} prompts), ${st.normal} by the normal approximation`,
);
console.log(
  `ours: within-prompt test (exact p_strat) of all ${D} latents ${oursTest.toFixed(2)} s; with the per-sample statistics, BH/BY/Holm and ranking ${oursAll.toFixed(2)} s`,
);
console.log(
  `scipy permutation_test (samples, ${resamples} Monte Carlo permutations, vectorized), ${peerLatents} latents: ${p.seconds_mc.toFixed(2)} s → ${scipyAll.toFixed(0)} s for the ${informative.length} informative latents`,
);
console.log(
  `numpy exact convolution, same latents: ${p.seconds_exact.toFixed(2)} s → ${numpyAll.toFixed(0)} s for all informative latents`,
);
console.log(
  `ratio scipy/ours: ${(scipyAll / oursTest).toFixed(0)}×, numpy-exact/ours: ${(numpyAll / oursTest).toFixed(0)}×; max relative difference of p_strat vs numpy exact: ${maxRel.toExponential(1)}; scipy Monte Carlo p outside 4 SD of the exact one: ${mcOutside} of ${peerLatents}`,
);
