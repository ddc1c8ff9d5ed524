// The `random` control: sets of latents as many as the ablated ones, never detector-like. Two rules:
// - `activity` (default): each ablated latent gets a stand-in matched on label-blind activity — its
//   per-token firing frequency and its mean code when firing, over every token of the discovery run's
//   conversations (prompts and responses, whatever their on/off-topic label) — so the control removes
//   as much activity as the ablation does without using the contrast that found the detectors;
// - `none`: drawn uniformly, as the paper did.
// Excluded in both: the ablated latents, the steered features, and (when the discovery ranking is at
// hand) every latent that passes any selection rule or has AUC ≥ 0.7 in it.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { rankAverage } from '../stats/rank.ts';
import { readRanking } from '../stats/rankingFile.ts';
import { DEFAULT_CRITERIA } from '../stats/selection.ts';
import type { ActsStore } from '../store/reader.ts';

export type RandomMatch = 'activity' | 'none';
export const RANDOM_MATCHES: RandomMatch[] = ['activity', 'none'];

/** Per latent: share of tokens where it fires, and its mean code over those tokens (0 when it never fires). */
export interface LatentActivity {
  freq: Float64Array;
  mean: Float64Array;
  tokens: number;
}

/** Label-blind activity of every latent over every token of every sample of an activation store. */
export async function storeActivity(store: ActsStore): Promise<LatentActivity> {
  const d = store.meta.d_sae;
  const count = new Float64Array(d);
  const sum = new Float64Array(d);
  for await (const b of store.codeBatches()) {
    for (let i = 0; i < b.latent.length; i++) {
      if (b.value[i] === 0) continue;
      count[b.latent[i]]++;
      sum[b.latent[i]] += b.value[i];
    }
  }
  const tokens = store.samples.n_tokens.reduce((s, n) => s + n, 0);
  if (tokens === 0) throw new InputError(`${store.dir}: the store holds no tokens to measure latent activity on`);
  return { freq: count.map((c) => c / tokens), mean: sum.map((s, l) => (count[l] ? s / count[l] : 0)), tokens };
}

/** AUC (per sample, or within prompt) at or above this in the discovery ranking makes a latent detector-like (never a random stand-in). */
export const DETECTOR_AUC = 0.7;

const EXCLUSION_RULE =
  `passes any selection rule (frequency: fires on ≥ ${DEFAULT_CRITERIA.frequency.min_freq_a} of off-topic samples and no on-topic one; ` +
  `separability: AUC = 1; effect: q_bh < ${DEFAULT_CRITERIA.effect.alpha} and Cohen's d > ${DEFAULT_CRITERIA.effect.min_d}) or has AUC or strat_auc ≥ ${DETECTOR_AUC} in the discovery ranking`;

/** The detector-like latents of a ranking.arrow (EXCLUSION_RULE), ascending. */
export function detectorLike(rankingPath: string): number[] {
  const { rows, columns: c } = readRanking(
    rankingPath,
    ['latent', 'freq_a', 'freq_b', 'auc', 'strat_auc', 'q_bh', 'cohens_d', 'selected'],
    'ranking not found (the random condition excludes the detector-like latents of a find-otd-latents run)',
    ['strat_auc'],
  );
  const out: number[] = [];
  const f = DEFAULT_CRITERIA.frequency.min_freq_a!;
  const e = DEFAULT_CRITERIA.effect;
  for (let i = 0; i < rows; i++) {
    const strat = c.strat_auc?.[i] === null || c.strat_auc === undefined ? Number.NaN : Number(c.strat_auc[i]);
    const auc = Number.isNaN(strat) ? Number(c.auc[i]) : Math.max(Number(c.auc[i]), strat);
    const q = c.q_bh[i] === null ? NaN : Number(c.q_bh[i]);
    const like =
      c.selected[i] === true ||
      auc >= DETECTOR_AUC ||
      (Number(c.freq_b[i]) === 0 && Number(c.freq_a[i]) >= f && Number(c.freq_a[i]) > 0) ||
      (q < e.alpha! && Number(c.cohens_d[i]) > e.min_d!);
    if (like) out.push(Number(c.latent[i]));
  }
  return out.sort((x, y) => x - y);
}

export interface RandomSet {
  latents: number[];
  /** matched[i] = the ablated latent that latents[i] stands in for. */
  matched: number[];
}

/** Candidates within this many nearest (in activity) are equally likely picks. */
const MATCH_POOL = 5;

function checkPool(pool: number[], needed: number): void {
  if (pool.length < needed)
    throw new InputError(
      `random condition: only ${pool.length} latents outside the ablated, steered and detector-like ones to draw from (need ${needed})`,
    );
}

/**
 * `k` sets (stream 2 + j of `seed` for set j): for each ablated latent in turn, one latent drawn uniformly
 * among the MATCH_POOL nearest in activity that is not excluded and not already in the set. Nearness is
 * |Δ percentile of firing frequency| + |Δ percentile of mean code when firing|, percentiles over all
 * latents (scale-free, so neither measure dominates); ties by latent index.
 */
export function activityMatchedSets(
  activity: LatentActivity,
  ablated: number[],
  exclude: Iterable<number>,
  k: number,
  seed: number,
): RandomSet[] {
  const d = activity.freq.length;
  const missing = ablated.filter((l) => l >= d);
  if (missing.length)
    throw new InputError(
      `random condition: ablated latent${missing.length > 1 ? 's' : ''} ${missing.join(', ')} outside the store's ${d} latents`,
    );
  const pf = rankAverage(activity.freq).ranks.map((r) => r / d);
  const pm = rankAverage(activity.mean).ranks.map((r) => r / d);
  const skip = new Set([...ablated, ...exclude]);
  const pool = Array.from({ length: d }, (_, l) => l).filter((l) => !skip.has(l));
  checkPool(pool, ablated.length + MATCH_POOL);
  return Array.from({ length: k }, (_, j) => {
    const rng = new Rng(seed, 2 + j);
    const used = new Set<number>();
    const latents = ablated.map((t) => {
      const near = pool
        .filter((l) => !used.has(l))
        .map((l) => ({ l, dist: Math.abs(pf[l] - pf[t]) + Math.abs(pm[l] - pm[t]) }))
        .sort((x, y) => x.dist - y.dist || x.l - y.l)
        .slice(0, MATCH_POOL);
      const pick = near[rng.int(near.length)].l;
      used.add(pick);
      return pick;
    });
    return { latents, matched: [...ablated] };
  });
}

/** `k` sets drawn uniformly without replacement from the latents 0..dSae−1 not excluded (the paper's control). */
export function uniformSets(
  dSae: number,
  ablated: number[],
  exclude: Iterable<number>,
  k: number,
  seed: number,
): RandomSet[] {
  const skip = new Set([...ablated, ...exclude]);
  const pool = Array.from({ length: dSae }, (_, l) => l).filter((l) => !skip.has(l));
  checkPool(pool, ablated.length);
  return Array.from({ length: k }, (_, j) => {
    const rng = new Rng(seed, 2 + j);
    const c = [...pool];
    for (let i = 0; i < ablated.length; i++) {
      const r = i + rng.int(c.length - i);
      [c[i], c[r]] = [c[r], c[i]];
    }
    return { latents: c.slice(0, ablated.length), matched: [...ablated] };
  });
}

/** What the run records about its random control (random.json, metrics.json provenance, summary.md). */
export interface RandomControl {
  match: RandomMatch;
  /** How the stand-ins were chosen, in words. */
  rule: string;
  /** Latents never drawn, and why. */
  exclusion: { rule: string; detector_like: number[]; ablated: number[]; steered: number[] };
  /** Where the activity was measured (activity matching), else null. */
  activity: { store: string; tokens: number } | null;
  sets: RandomSet[];
}

/**
 * The random sets of a run. `runDir` is the discovery run the ablated latents came from (its
 * ranking.arrow gives the detector-like latents, its activations.acts the activity); activity matching
 * needs it, the uniform control uses its ranking when there is one.
 */
export async function randomControl(o: {
  match: RandomMatch;
  runDir: string | null;
  source: string;
  dSae: number;
  ablated: number[];
  steered: number[];
  k: number;
  seed: number;
  openStore: (dir: string) => ActsStore;
}): Promise<RandomControl> {
  const ranking = o.runDir ? `${o.runDir}/ranking.arrow` : null;
  if (o.match === 'activity' && !ranking) {
    throw new InputError(
      `random condition: ${o.source} comes with no discovery run to measure activity in and exclude detector-like latents from; take the latents from a find-otd-latents run (topK or --otd RUN/latents.json), or use --random-match none`,
    );
  }
  const detector = ranking ? detectorLike(ranking) : [];
  const exclude = [...o.steered, ...detector];
  const exclusion = {
    rule: ranking
      ? `the ablated latents, the steered features, and every latent that ${EXCLUSION_RULE}`
      : 'the ablated latents and the steered features (no discovery ranking to find detector-like latents in)',
    detector_like: detector,
    ablated: [...o.ablated],
    steered: [...o.steered],
  };
  if (o.match === 'none') {
    return {
      match: 'none',
      rule: "uniform draws without replacement from the latents not excluded (the paper's control)",
      exclusion,
      activity: null,
      sets: uniformSets(o.dSae, o.ablated, exclude, o.k, o.seed),
    };
  }
  const storeDir = `${o.runDir}/activations.acts`;
  const activity = await storeActivity(o.openStore(storeDir));
  return {
    match: 'activity',
    rule: `per ablated latent, one of the ${MATCH_POOL} latents nearest in (percentile of per-token firing frequency, percentile of mean code when firing) over every token of the discovery conversations, label-blind`,
    exclusion,
    activity: { store: storeDir, tokens: activity.tokens },
    sets: activityMatchedSets(activity, o.ablated, exclude, o.k, o.seed),
  };
}
