// Confidence intervals of strat_auc: a bootstrap over prompts (the clusters: a prompt's samples move
// together), BCa by default, for a chosen set of latents at once.
import { bootstrap, type CiMethod, sumsStatistic } from './bootstrap.ts';
import type { PooledCodes } from './sparse.ts';
import { type Strata, stratumAucs } from './stratified.ts';

export interface StratCiOptions {
  resamples?: number;
  seed?: number;
  level?: number;
  method?: CiMethod;
}

/** What find-otd-latents and stats use (recorded in latents.json). */
export const STRAT_CI_DEFAULTS: Required<StratCiOptions> = { resamples: 10_000, seed: 0, level: 0.95, method: 'bca' };

/** Per latent of `latents`, the interval of strat_auc (the mean of the prompts' own AUCs) over resampled prompts. */
export function stratAucIntervals(
  codes: PooledCodes,
  strata: Strata,
  latents: readonly number[],
  opts: StratCiOptions = {},
): { ci: [number, number][]; method: string[] } {
  if (latents.length === 0) return { ci: [], method: [] };
  const aucs = stratumAucs(codes, strata, latents);
  const nUnits = strata.ids.length;
  const width = latents.length + 1; // each latent's AUC, then a 1 that counts the prompts drawn
  const sums = new Float64Array(nUnits * width);
  for (let u = 0; u < nUnits; u++) {
    latents.forEach((_, j) => (sums[u * width + j] = aucs[j][u]));
    sums[u * width + latents.length] = 1;
  }
  const stat = sumsStatistic(sums, width, latents.length, (totals, out) => {
    for (let j = 0; j < latents.length; j++) out[j] = totals[j] / totals[latents.length];
  });
  const r = bootstrap(nUnits, stat, opts);
  return { ci: r.ci, method: r.ciMethod };
}
