// From an activation store of on/off-topic samples to the ranked latent set with its evidence:
// selection (on all prompts, or on the selection part), stability across derangements, held-out check.
import type { DiffStats } from '../stats/differential.ts';
import {
  compareGroups,
  type CompareOptions,
  detectorsFromPooled,
  type FindOptions,
  type FindResult,
} from '../stats/detectors.ts';
import type { LatentSet } from '../stats/latentSet.ts';
import { poolStore } from '../stats/poolStore.ts';
import type { ActsStore } from '../store/reader.ts';
import { type PromptSplit, partOfSamples, splitPrompts } from './holdout.ts';
import { derangementStability, type Stability } from '../stats/stability.ts';

export interface AnalyseOptions {
  find: FindOptions;
  /** Hold out this share of the prompts (seeded) and report their statistics. */
  holdout?: { fraction: number; seed: number } | null;
  labels?: Map<number, string>;
}

/** The latent set (docs/design.md "Latent set") plus the evidence this command adds. */
export interface DiscoveryLatentSet extends LatentSet {
  stability: Record<string, unknown> | null;
  holdout: Record<string, unknown> | null;
}

export interface Analysis {
  /** Statistics, ranking and selection over the selection prompts (all prompts without a holdout). */
  result: FindResult;
  stability: Stability | null;
  holdout: { split: PromptSplit; stats: DiffStats; crossed: number } | null;
  latentSet: DiscoveryLatentSet;
}

const HELD_OUT = 'held_out';
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export async function analyseStore(store: ActsStore, o: AnalyseOptions): Promise<Analysis> {
  const a = o.find.a ?? 'off_topic';
  const b = o.find.b ?? 'on_topic';
  const { condition, prompt_id: promptIds, response_id: responseIds, id } = store.samples;
  const split = o.holdout ? splitPrompts(promptIds, o.holdout.fraction, o.holdout.seed) : null;
  // one pass over the codes: relabelling held-out samples changes no sample's pooled codes
  const pooled = await poolStore(store, o.find.span ?? 'response', o.find.pool ?? 'max');
  const part = (prompts: readonly string[]) => partOfSamples(promptIds, responseIds, new Set(prompts));
  const selection = split ? part(split.train) : null;
  const selStore = selection
    ? { ...store, samples: { ...store.samples, condition: condition.map((c, r) => (selection.in[r] ? c : HELD_OUT)) } }
    : store;
  // parts of an existing store may leave a prompt without off-topic samples of its own part: left out, counted
  const result = detectorsFromPooled(selStore, pooled, split ? { ...o.find, dropIncomplete: true } : o.find);
  const compare: CompareOptions = {
    unit: result.units.unit,
    alternative: o.find.alternative ?? 'greater',
    dropIncomplete: true,
  };
  const ids = { prompt: promptIds, response: responseIds };
  const groupsOf = (inPart: Uint8Array | null): Uint8Array =>
    Uint8Array.from(condition, (c, r) =>
      !pooled.hasSpan[r] || (inPart && !inPart[r]) ? 2 : c === a ? 0 : c === b ? 1 : 2,
    );
  const stability = derangementStability(
    pooled.codes,
    id,
    groupsOf(selection?.in ?? null),
    ids,
    compare,
    result.criterion,
  );
  let holdout: Analysis['holdout'] = null;
  if (split) {
    const held = part(split.heldOut);
    const where = `${store.dir} (held-out prompts)`;
    holdout = {
      split,
      stats: compareGroups(pooled.codes, groupsOf(held.in), ids, compare, where).stats,
      crossed: held.crossed + selection!.crossed,
    };
  }

  const set: DiscoveryLatentSet = { ...result.latentSet, stability: null, holdout: null };
  for (const e of set.latents) {
    if (o.labels?.has(e.latent)) e.label = o.labels.get(e.latent);
    if (stability) {
      e.stats.stability = stability.frequency[e.latent];
      e.stats.stability_auc_min = finite(stability.aucMin[e.latent]);
      e.stats.stability_auc_max = finite(stability.aucMax[e.latent]);
    }
    if (holdout) {
      e.stats.strat_auc_holdout = finite(holdout.stats.strat_auc[e.latent]);
      e.stats.p_strat_holdout = finite(holdout.stats.p_strat[e.latent]);
      e.stats.auc_holdout = finite(holdout.stats.auc[e.latent]);
      e.stats.cohens_d_holdout = finite(holdout.stats.cohens_d[e.latent]);
    }
  }
  const effect = result.units.unit === 'prompt' ? 'strat_auc' : 'AUC';
  if (stability) {
    set.stability = {
      derangements: stability.derangements,
      comparison: `per derangement k: each prompt's ${a} sample off:<k>:<i> against its ${b} sample${split ? ' (selection prompts only)' : ''}, the same test and rule`,
      selected_per_derangement: stability.selectedPerDerangement,
      selected_in_every_derangement: stability.frequency.reduce((n, f) => n + (f === 1 ? 1 : 0), 0),
      fields: `stats.stability = share of derangements selecting the latent; stats.stability_auc_min/max = its ${effect} range over them`,
    };
  }
  if (holdout) {
    set.holdout = {
      fraction: split!.fraction,
      seed: split!.seed,
      selection_prompts: split!.train,
      held_out_prompts: split!.heldOut,
      n_a: holdout.stats.n_a,
      n_b: holdout.stats.n_b,
      crossing_samples_left_out: holdout.crossed,
      split:
        'by prompt: a prompt and all its samples are on one side, and an off-topic sample enters only when its response is on the same side as its prompt (find-otd-latents deranges each side within itself)',
      fields:
        'the ranking and selection use the selection prompts only; stats.strat_auc_holdout, p_strat_holdout, auc_holdout and cohens_d_holdout are measured on the held-out prompts',
    };
  }
  return { result, stability, holdout, latentSet: set };
}
