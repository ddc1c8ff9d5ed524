// The `random` control: sets of latents as many as the ablated ones, never detector-like. Four rules
// (the default is in ABLATION_DEFAULTS):
// - `activity-norm`: matched on label-blind activity (below), then latents are swapped, each for one
//   of its ablated latent's nearest in activity, until clamping the set removes as much of the residual stream
//   on off-topic contexts as clamping the ablated set does (removedNorm.ts): a control that perturbs the model
//   as much where the detectors act, not just one that fires as often;
// - `activity`: each ablated latent gets a stand-in matched on label-blind activity — its per-token firing
//   frequency and its mean code when firing, over every token of the discovery run's conversations (prompts
//   and responses, whatever their on/off-topic label) — without using the contrast that found the detectors;
// - `none`: drawn uniformly, as the paper did;
// - `rotation`: no other latents at all: the ablated ones clamped along rotated decoder rows (rotation.ts),
//   matched on activity by construction and on removed norm at every token.
// Excluded in both: the ablated latents, the steered features, and (when the discovery ranking is at
// hand) every latent that passes any selection rule or has AUC ≥ 0.7 in it.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { rankAverage } from '../stats/rank.ts';
import { readRanking } from '../stats/rankingFile.ts';
import { DEFAULT_CRITERIA } from '../stats/selection.ts';
import type { ActsStore } from '../store/reader.ts';
import { offTopicCodes, type OffTopicCodes, RemovedNorm } from './removedNorm.ts';
import { ROTATION_FILE, rotationSets, rotationTensor } from './rotation.ts';

export type RandomMatch = 'activity-norm' | 'activity' | 'none' | 'rotation';
export const RANDOM_MATCHES: RandomMatch[] = ['activity-norm', 'activity', 'none', 'rotation'];

/** Per latent: share of tokens where it fires, and its mean code over those tokens (0 when it never fires). */
export interface LatentActivity {
  freq: Float64Array;
  mean: Float64Array;
  tokens: number;
}

/** Tokens in an activation store, over every sample. */
const storeTokens = (store: ActsStore): number => store.samples.n_tokens.reduce((s, n) => s + n, 0);

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
  const tokens = storeTokens(store);
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

/** The drawable latents (not ablated, not excluded) ordered by nearness in activity to a latent. */
interface ActivityPool {
  nearest(target: number, count: number, skip: Set<number>): number[];
  /** Nearness of a to b: |Δ percentile of firing frequency| + |Δ percentile of mean code when firing|. */
  distance(a: number, b: number): number;
}

function activityPool(
  activity: LatentActivity,
  ablated: number[],
  exclude: Iterable<number>,
  needed: number,
): ActivityPool {
  const d = activity.freq.length;
  const missing = ablated.filter((l) => l >= d);
  if (missing.length)
    throw new InputError(
      `random condition: ablated latent${missing.length > 1 ? 's' : ''} ${missing.join(', ')} outside the store's ${d} latents`,
    );
  const pf = rankAverage(activity.freq).ranks.map((r) => r / d);
  const pm = rankAverage(activity.mean).ranks.map((r) => r / d);
  const skipped = new Set([...ablated, ...exclude]);
  const pool = Array.from({ length: d }, (_, l) => l).filter((l) => !skipped.has(l));
  checkPool(pool, needed);
  const distance = (a: number, b: number) => Math.abs(pf[a] - pf[b]) + Math.abs(pm[a] - pm[b]);
  return {
    distance,
    nearest: (t, count, skip) =>
      pool
        .filter((l) => !skip.has(l))
        .map((l) => ({ l, dist: distance(l, t) }))
        .sort((x, y) => x.dist - y.dist || x.l - y.l)
        .slice(0, count)
        .map((x) => x.l),
  };
}

function drawMatched(pool: ActivityPool, ablated: number[], rng: Rng): number[] {
  const used = new Set<number>();
  return ablated.map((t) => {
    const near = pool.nearest(t, MATCH_POOL, used);
    const pick = near[rng.int(near.length)];
    used.add(pick);
    return pick;
  });
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
  const pool = activityPool(activity, ablated, exclude, ablated.length + MATCH_POOL);
  return Array.from({ length: k }, (_, j) => ({
    latents: drawMatched(pool, ablated, new Rng(seed, 2 + j)),
    matched: [...ablated],
  }));
}

/** A norm swap for position j may take one of this many latents nearest in activity to ablated[j]. */
export const NORM_POOL = 25;
/** The search stops once a set's removed norm is within this share of the ablated set's. */
export const NORM_TOLERANCE = 0.02;
const NORM_PASSES = 20;

/** Per set: whether its removed norm is within NORM_TOLERANCE of the ablated set's. */
const withinTolerance = (removed: number[], target: number): boolean[] =>
  removed.map((r) => Math.abs(r - target) <= NORM_TOLERANCE * target);

export interface NormMatch {
  /** Mean removed norm of the ablated set, and of each random set (in set order). */
  ablated: number;
  sets: number[];
  /** Per set: whether its removed norm came within NORM_TOLERANCE of the ablated set's (the swaps may run out). */
  within_tolerance: boolean[];
  /** Mean over each set's positions of the activity distance to the ablated latent it stands in for (activity-norm). */
  activity_distance?: number[];
  tokens: { total: number; measured: number };
}

/**
 * Activity-matched sets (as activityMatchedSets), then, set by set, swaps: in passes over the positions (a seeded
 * order), the stand-in for ablated[j] may be replaced by one of the NORM_POOL latents nearest in activity to
 * ablated[j] (not excluded, not in the set) when that brings the set's removed norm closer to the ablated set's;
 * until within NORM_TOLERANCE, or a pass changes nothing.
 */
export function normMatchedSets(
  activity: LatentActivity,
  codes: OffTopicCodes,
  ablated: number[],
  exclude: Iterable<number>,
  k: number,
  seed: number,
): { sets: RandomSet[]; norm: NormMatch } {
  const pool = activityPool(activity, ablated, exclude, ablated.length + MATCH_POOL);
  const target = new RemovedNorm(codes, ablated).mean();
  const removed: number[] = [];
  const sets = Array.from({ length: k }, (_, j) => {
    const rng = new Rng(seed, 2 + j);
    const latents = drawMatched(pool, ablated, rng);
    const rn = new RemovedNorm(codes, latents);
    const gap = () => Math.abs(rn.mean() - target);
    for (let pass = 0; pass < NORM_PASSES && gap() > NORM_TOLERANCE * target; pass++) {
      let changed = false;
      const order = ablated.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const r = rng.int(i + 1);
        [order[i], order[r]] = [order[r], order[i]];
      }
      for (const at of order) {
        let best = { l: -1, gap: gap() };
        for (const c of pool.nearest(ablated[at], NORM_POOL, new Set(latents))) {
          const g = Math.abs(rn.meanIfSwapped(latents[at], c) - target);
          if (g < best.gap) best = { l: c, gap: g };
        }
        if (best.l >= 0) {
          rn.swap(latents[at], best.l);
          latents[at] = best.l;
          changed = true;
        }
        if (gap() <= NORM_TOLERANCE * target) break;
      }
      if (!changed) break;
    }
    removed.push(rn.mean());
    return { latents, matched: [...ablated] };
  });
  return {
    sets,
    norm: {
      ablated: target,
      sets: removed,
      within_tolerance: withinTolerance(removed, target),
      activity_distance: sets.map(
        (s) => s.latents.reduce((a, l, i) => a + pool.distance(l, ablated[i]), 0) / s.latents.length,
      ),
      tokens: codes.tokens,
    },
  };
}

/** What to warn about when some activity-norm sets missed the ablated set's removed norm; null when none did. */
export function normMisses(control: RandomControl): string | null {
  const n = control.norm;
  if (!n) return null;
  const missed = n.sets.filter((_, k) => !n.within_tolerance[k]);
  if (!missed.length) return null;
  return `${missed.length} of ${n.sets.length} sets could not be matched on removed norm within ${NORM_TOLERANCE * 100}% (the ablated set removes ${n.ablated.toFixed(4)}, those sets ${missed.map((x) => x.toFixed(4)).join(', ')}; no latents of similar activity remove as much): this control is not matched on norm (random.json)`;
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
  /** Where the activity was measured (activity matching), else null; rotation: identical by construction. */
  activity: { store: string | null; tokens: number | null; identical?: string } | null;
  /** The residual norm each set's clamp removes on off-topic contexts (activity-norm, rotation), else null. */
  norm: (NormMatch & { rule: string }) | null;
  sets: RandomSet[];
  /** Rotation: where set j's rows are (tensor set_j of `file` in the run directory) and the seed stream each was drawn from. */
  rotation?: { file: string; tensors: string[]; streams: number[]; rank: number };
  /** Rotation: set j's rows [k, d_in], row-major (not recorded in JSON: the file holds them). */
  rows?: Float32Array[];
}

/** The mean removed norm of the ablated set, and of the ablated latents written along each set's rows. */
function rotationNorm(codes: OffTopicCodes, ablated: number[], sets: Float32Array[], rule: string) {
  const target = new RemovedNorm(codes, ablated).mean();
  const at = new Map(ablated.map((l, i) => [l, i]));
  const removed = sets.map((rows) => {
    const row = (l: number) => {
      const i = at.get(l);
      return i === undefined ? codes.row(l) : rows.subarray(i * codes.dIn, (i + 1) * codes.dIn);
    };
    return new RemovedNorm({ ...codes, row }, ablated).mean();
  });
  return {
    ablated: target,
    sets: removed,
    within_tolerance: withinTolerance(removed, target),
    tokens: codes.tokens,
    rule,
  };
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
  /** W_dec rows of latents, row-major, and d_in (activity-norm matching). */
  decoder?: { rows: (latents: number[]) => Float32Array; dIn: number };
}): Promise<RandomControl> {
  const ranking = o.runDir ? `${o.runDir}/ranking.arrow` : null;
  if (o.match !== 'none' && o.match !== 'rotation' && !ranking) {
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
      norm: null,
      sets: uniformSets(o.dSae, o.ablated, exclude, o.k, o.seed),
    };
  }
  if (o.match === 'rotation') return rotationControl(o, exclusion);
  const storeDir = `${o.runDir}/activations.acts`;
  const store = o.openStore(storeDir);
  const activity = await storeActivity(store);
  const activityRule = `per ablated latent, one of the ${MATCH_POOL} latents nearest in (percentile of per-token firing frequency, percentile of mean code when firing) over every token of the discovery conversations, label-blind`;
  if (o.match === 'activity') {
    return {
      match: 'activity',
      rule: activityRule,
      exclusion,
      activity: { store: storeDir, tokens: activity.tokens },
      norm: null,
      sets: activityMatchedSets(activity, o.ablated, exclude, o.k, o.seed),
    };
  }
  if (!o.decoder) throw new Error('random control: activity-norm matching needs the SAE decoder');
  const codes = await offTopicCodes(store, o.decoder.rows, o.decoder.dIn, o.seed);
  const matched = normMatchedSets(activity, codes, o.ablated, exclude, o.k, o.seed);
  const normRule = `mean over off-topic response tokens of ‖Σ_{i∈set} f_i·W_dec[i]‖ (what clamping the set to 0 removes from the residual stream), matched to the ablated set's within ${NORM_TOLERANCE * 100}% by swapping stand-ins for others among each ablated latent's ${NORM_POOL} nearest in activity`;
  return {
    match: 'activity-norm',
    rule: `${activityRule}; then ${normRule}`,
    exclusion,
    activity: { store: storeDir, tokens: activity.tokens },
    norm: { ...matched.norm, rule: normRule },
    sets: matched.sets,
  };
}

/** The rotation control (rotation.ts): the ablated latents along rotated rows; its removed norm measured when a discovery store is at hand. */
async function rotationControl(
  o: Parameters<typeof randomControl>[0],
  exclusion: RandomControl['exclusion'],
): Promise<RandomControl> {
  if (!o.decoder) throw new Error('random control: rotation needs the SAE decoder');
  const { dIn } = o.decoder;
  const { sets, rank } = rotationSets(o.decoder.rows(o.ablated), dIn, o.k, o.seed);
  const identical = 'the same latents clamped (the same encoder), so the same codes at the same tokens';
  let activity: RandomControl['activity'] = { identical, store: null, tokens: null };
  let norm: RandomControl['norm'] = null;
  if (o.runDir) {
    const storeDir = `${o.runDir}/activations.acts`;
    const store = o.openStore(storeDir);
    activity = { identical, store: storeDir, tokens: storeTokens(store) };
    const codes = await offTopicCodes(store, o.decoder.rows, dIn, o.seed);
    norm = rotationNorm(
      codes,
      o.ablated,
      sets,
      "mean over off-topic response tokens of ‖Σ_{a∈ablated} f_a·r_a‖ (what the clamp removes from the residual stream), r_a the rotated rows; equal to the ablated set's at every token up to float precision (the rows keep W_dec[ablated]'s Gram matrix)",
    );
  }
  return {
    match: 'rotation',
    rule: `the ablated latents themselves, clamped as in the ablate condition, each latent's change written along a rotated decoder row instead of W_dec[a]: with W_dec[ablated] = C·Uᵀ (U an orthonormal basis of its ${rank}-dimensional row span), the rows C·Qᵀ, Q an orthonormal basis of a seeded Gaussian ${rank}-dimensional subspace orthogonal to that span (set j: stream 2 + j of the run's seed); the rows' Gram matrix is W_dec[ablated]'s, so every token loses the same norm, none of it along the detectors' directions`,
    exclusion,
    activity,
    norm,
    sets: sets.map(() => ({ latents: [...o.ablated], matched: [...o.ablated] })),
    rotation: {
      file: ROTATION_FILE,
      tensors: sets.map((_, j) => rotationTensor(j)),
      streams: sets.map((_, j) => 2 + j),
      rank,
    },
    rows: sets,
  };
}
