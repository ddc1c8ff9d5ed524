// Off-topic detector discovery from an activation store: pool, compare two conditions over every
// latent, select by a named rule, rank, and describe the result as a latent set.
import { InputError } from '../errors.ts';
import type { ActsStore } from '../store/reader.ts';
import { type DiffStats, differentialStats } from './differential.ts';
import type { LatentSet } from './latentSet.ts';
import { type PooledStore, poolStore } from './poolStore.ts';
import {
  type RankKey,
  rankLatents,
  resolveCriterion,
  select,
  type SelectionCriterion,
  type SelectionMethod,
} from './selection.ts';
import type { PoolMode, PooledCodes } from './sparse.ts';
import { type UnitKind, unitMeans } from './units.ts';

export interface FindOptions {
  a?: string;
  b?: string;
  pool?: PoolMode;
  span?: string;
  method?: SelectionMethod;
  criterion?: Partial<SelectionCriterion>;
  rankBy?: RankKey;
  /** How many top-ranked latents the latent set lists (all selected ones are listed too). */
  top?: number;
  /**
   * The independent unit: `prompt` (default) averages each prompt's pooled samples within a group into
   * one value (K derangements → one off-topic value per prompt); `sample` counts every sample.
   */
  unit?: UnitKind;
}

/** Samples and units that entered the comparison. */
export interface UnitCounts {
  unit: UnitKind;
  samples_a: number;
  samples_b: number;
}

export interface FindResult {
  stats: DiffStats;
  order: Int32Array;
  selected: Uint8Array;
  criterion: SelectionCriterion;
  latentSet: LatentSet;
  units: UnitCounts;
}

/**
 * Differential statistics of group 0 vs group 1 with `unit` as the independent unit: per prompt, each
 * group's samples of that prompt are averaged into one value first (`promptIds[r]` names sample r's prompt).
 */
export function compareGroups(
  codes: PooledCodes,
  groups: Uint8Array,
  promptIds: readonly string[],
  unit: UnitKind,
  where: string,
): { stats: DiffStats; units: UnitCounts } {
  const count = (g: Uint8Array, x: number): number => g.reduce((s, y) => s + (y === x ? 1 : 0), 0);
  const units: UnitCounts = { unit, samples_a: count(groups, 0), samples_b: count(groups, 1) };
  const rows = unit === 'sample' ? { codes, groups } : unitMeans(codes, groups, promptIds);
  if (count(rows.groups, 0) < 2 || count(rows.groups, 1) < 2) {
    throw new InputError(
      `${where}: need at least 2 ${unit}s in each group (found ${count(rows.groups, 0)} and ${count(rows.groups, 1)})`,
    );
  }
  return { stats: differentialStats(rows.codes, rows.groups), units };
}

export async function findDetectors(store: ActsStore, opts: FindOptions = {}): Promise<FindResult> {
  return detectorsFromPooled(store, await poolStore(store, opts.span ?? 'response', opts.pool ?? 'max'), opts);
}

/** findDetectors on codes already pooled from `store` (by `opts.span` and `opts.pool`): one pass over the
 * store's codes can serve several analyses. */
export function detectorsFromPooled(store: ActsStore, pooled: PooledStore, opts: FindOptions = {}): FindResult {
  const a = opts.a ?? 'off_topic';
  const b = opts.b ?? 'on_topic';
  const groups = Uint8Array.from(store.samples.condition, (c, r) =>
    !pooled.hasSpan[r] ? 2 : c === a ? 0 : c === b ? 1 : 2,
  );
  const count = (g: number): number => groups.reduce((s, x) => s + (x === g ? 1 : 0), 0);
  if (count(0) < 2 || count(1) < 2) {
    const seen = [...new Set(store.samples.condition)].join(', ');
    throw new InputError(
      `${store.dir}: need at least 2 samples with a span in each group (${a}: ${count(0)}, ${b}: ${count(1)}; conditions present: ${seen})`,
    );
  }
  const unit = opts.unit ?? 'prompt';
  const { stats, units } = compareGroups(
    pooled.codes,
    groups,
    store.samples.prompt_id,
    unit,
    `${store.dir} (${a} vs ${b})`,
  );
  const criterion = resolveCriterion(opts.method ?? 'separability', opts.criterion);
  const selected = select(stats, criterion);
  const rankBy = opts.rankBy ?? 'auc';
  const order = rankLatents(stats, rankBy);
  const top = opts.top ?? 100;
  const listed = Array.from(order).filter((l, i) => i < top || selected[l] === 1);
  const pick = (l: number): Record<string, number | null> => {
    const out: Record<string, number | null> = {};
    for (const k of ['freq_a', 'freq_b', 'mean_a', 'mean_b', 'cohens_d', 'auc', 'p_mwu', 'q_bh'] as const) {
      out[k] = Number.isFinite(stats[k][l]) ? stats[k][l] : null;
    }
    return out;
  };
  const latentSet: LatentSet = {
    method: criterion.method,
    criterion: {
      ...criterion,
      groups: { a, b },
      unit,
      n_a: stats.n_a,
      n_b: stats.n_b,
      samples_a: units.samples_a,
      samples_b: units.samples_b,
      pool: pooled.mode,
      span: pooled.span,
      rank_by: rankBy,
    },
    model: store.meta.model ?? null,
    sae: store.meta.sae ?? null,
    layer: store.meta.layer ?? null,
    latents: listed.map((l) => ({ latent: l, selected: selected[l] === 1, stats: pick(l) })),
    selected: Array.from(order).filter((l) => selected[l] === 1),
    provenance: { activations: store.dir, meta: store.meta },
  };
  return { stats, order, selected, criterion, latentSet, units };
}
