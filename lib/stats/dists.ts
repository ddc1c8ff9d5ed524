// Distribution functions from @stdlib (well-tested implementations; no hand-written approximations).
import betaQuantileImpl from '@stdlib/stats-base-dists-beta-quantile';
import normalCdfImpl from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantileImpl from '@stdlib/stats-base-dists-normal-quantile';
import tCdfImpl from '@stdlib/stats-base-dists-t-cdf';
import tQuantileImpl from '@stdlib/stats-base-dists-t-quantile';

/** Standard normal cdf Φ(x). */
export const normalCdf = (x: number): number => normalCdfImpl(x, 0, 1);
/** Standard normal survival 1 − Φ(x), computed as Φ(−x) so upper tails keep their precision. */
export const normalSf = (x: number): number => normalCdfImpl(-x, 0, 1);
/** Standard normal quantile Φ⁻¹(p) (scipy's `ndtri`). */
export const normalQuantile = (p: number): number => normalQuantileImpl(p, 0, 1);
/** Student t survival, via symmetry so upper tails keep their precision. */
export const tSf = (x: number, df: number): number => tCdfImpl(-x, df);
export const tQuantile = (p: number, df: number): number => tQuantileImpl(p, df);
export const betaQuantile = (p: number, a: number, b: number): number => betaQuantileImpl(p, a, b);

export type Alternative = 'two-sided' | 'greater' | 'less';

/** p-value of a statistic whose null distribution is symmetric with survival `sf` (scipy's convention). */
export function pFromSymmetric(stat: number, sf: (x: number) => number, alternative: Alternative): number {
  if (Number.isNaN(stat)) return NaN;
  if (alternative === 'greater') return sf(stat);
  if (alternative === 'less') return sf(-stat);
  return Math.min(1, 2 * sf(Math.abs(stat)));
}
