// Held-out check: select on a seeded share of the prompts, measure each latent's AUC on the rest.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';

export interface PromptSplit {
  fraction: number;
  seed: number;
  /** Prompt ids in natural order (p2 before p10). */
  train: string[];
  heldOut: string[];
}

const naturalOrder = (a: string, b: string): number =>
  a.localeCompare(b, 'en', { numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);

/**
 * Holds out round(fraction · n) of the distinct prompt ids, chosen by a seeded shuffle (stream 0 of the
 * seed; the derangements use streams 1..K). Both parts need at least 2 prompts.
 */
export function splitPrompts(promptIds: readonly string[], fraction: number, seed: number): PromptSplit {
  if (!(fraction > 0 && fraction < 1))
    throw new InputError(`--holdout must be a fraction strictly between 0 and 1, found ${fraction}`);
  const ids = [...new Set(promptIds)].sort(naturalOrder);
  const nHeld = Math.round(fraction * ids.length);
  if (nHeld < 2 || ids.length - nHeld < 2) {
    throw new InputError(
      `--holdout ${fraction}: ${ids.length} prompts give ${nHeld} held out and ${ids.length - nHeld} for selection; each part needs at least 2`,
    );
  }
  const rng = new Rng(seed, 0);
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const held = new Set(shuffled.slice(0, nHeld));
  return { fraction, seed, train: ids.filter((p) => !held.has(p)), heldOut: ids.filter((p) => held.has(p)) };
}

/**
 * The samples of one part of the prompts: a sample is in when its prompt is in `keep` and its response,
 * where it names one of the store's prompts, is in `keep` too (so held-out statistics never see a
 * selection prompt's response). `crossed` counts the samples of `keep`'s prompts left out for their response.
 */
export function partOfSamples(
  promptIds: readonly string[],
  responseIds: readonly (string | null)[],
  keep: ReadonlySet<string>,
): { in: Uint8Array; crossed: number } {
  const prompts = new Set(promptIds);
  let crossed = 0;
  const inPart = Uint8Array.from(promptIds, (p, r) => {
    if (!keep.has(p)) return 0;
    const resp = responseIds[r];
    if (resp !== null && prompts.has(resp) && !keep.has(resp)) {
      crossed++;
      return 0;
    }
    return 1;
  });
  return { in: inPart, crossed };
}
