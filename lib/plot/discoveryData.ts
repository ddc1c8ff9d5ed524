// What the discovery figures need, read from a find-otd-latents run: ranking points from
// ranking.arrow, and pooled activations per sample (overall and per derangement) from the store.
import type { CompareOptions } from '../stats/detectors.ts';
import { poolStore } from '../stats/poolStore.ts';
import { readRanking } from '../stats/rankingFile.ts';
import { resolveCriterion, type SelectionCriterion, type SelectionMethod } from '../stats/selection.ts';
import type { PoolMode, PooledCodes } from '../stats/sparse.ts';
import { derangementOf, derangementStability } from '../stats/stability.ts';
import type { ActsStore } from '../store/reader.ts';
import type { LatentDistribution, RankingPoint, StabilityRow } from './discovery.ts';

/**
 * Ranking points (effect, q, selected, rank) of every latent in ranking.arrow: the effect is strat_auc
 * (the within-prompt test's), or the per-sample AUC where strat_auc is not defined (`--unit sample`
 * fallback); q is q_bh, or q_by with `fdr` 'by'.
 */
export function readRankingPoints(
  path: string,
  labels?: Map<number, string>,
  fdr: 'bh' | 'by' = 'bh',
): { points: RankingPoint[]; effect: 'strat_auc' | 'auc' } {
  const { rows, columns } = readRanking(
    path,
    ['latent', 'strat_auc', 'auc', 'q_bh', 'q_by', 'selected', 'rank'],
    'ranking not found',
    ['strat_auc', 'q_by'], // rankings written before the within-prompt test lack them
  );
  const { latent, selected, rank } = columns;
  const q = fdr === 'by' && columns.q_by ? columns.q_by : columns.q_bh;
  const stratified =
    columns.strat_auc !== undefined &&
    Array.from(columns.strat_auc as ArrayLike<number | null>).some((x) => x !== null && Number.isFinite(x));
  const effect = stratified ? columns.strat_auc : columns.auc;
  const points = Array.from({ length: rows }, (_, i) => ({
    latent: Number(latent[i]),
    effect: effect[i] === null ? NaN : Number(effect[i]),
    q: q[i] === null ? NaN : Number(q[i]),
    selected: Boolean(selected[i]),
    rank: Number(rank[i]),
    label: labels?.get(Number(latent[i])),
  }));
  return { points, effect: stratified ? 'strat_auc' : 'auc' };
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

/**
 * Pools the store as the run did (span, pool mode) and returns, for `distLatents`, every sample's
 * pooled value per condition, and for `stabLatents`, the effect in each derangement alone (each prompt's
 * off-topic sample of that derangement against its on-topic one, with the run's test) and how often the
 * rule selects the latent.
 */
export async function discoveryActivations(
  store: ActsStore,
  o: {
    distLatents: number[];
    stabLatents: number[];
    span: string;
    pool: PoolMode;
    criterion: SelectionCriterion;
    compare: CompareOptions;
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
  const ks = new Set(Array.from(derangementOf(id)).filter((k) => k >= 0));
  const nOn = condition.filter((c, r) => c === b && pooled.hasSpan[r]).length;
  const nOffPerDerangement = ks.size
    ? Math.round(condition.filter((c, r) => c === a && pooled.hasSpan[r]).length / ks.size)
    : 0;
  const groups = Uint8Array.from(condition, (c, r) => (!pooled.hasSpan[r] ? 2 : c === a ? 0 : c === b ? 1 : 2));
  const s =
    ks.size < 2
      ? null
      : derangementStability(
          pooled.codes,
          id,
          groups,
          { prompt: store.samples.prompt_id, response: store.samples.response_id },
          o.compare,
          o.criterion,
        );
  if (!s) return { distributions, stability: null, nOn, nOffPerDerangement };
  const stability = o.stabLatents.map((latent) => ({
    latent,
    label: o.labels?.get(latent),
    perDerangement: s.perDerangement.map((d) => (d.tested === 'p_strat' ? d.strat_auc : d.auc)[latent]),
    selectionFrequency: s.frequency[latent],
  }));
  return { distributions, stability, nOn, nOffPerDerangement };
}

/** The selection rule a latent set records, with its defaults filled in. */
export function criterionOf(criterion: Record<string, unknown>): SelectionCriterion {
  const method = (criterion.method ?? 'separability') as SelectionMethod;
  return resolveCriterion(method, criterion as Partial<SelectionCriterion>);
}

/** "separability: every off-topic sample above every on-topic one" and the like, for captions. */
export function ruleText(c: SelectionCriterion): string {
  if (c.method === 'separability') return 'separability: AUC = 1 (every off-topic sample above every on-topic one)';
  if (c.method === 'frequency')
    return `frequency: zero on every on-topic sample, non-zero on ≥ ${Math.round(100 * (c.min_freq_a ?? 0.8))}% off-topic`;
  return `effect: q_${c.fdr ?? 'bh'} < ${c.alpha ?? 0.05} and d > ${c.min_d ?? 0.8}`;
}
