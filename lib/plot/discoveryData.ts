// What the discovery figures need, read from a find-otd-latents run: ranking points from
// ranking.arrow, and pooled activations per sample (overall and per derangement) from the store.
import { differentialStats } from '../stats/differential.ts';
import { poolStore } from '../stats/poolStore.ts';
import { readRanking } from '../stats/rankingFile.ts';
import {
  resolveCriterion,
  type SelectionCriterion,
  type SelectionMethod,
  selectionFrequency,
} from '../stats/selection.ts';
import type { PoolMode, PooledCodes } from '../stats/sparse.ts';
import type { ActsStore } from '../store/reader.ts';
import type { LatentDistribution, RankingPoint, StabilityRow } from './discovery.ts';

/** Ranking points (Cohen's d, BH q, selected, rank) of every latent in ranking.arrow. */
export function readRankingPoints(path: string, labels?: Map<number, string>): RankingPoint[] {
  const { rows, columns } = readRanking(path, ['latent', 'cohens_d', 'q_bh', 'selected', 'rank']);
  const { latent, cohens_d: d, q_bh: q, selected, rank } = columns;
  return Array.from({ length: rows }, (_, i) => ({
    latent: Number(latent[i]),
    effect: Number(d[i]),
    q: q[i] === null ? NaN : Number(q[i]),
    selected: Boolean(selected[i]),
    rank: Number(rank[i]),
    label: labels?.get(Number(latent[i])),
  }));
}

/** Dense values of chosen latents for every sample: out[j][row]. */
function columnsFor(codes: PooledCodes, latents: number[]): Float64Array[] {
  const at = new Map(latents.map((l, j) => [l, j]));
  const out = latents.map(() => new Float64Array(codes.nSamples));
  for (let r = 0; r < codes.nSamples; r++) {
    for (let k = codes.indptr[r]; k < codes.indptr[r + 1]; k++) {
      const j = at.get(codes.latents[k]);
      if (j !== undefined) out[j][r] = codes.values[k];
    }
  }
  return out;
}

export interface DiscoveryActivations {
  distributions: LatentDistribution[];
  /** Null when the store holds fewer than two derangements. */
  stability: StabilityRow[] | null;
  nOn: number;
  nOffPerDerangement: number;
}

/** Derangement index of an off-topic sample id `off:<k>:<i>`, or null. */
export const derangementOf = (id: string): number | null => {
  const m = /^off:(\d+):/.exec(id);
  return m ? Number(m[1]) : null;
};

/**
 * Pools the store as the run did (span, pool mode) and returns, for `distLatents`, every sample's
 * pooled value per condition, and for `stabLatents`, the AUC in each derangement alone (off-topic
 * samples of that derangement vs all on-topic samples) and how often the rule selects the latent.
 */
export async function discoveryActivations(
  store: ActsStore,
  o: {
    distLatents: number[];
    stabLatents: number[];
    span: string;
    pool: PoolMode;
    criterion: SelectionCriterion;
    a?: string;
    b?: string;
    labels?: Map<number, string>;
  },
): Promise<DiscoveryActivations> {
  const a = o.a ?? 'off_topic';
  const b = o.b ?? 'on_topic';
  const pooled = await poolStore(store, o.span, o.pool);
  const { condition, id } = store.samples;
  const cols = columnsFor(pooled.codes, o.distLatents);
  const distributions = o.distLatents.map((latent, j) => {
    const groups: Record<string, number[]> = { [a]: [], [b]: [] };
    for (let r = 0; r < store.samples.n; r++)
      if (pooled.hasSpan[r] && (condition[r] === a || condition[r] === b)) groups[condition[r]].push(cols[j][r]);
    return { latent, label: o.labels?.get(latent), groups };
  });
  const ks = [...new Set(id.map(derangementOf).filter((k): k is number => k !== null))].sort((x, y) => x - y);
  const nOn = condition.filter((c, r) => c === b && pooled.hasSpan[r]).length;
  const nOffPerDerangement = ks.length
    ? Math.round(condition.filter((c, r) => c === a && pooled.hasSpan[r]).length / ks.length)
    : 0;
  if (ks.length < 2) return { distributions, stability: null, nOn, nOffPerDerangement };
  const perK = ks.map((k) => {
    const groups = Uint8Array.from(condition, (c, r) =>
      !pooled.hasSpan[r] ? 2 : c === b ? 1 : c === a && derangementOf(id[r]) === k ? 0 : 2,
    );
    return differentialStats(pooled.codes, groups);
  });
  const freq = selectionFrequency(perK, o.criterion);
  const stability = o.stabLatents.map((latent) => ({
    latent,
    label: o.labels?.get(latent),
    perDerangement: perK.map((s) => s.auc[latent]),
    selectionFrequency: freq[latent],
  }));
  return { distributions, stability, nOn, nOffPerDerangement };
}

/** The selection rule a latent set records, with its defaults filled in. */
export function criterionOf(criterion: Record<string, unknown>): SelectionCriterion {
  const method = (criterion.method ?? 'separability') as SelectionMethod;
  return resolveCriterion(method, criterion as Partial<SelectionCriterion>);
}

/** "separability: AUC = 1" and the like, for captions. */
export function ruleText(c: SelectionCriterion): string {
  if (c.method === 'separability') return 'separability: AUC = 1 (perfect separation)';
  if (c.method === 'frequency')
    return `frequency: zero on every on-topic sample, non-zero on ≥ ${Math.round(100 * (c.min_freq_a ?? 0.8))}% off-topic`;
  return `effect: q < ${c.alpha ?? 0.05} and d > ${c.min_d ?? 0.8}`;
}
