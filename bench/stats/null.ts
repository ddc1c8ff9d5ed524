// How discovery tests behave under the null, on simulated stores of find-otd-latents' design (n prompts,
// K disjoint derangements; null latents whose firing depends on the prompt and on the response but not on
// whether they match, base rates 0.5–60%; planted detectors). Prints, per test, the share of null latents
// rejected at α = 0.05 and the mean null AUC, then BH's discoveries and the top 26 under two rankings.
//   node --import tsx bench/stats/null.ts [--prompts 48] [--k 5] [--nulls 4000] [--detectors 20] [--effects 1] [--seeds 3]
import { parseArgs } from 'node:util';
import { compareGroups } from '../../lib/stats/detectors.ts';
import type { Alternative } from '../../lib/stats/dists.ts';
import { rankLatents } from '../../lib/stats/selection.ts';
import { mannWhitneyU, welchT, wilcoxon } from '../../lib/stats/tests.ts';
import { simulateDiscovery } from '../../test/support/discovery-sim.ts';

const { values: a } = parseArgs({
  options: {
    prompts: { type: 'string', default: '48' },
    k: { type: 'string', default: '5' },
    nulls: { type: 'string', default: '4000' },
    detectors: { type: 'string', default: '20' },
    effects: { type: 'string', default: '1' },
    seeds: { type: 'string', default: '3' },
  },
});
const [n, k, nulls, detectors, effects, seeds] = [a.prompts, a.k, a.nulls, a.detectors, a.effects, a.seeds].map(Number);
const ALPHA = 0.05;

interface Tally {
  rejected: number;
  auc: number;
  count: number;
}
const tallies = new Map<string, Tally>();
const tally = (name: string, p: number, auc = NaN): void => {
  const t = tallies.get(name) ?? { rejected: 0, auc: 0, count: 0 };
  t.rejected += p <= ALPHA ? 1 : 0;
  t.auc += auc;
  t.count++;
  tallies.set(name, t);
};
const bh = { discoveries: 0, false: 0, found: 0 };
const top26 = { evidence: 0, strat_auc: 0, auc: 0 };

for (let seed = 1; seed <= seeds; seed++) {
  const sim = simulateDiscovery({ prompts: n, k, nulls, detectors, seed, effects });
  const ids = { prompt: sim.promptIds, response: sim.responseIds };
  const strat = compareGroups(sim.codes, sim.groups, ids, { unit: 'prompt', alternative: 'greater' }, 'sim').stats;
  const two = compareGroups(sim.codes, sim.groups, ids, { unit: 'prompt', alternative: 'two-sided' }, 'sim').stats;
  const perSample = compareGroups(
    sim.codes,
    sim.groups,
    ids,
    { unit: 'sample', alternative: 'two-sided' },
    'sim',
  ).stats;
  // dense per-prompt values of each latent: on-topic, and the mean of the K off-topic ones
  const d = sim.codes.dSae;
  const on = Array.from({ length: d }, () => new Float64Array(n));
  const offMean = Array.from({ length: d }, () => new Float64Array(n));
  for (let s = 0; s < sim.codes.nSamples; s++) {
    const i = Number(sim.promptIds[s].slice(1));
    for (let e = sim.codes.indptr[s]; e < sim.codes.indptr[s + 1]; e++) {
      const l = sim.codes.latents[e];
      if (sim.groups[s] === 1) on[l][i] = sim.codes.values[e];
      else offMean[l][i] += sim.codes.values[e] / k;
    }
  }
  for (let l = 0; l < d; l++) {
    if (sim.detectors.has(l)) continue;
    const alt: Alternative = 'two-sided';
    const mw = mannWhitneyU(offMean[l], on[l], alt);
    tally('prompt means: Mann–Whitney', mw.p, mw.statistic / (n * n));
    tally('prompt means: Welch t', welchT(offMean[l], on[l], alt).p);
    const diff = offMean[l].map((x, i) => x - on[l][i]);
    tally('prompt means: Wilcoxon signed-rank', diff.some((x) => x !== 0) ? wilcoxon(diff, undefined, alt).p : 1);
    tally('per-sample Mann–Whitney', perSample.p_mwu[l], perSample.auc[l]);
    tally('within-prompt test, two-sided', two.p_strat[l], two.strat_auc[l]);
    tally('within-prompt test, one-sided', strat.p_strat[l], strat.strat_auc[l]);
  }
  for (let l = 0; l < d; l++) {
    if (strat.q_bh[l] >= ALPHA) continue;
    bh.discoveries++;
    if (sim.detectors.has(l)) bh.found++;
    else bh.false++;
  }
  for (const key of ['evidence', 'strat_auc', 'auc'] as const)
    top26[key] += Array.from(rankLatents(strat, key).slice(0, 26)).filter((l) => sim.detectors.has(l)).length;
}

console.log(
  `${seeds} simulated stores: ${n} prompts × K = ${k}, ${nulls} null latents (rates 0.5–60%, prompt/response effects SD ${effects}) + ${detectors} detectors`,
);
console.log(`null latents rejected at α = ${ALPHA} (two-sided unless said), mean null AUC:`);
for (const [name, t] of tallies)
  console.log(
    `  ${name.padEnd(40)} ${((100 * t.rejected) / t.count).toFixed(1).padStart(5)}%   ${Number.isNaN(t.auc) ? '' : `AUC ${(t.auc / t.count).toFixed(3)}`}`,
  );
console.log(
  `within-prompt test, BH q < ${ALPHA}: ${bh.discoveries} discoveries, ${bh.false} false (FDP ${(bh.false / Math.max(1, bh.discoveries)).toFixed(3)}), ${bh.found} of ${seeds * detectors} detectors found`,
);
console.log(
  `detectors in the top 26, mean per store: ranked by the evidence ${(top26.evidence / seeds).toFixed(1)}, by strat_auc alone ${(top26.strat_auc / seeds).toFixed(1)}, by per-sample AUC ${(top26.auc / seeds).toFixed(1)}`,
);
