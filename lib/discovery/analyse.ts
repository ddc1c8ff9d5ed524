// From an activation store of on/off-topic samples to the ranked latent set with its evidence:
// selection (on all prompts, or on the non-held-out ones), stability across derangements, held-out AUC.
import type { DiffStats } from '../stats/differential.ts';
import { compareGroups, detectorsFromPooled, type FindOptions, type FindResult } from '../stats/detectors.ts';
import type { LatentSet } from '../stats/latentSet.ts';
import { poolStore } from '../stats/poolStore.ts';
import type { ActsStore } from '../store/reader.ts';
import { groupsWithin, type PromptSplit, splitPrompts } from './holdout.ts';
import { derangementStability, type Stability } from './stability.ts';

export interface AnalyseOptions {
  find: FindOptions;
  /** Hold out this share of the prompts (seeded) and report AUCs on them. */
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
  holdout: { split: PromptSplit; stats: DiffStats } | null;
  latentSet: DiscoveryLatentSet;
}

const HELD_OUT = 'held_out';
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The same store with the held-out prompts' samples relabelled, so that no statistic counts them. */
function withoutPrompts(store: ActsStore, heldOut: ReadonlySet<string>): ActsStore {
  const condition = store.samples.condition.map((c, r) => (heldOut.has(store.samples.prompt_id[r]) ? HELD_OUT : c));
  return { ...store, samples: { ...store.samples, condition } };
}

export async function analyseStore(store: ActsStore, o: AnalyseOptions): Promise<Analysis> {
  const a = o.find.a ?? 'off_topic';
  const b = o.find.b ?? 'on_topic';
  const split = o.holdout ? splitPrompts(store.samples.prompt_id, o.holdout.fraction, o.holdout.seed) : null;
  // one pass over the codes: relabelling held-out samples changes no sample's pooled codes
  const pooled = await poolStore(store, o.find.span ?? 'response', o.find.pool ?? 'max');
  const result = detectorsFromPooled(split ? withoutPrompts(store, new Set(split.heldOut)) : store, pooled, o.find);
  const { condition, prompt_id: promptIds, id } = store.samples;
  const selectionPrompts = new Set(split ? split.train : promptIds);
  const stability = derangementStability(
    pooled.codes,
    id,
    groupsWithin(condition, promptIds, pooled.hasSpan, selectionPrompts, a, b),
    result.criterion,
  );
  const heldOutGroups = split ? groupsWithin(condition, promptIds, pooled.hasSpan, new Set(split.heldOut), a, b) : null;
  const holdout = split
    ? {
        split,
        stats: compareGroups(
          pooled.codes,
          heldOutGroups!,
          promptIds,
          result.units.unit,
          `${store.dir} (held-out prompts)`,
        ).stats,
      }
    : null;

  const set: DiscoveryLatentSet = { ...result.latentSet, stability: null, holdout: null };
  for (const e of set.latents) {
    if (o.labels?.has(e.latent)) e.label = o.labels.get(e.latent);
    if (stability) {
      e.stats.stability = stability.frequency[e.latent];
      e.stats.stability_auc_min = finite(stability.aucMin[e.latent]);
      e.stats.stability_auc_max = finite(stability.aucMax[e.latent]);
    }
    if (holdout) {
      e.stats.auc_holdout = finite(holdout.stats.auc[e.latent]);
      e.stats.cohens_d_holdout = finite(holdout.stats.cohens_d[e.latent]);
    }
  }
  if (stability) {
    set.stability = {
      derangements: stability.derangements,
      comparison: `per derangement k: ${a} samples off:<k>:* vs every ${b} sample${split ? ' (selection prompts only)' : ''}, selected by the same rule`,
      selected_per_derangement: stability.selectedPerDerangement,
      selected_in_every_derangement: stability.frequency.reduce((n, f) => n + (f === 1 ? 1 : 0), 0),
      fields:
        'stats.stability = share of derangements selecting the latent; stats.stability_auc_min/max = its AUC range over them',
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
      split:
        'by prompt: a prompt and all its samples (on-topic, and off-topic in every derangement) are on one side; an off-topic sample of a held-out prompt may carry the response of a selection prompt',
      fields:
        'the ranking and selection use the selection prompts only; stats.auc_holdout and stats.cohens_d_holdout are measured on the held-out prompts',
    };
  }
  return { result, stability, holdout, latentSet: set };
}
