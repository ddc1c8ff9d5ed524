// The `random` control: sets of latents as many as the ablated ones, each matched to one ablated latent's
// activation frequency on off-topic and on-topic text (ranking.arrow's freq_a, freq_b), so the control
// removes as much activity as the ablation does, from latents that are not detectors.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import { readRanking } from '../stats/rankingFile.ts';

export interface LatentFrequency {
  latent: number;
  freq_a: number;
  freq_b: number;
}

export function readFrequencies(path: string): Map<number, LatentFrequency> {
  const { rows, columns: c } = readRanking(path, ['latent', 'freq_a', 'freq_b'], 'ranking not found (the random condition matches frequencies from a find-otd-latents run)');
  const out = new Map<number, LatentFrequency>();
  for (let i = 0; i < rows; i++) out.set(Number(c.latent[i]), { latent: Number(c.latent[i]), freq_a: Number(c.freq_a[i]), freq_b: Number(c.freq_b[i]) });
  return out;
}

export interface RandomSet {
  latents: number[];
  /** matched[i] = the ablated latent that latents[i] stands in for. */
  matched: number[];
}

/** Candidates within this many nearest (by |Δfreq_a| + |Δfreq_b|) are equally likely picks. */
export const MATCH_POOL = 5;

/**
 * `k` random sets (stream 2 + j of `seed` for set j): for each ablated latent in turn, one latent drawn
 * uniformly among the MATCH_POOL nearest in frequency that is not excluded and not already in the set.
 */
export function frequencyMatchedSets(freqs: Map<number, LatentFrequency>, ablated: number[], exclude: Iterable<number>, k: number, seed: number): RandomSet[] {
  const skip = new Set([...ablated, ...exclude]);
  const missing = ablated.filter((l) => !freqs.has(l));
  if (missing.length) throw new InputError(`random condition: ablated latent${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not in the ranking`);
  const pool = [...freqs.values()].filter((f) => !skip.has(f.latent));
  if (pool.length < ablated.length + MATCH_POOL) throw new InputError(`random condition: only ${pool.length} latents outside the ablated and steered ones to draw from`);
  return Array.from({ length: k }, (_, j) => {
    const rng = new Rng(seed, 2 + j);
    const used = new Set<number>();
    const latents = ablated.map((target) => {
      const t = freqs.get(target)!;
      const near = pool
        .filter((f) => !used.has(f.latent))
        .map((f) => ({ latent: f.latent, dist: Math.abs(f.freq_a - t.freq_a) + Math.abs(f.freq_b - t.freq_b) }))
        .sort((x, y) => x.dist - y.dist || x.latent - y.latent)
        .slice(0, MATCH_POOL);
      const pick = near[rng.int(near.length)].latent;
      used.add(pick);
      return pick;
    });
    return { latents, matched: [...ablated] };
  });
}
