// The within-prompt test on simulated stores (test/support/discovery-sim.ts): null latents whose firing
// depends on the prompt and on the response but not on whether they match (rates 0.5–60%), iid or with
// random effects, over several designs and seeds. The rejection rate stays ≤ α, BH's false discovery
// proportion ≤ 5%, and planted detectors are found and fill the top of the ranking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareGroups } from '../../lib/stats/detectors.ts';
import { rankLatents } from '../../lib/stats/selection.ts';
import { simulateDiscovery } from '../support/discovery-sim.ts';

const ALPHA = 0.05;
// [prompts, K, SD of the prompt/response effects, seed]: find-otd-latents' 48 × 5 and other designs
const DESIGNS: [number, number, number, number][] = [
  [48, 5, 0, 11],
  [48, 5, 1, 12],
  [48, 5, 1.5, 13],
  [30, 3, 1, 14],
  [100, 2, 1, 15],
  [64, 8, 0.5, 16],
  [20, 1, 1, 17],
];

test('null latents: rejection rate ≤ α (one- and two-sided); BH keeps the false discovery proportion ≤ 5%; detectors found', () => {
  let discoveries = 0;
  let falseDiscoveries = 0;
  for (const [prompts, k, effects, seed] of DESIGNS) {
    const sim = simulateDiscovery({ prompts, k, nulls: 3000, detectors: 20, seed, effects });
    const ids = { prompt: sim.promptIds, response: sim.responseIds };
    const what = `${prompts} × ${k}, effects ${effects}, seed ${seed}`;
    for (const alternative of ['greater', 'two-sided'] as const) {
      const s = compareGroups(sim.codes, sim.groups, ids, { unit: 'prompt', alternative }, what).stats;
      let rejected = 0;
      for (let l = 0; l < s.p_strat.length; l++) if (!sim.detectors.has(l) && s.p_strat[l] <= ALPHA) rejected++;
      const rate = rejected / (s.p_strat.length - sim.detectors.size);
      assert.ok(rate <= ALPHA, `${what} ${alternative}: ${(100 * rate).toFixed(2)}% of null latents rejected`);
      if (alternative === 'two-sided') continue;
      const found = [...sim.detectors].filter((l) => s.q_bh[l] < ALPHA).length;
      for (let l = 0; l < s.q_bh.length; l++) {
        if (s.q_bh[l] >= ALPHA) continue;
        discoveries++;
        if (!sim.detectors.has(l)) falseDiscoveries++;
      }
      const top = Array.from(rankLatents(s).slice(0, 26)).filter((l) => sim.detectors.has(l)).length;
      if (prompts === 48 && effects <= 1) {
        // find-otd-latents' design: most detectors found, and the top 26 mostly detectors
        assert.ok(found >= 12, `${what}: ${found} of 20 detectors at q < ${ALPHA}`);
        assert.ok(top >= 14, `${what}: ${top} detectors in the top 26`);
      }
    }
  }
  const fdp = falseDiscoveries / discoveries;
  assert.ok(discoveries >= 60, `${discoveries} discoveries over ${DESIGNS.length} stores`);
  assert.ok(fdp <= 0.05, `false discovery proportion ${fdp.toFixed(3)} (${falseDiscoveries} of ${discoveries})`);
});
