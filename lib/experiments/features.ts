// The features to steer along: read from a file, or sampled (seeded) from the latents alive on the prompts.
import { existsSync, readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { indexLabelRows } from '../io/lines.ts';
import { Rng } from '../random.ts';
import { isIndex } from '../stats/latentSet.ts';

export interface Feature {
  latent: number;
  label: string | null;
}

/**
 * A features file: JSON (an array of indices, or of `{latent|index|feature, label?}`), or text with one
 * `index[,label]` per line (a non-numeric first line is a header).
 */
export function readFeatures(path: string): Feature[] {
  if (!existsSync(path)) throw new InputError(`--features ${path}: file not found`);
  const text = readFileSync(path, 'utf8');
  let features: Feature[];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json !== undefined) {
    if (!Array.isArray(json)) throw new InputError(`${path}: expected a JSON array of latent indices or {latent, label} objects`);
    features = json.map((e, i) => {
      const latent = typeof e === 'object' && e !== null ? (e.latent ?? e.index ?? e.feature) : e;
      if (!isIndex(latent)) throw new InputError(`${path}: entry ${i}: expected a latent index, found ${JSON.stringify(e)}`);
      const label = typeof e === 'object' && e !== null && typeof e.label === 'string' ? e.label : null;
      return { latent, label };
    });
  } else {
    features = indexLabelRows(text, path).map(({ index, label }) => ({ latent: index, label }));
  }
  if (!features.length) throw new InputError(`${path}: no features listed`);
  const seen = new Set<number>();
  for (const f of features) {
    if (seen.has(f.latent)) throw new InputError(`${path}: latent ${f.latent} is listed twice`);
    seen.add(f.latent);
  }
  return features;
}

/** `n` distinct latents drawn uniformly (seeded) from `pool` minus `exclude`, in the order drawn. */
export function sampleFeatures(pool: number[], exclude: Iterable<number>, n: number, seed: number): Feature[] {
  const skip = new Set(exclude);
  const candidates = pool.filter((l) => !skip.has(l));
  if (candidates.length < n) {
    throw new InputError(`--n-features ${n}: only ${candidates.length} latents fire on the prompts outside the ablated set`);
  }
  const rng = new Rng(seed, 1);
  // partial Fisher–Yates: the first n slots end up a uniform sample without replacement
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(candidates.length - i);
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, n).map((latent) => ({ latent, label: null }));
}
