// Episode regions (off-topic / correction / on-topic spans of one response): per-episode region
// means of chosen latents, compared across episodes with paired tests. Episodes missing either
// region are left out of that comparison and counted, never silently mis-paired.
import type { Alternative } from './dists.ts';
import type { PooledCodes } from './sparse.ts';
import { StratNull } from './stratNull.ts';
import { pairedT, wilcoxon } from './tests.ts';

export interface RegionMeans {
  /** Mean-pooled codes over the region, one row per episode (store row). */
  codes: PooledCodes;
  /** 1 where the episode has this region. */
  present: Uint8Array;
}

export interface RegionComparison {
  /** Latent index, or -1 for the mean over all requested latents. */
  latent: number;
  n_pairs: number;
  n_missing: number;
  mean_x: number;
  mean_y: number;
  ratio: number;
  d_z: number;
  wilcoxon: { statistic: number; p: number };
  paired_t: { statistic: number; df: number; p: number };
  /**
   * The within-prompt rank test with each episode as the stratum (K = 1): auc = share of episodes with
   * x above y (ties ½), p exact (the sign test on the untied episodes: scipy's binomtest).
   */
  strat: { auc: number; p: number; untied: number };
}

/** The within-stratum rank test of paired values (K = 1): x is the group-a value, y the group-b one. */
function pairedRankTest(xs: number[], ys: number[], alternative: Alternative): RegionComparison['strat'] {
  const acc = new StratNull();
  let auc = 0;
  xs.forEach((x, i) => {
    if (x === ys[i]) auc += 0.5;
    else auc += acc.addTwoPoint(1, 1, ys[i] < x) / 2;
  });
  return { auc: auc / xs.length, p: acc.pValue(alternative).p, untied: acc.rows };
}

function valueAt(c: PooledCodes, r: number, latent: number): number {
  for (let k = c.indptr[r]; k < c.indptr[r + 1]; k++) if (c.latents[k] === latent) return c.values[k];
  return 0;
}

/**
 * Compares region x with region y (e.g. off_topic vs on_topic) per latent, pairing the two regions of
 * the same episode by its id. `alternative` applies to x − y (e.g. 'greater': x fires more).
 */
export function compareRegions(
  ids: string[],
  x: RegionMeans,
  y: RegionMeans,
  latents: number[],
  alternative: Alternative = 'two-sided',
): RegionComparison[] {
  if (new Set(ids).size !== ids.length)
    throw new RangeError('compareRegions: episode ids are not unique, so regions cannot be paired');
  const rows = ids.map((_, r) => r).filter((r) => x.present[r] && y.present[r]);
  const nMissing = ids.length - rows.length;
  const series = (lat: number[]) => {
    const xs = rows.map((r) => lat.reduce((s, l) => s + valueAt(x.codes, r, l), 0) / lat.length);
    const ys = rows.map((r) => lat.reduce((s, l) => s + valueAt(y.codes, r, l), 0) / lat.length);
    return [xs, ys];
  };
  const compare = (latent: number, lat: number[]): RegionComparison => {
    const [xs, ys] = series(lat);
    const d = xs.map((v, i) => v - ys[i]);
    const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
    const md = mean(d);
    const sdd = Math.sqrt(d.reduce((s, t) => s + (t - md) ** 2, 0) / (d.length - 1));
    const t = pairedT(xs, ys, alternative);
    return {
      latent,
      n_pairs: rows.length,
      n_missing: nMissing,
      mean_x: mean(xs),
      mean_y: mean(ys),
      ratio: mean(xs) / mean(ys),
      d_z: md / sdd,
      wilcoxon: wilcoxon(xs, ys, alternative),
      paired_t: { statistic: t.statistic, df: t.df, p: t.p },
      strat: pairedRankTest(xs, ys, alternative),
    };
  };
  return [...latents.map((l) => compare(l, [l])), compare(-1, latents)];
}
