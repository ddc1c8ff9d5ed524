// Off-topic detector discovery from an activation store: pool, compare two conditions over every
// latent (the within-prompt test by default), select by a named rule, rank by the evidence, and describe
// the result as a latent set.
import { InputError } from '../errors.ts';
import type { ActsStore } from '../store/reader.ts';
import { adjustTested, type DiffStats, differentialStats } from './differential.ts';
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
import { STRAT_CI_DEFAULTS, type StratCiOptions, stratAucIntervals } from './stratCi.ts';
import { type Strata, strataOf, stratifiedStats } from './stratified.ts';

/**
 * `prompt`: the within-prompt (stratified) rank test, each prompt's group-b sample against its own
 * group-a samples (p_strat); `sample`: Mann–Whitney over all samples as if independent (p_mwu).
 */
export type UnitKind = 'prompt' | 'sample';
export const UNIT_KINDS: UnitKind[] = ['prompt', 'sample'];
/** 'greater': group a (off-topic) higher; 'two-sided': either way. */
export type TestAlternative = 'greater' | 'two-sided';
export const TEST_ALTERNATIVES: TestAlternative[] = ['greater', 'two-sided'];

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
  /** The test (default `prompt`, the within-prompt test). */
  unit?: UnitKind;
  /** Default 'greater'. */
  alternative?: TestAlternative;
  /**
   * When the samples cannot be stratified by prompt (not one group-b and ≥ 1 group-a sample per prompt):
   * true = say why and run the per-sample test; false (default) = an input error.
   */
  fallback?: boolean;
  /** Leave out prompts without one group-b and ≥ 1 group-a sample (counted) instead of failing. */
  dropIncomplete?: boolean;
  /** Bootstrap of strat_auc over prompts for the listed latents (null: none). Default STRAT_CI_DEFAULTS. */
  ci?: StratCiOptions | null;
}

/** What entered the comparison. */
export interface UnitCounts {
  /** The test that ran (a requested `prompt` becomes `sample` on fallback). */
  unit: UnitKind;
  samples_a: number;
  samples_b: number;
  /** Strata of the within-prompt test and their group-a counts; null with the per-sample test. */
  prompts: number | null;
  k_min: number | null;
  k_max: number | null;
  /** Group-a samples left out because their prompt already had one with the same response. */
  duplicates: number;
  /** Prompts left out for lacking one group-b and ≥ 1 group-a sample (with dropIncomplete). */
  incomplete: number;
  /** Latents whose p_strat came from the normal approximation (the rest are exact). */
  normal_approx: number;
  /** Why the within-prompt test could not run, when it fell back to the per-sample test. */
  note: string | null;
}

export interface FindResult {
  stats: DiffStats;
  order: Int32Array;
  selected: Uint8Array;
  criterion: SelectionCriterion;
  latentSet: LatentSet;
  units: UnitCounts;
  strata: Strata | null;
}

export interface CompareOptions {
  unit: UnitKind;
  alternative: TestAlternative;
  fallback?: boolean;
  dropIncomplete?: boolean;
}

/**
 * Statistics of group 0 vs group 1 (`groups`, one entry per row of `codes`): the per-sample columns, and
 * with unit `prompt` the within-prompt test over the prompts named by `promptIds` (group-a samples that
 * repeat a response of their prompt, by `responseIds`, are left out of both). q_bh, q_by and p_holm adjust
 * the test's p over the latents that can carry evidence (an informative prompt, or any non-zero).
 */
export function compareGroups(
  codes: PooledCodes,
  groups: Uint8Array,
  ids: { prompt: readonly string[]; response?: readonly (string | null)[] },
  o: CompareOptions,
  where: string,
): { stats: DiffStats; units: UnitCounts; strata: Strata | null } {
  let strata: Strata | null = null;
  let note: string | null = null;
  if (o.unit === 'prompt') {
    const s = strataOf(groups, ids.prompt, ids.response, o.dropIncomplete);
    if (typeof s !== 'string') strata = s;
    else if (o.fallback) note = s;
    else
      throw new InputError(
        `${where}: the within-prompt test needs one group-b and at least one group-a sample per prompt: ${s} (--unit sample runs the per-sample test)`,
      );
  }
  const g = strata ? strata.groups : groups;
  const count = (x: number): number => g.reduce((n, y) => n + (y === x ? 1 : 0), 0);
  if (count(0) < 2 || count(1) < 2)
    throw new InputError(`${where}: need at least 2 samples in each group (found ${count(0)} and ${count(1)})`);
  const stats = differentialStats(codes, g, o.alternative, !strata);
  let normal = 0;
  if (strata) {
    const st = stratifiedStats(codes, strata, o.alternative);
    stats.strat_auc = st.strat_auc;
    stats.p_strat = st.p_strat;
    stats.n_informative = st.n_informative;
    normal = st.normal;
    adjustTested(stats, 'p_strat', st.n_informative);
  }
  const k = strata ? Array.from(strata.k) : null;
  const units: UnitCounts = {
    unit: strata ? 'prompt' : 'sample',
    samples_a: count(0),
    samples_b: count(1),
    prompts: strata ? strata.ids.length : null,
    k_min: k ? Math.min(...k) : null,
    k_max: k ? Math.max(...k) : null,
    duplicates: strata ? strata.duplicates : 0,
    incomplete: strata ? strata.incomplete : 0,
    normal_approx: normal,
    note,
  };
  return { stats, units, strata };
}

export async function findDetectors(store: ActsStore, opts: FindOptions = {}): Promise<FindResult> {
  return detectorsFromPooled(store, await poolStore(store, opts.span ?? 'response', opts.pool ?? 'max'), opts);
}

/** The latents.json fields of each listed latent, in this order. */
const LISTED_STATS = [
  'strat_auc',
  'p_strat',
  'q_bh',
  'q_by',
  'n_informative',
  'auc',
  'p_mwu',
  'cohens_d',
  'freq_a',
  'freq_b',
  'mean_a',
  'mean_b',
] as const;

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
  const alternative = opts.alternative ?? 'greater';
  const { stats, units, strata } = compareGroups(
    pooled.codes,
    groups,
    { prompt: store.samples.prompt_id, response: store.samples.response_id },
    { unit: opts.unit ?? 'prompt', alternative, fallback: opts.fallback, dropIncomplete: opts.dropIncomplete },
    `${store.dir} (${a} vs ${b})`,
  );
  const criterion = resolveCriterion(opts.method ?? 'separability', opts.criterion);
  const selected = select(stats, criterion);
  const rankBy = opts.rankBy ?? 'evidence';
  const order = rankLatents(stats, rankBy);
  const top = opts.top ?? 100;
  const listed = Array.from(order).filter((l, i) => i < top || selected[l] === 1);
  const ciOptions = opts.ci === undefined ? STRAT_CI_DEFAULTS : opts.ci;
  const ci = strata && ciOptions ? stratAucIntervals(pooled.codes, strata, listed, ciOptions) : null;
  const pick = (l: number, i: number): Record<string, number | null> => {
    const out: Record<string, number | null> = {};
    for (const k of LISTED_STATS) out[k] = Number.isFinite(stats[k][l]) ? stats[k][l] : null;
    if (ci) [out.strat_auc_lo, out.strat_auc_hi] = ci.ci[i].map((x) => (Number.isFinite(x) ? x : null));
    return out;
  };
  const test =
    units.unit === 'prompt'
      ? `within-prompt rank test (p_strat, exact null; ${alternative === 'greater' ? `one-sided: ${a} higher` : 'two-sided'})`
      : `per-sample Mann–Whitney (p_mwu, samples counted as independent; ${alternative === 'greater' ? `one-sided: ${a} higher` : 'two-sided'})`;
  const latentSet: LatentSet = {
    method: criterion.method,
    criterion: {
      ...criterion,
      groups: { a, b },
      unit: units.unit,
      test,
      alternative,
      n_a: stats.n_a,
      n_b: stats.n_b,
      samples_a: units.samples_a,
      samples_b: units.samples_b,
      prompts: units.prompts,
      k_min: units.k_min,
      k_max: units.k_max,
      duplicates_left_out: units.duplicates,
      incomplete_prompts_left_out: units.incomplete,
      normal_approx: units.normal_approx,
      ...(units.note ? { fallback: units.note } : {}),
      pool: pooled.mode,
      span: pooled.span,
      rank_by: rankBy,
      ...(ci && ciOptions ? { strat_auc_ci: { ...STRAT_CI_DEFAULTS, ...ciOptions, over: 'prompts' } } : {}),
    },
    model: store.meta.model ?? null,
    sae: store.meta.sae ?? null,
    layer: store.meta.layer ?? null,
    hook: store.meta.hook ?? null,
    latents: listed.map((l, i) => ({ latent: l, selected: selected[l] === 1, stats: pick(l, i) })),
    selected: Array.from(order).filter((l) => selected[l] === 1),
    provenance: { activations: store.dir, meta: store.meta },
  };
  return { stats, order, selected, criterion, latentSet, units, strata };
}
