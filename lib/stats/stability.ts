// Stability of a selection across derangements: each derangement's off-topic samples (off:<k>:*) against
// the on-topic samples of the same prompts (K = 1 per prompt), the same test and rule, and how often each
// latent passes.
import { compareGroups, type CompareOptions } from './detectors.ts';
import type { DiffStats } from './differential.ts';
import { effectOf, select, selectionFrequency, type SelectionCriterion } from './selection.ts';
import type { PooledCodes } from './sparse.ts';

/** Derangement of each sample from its id (`off:<k>:<i>`), −1 for any other sample. */
export function derangementOf(ids: readonly string[]): Int32Array {
  return Int32Array.from(ids, (id) => {
    const m = /^off:(\d+):\d+$/.exec(id);
    return m ? Number(m[1]) : -1;
  });
}

export interface Stability {
  /** Derangements found in the sample ids, in order. */
  derangements: number[];
  /** Per latent: share of derangements whose samples select it (0–1). */
  frequency: Float64Array;
  /** Per latent: lowest and highest effect (strat_auc, or AUC with the per-sample test) over the derangements. */
  aucMin: Float64Array;
  aucMax: Float64Array;
  /** How many latents each derangement selects. */
  selectedPerDerangement: number[];
  /** Each derangement's statistics. */
  perDerangement: DiffStats[];
}

/**
 * `groups` marks the samples that enter (0 = off-topic, 1 = on-topic, else excluded); derangement k's
 * comparison keeps the on-topic samples and its own off-topic ones. Null when no sample id names a
 * derangement (a store not written by find-otd-latents) or some derangement has fewer than 2 samples.
 */
export function derangementStability(
  codes: PooledCodes,
  ids: readonly string[],
  groups: Uint8Array,
  sampleIds: { prompt: readonly string[]; response?: readonly (string | null)[] },
  compare: CompareOptions,
  criterion: SelectionCriterion,
): Stability | null {
  const k = derangementOf(ids);
  const found = [...new Set(Array.from(k).filter((x, r) => x >= 0 && groups[r] === 0))].sort((x, y) => x - y);
  if (found.length === 0) return null;
  const perK: DiffStats[] = [];
  for (const d of found) {
    const g = Uint8Array.from(groups, (x, r) => (x === 1 ? 1 : x === 0 && k[r] === d ? 0 : 2));
    if (g.filter((x) => x === 0).length < 2) return null;
    perK.push(compareGroups(codes, g, sampleIds, compare, `derangement ${d}`).stats);
  }
  const frequency = selectionFrequency(perK, criterion);
  const aucMin = new Float64Array(codes.dSae).fill(Infinity);
  const aucMax = new Float64Array(codes.dSae).fill(-Infinity);
  for (const s of perK) {
    const effect = effectOf(s);
    for (let l = 0; l < codes.dSae; l++) {
      aucMin[l] = Math.min(aucMin[l], effect[l]);
      aucMax[l] = Math.max(aucMax[l], effect[l]);
    }
  }
  const selectedPerDerangement = perK.map((s) => select(s, criterion).reduce((n, x) => n + x, 0));
  return { derangements: found, frequency, aucMin, aucMax, selectedPerDerangement, perDerangement: perK };
}
