// The features to steer along: read from a file, or sampled (seeded) from the steering pool — latents
// silent on every prompt (steering is meant to be task-misaligned, as in the paper) that are alive on
// general text (so they can steer), optionally restricted to labelled latents.
import { existsSync } from 'node:fs';
import { InputError, SettingError, settingRef as ref } from '../errors.ts';
import { indexLabelRows } from '../io/lines.ts';
import { readTextFile } from '../io/text.ts';
import { Rng } from '../random.ts';
import { isIndex } from '../stats/latentSet.ts';
import { shown } from '../io/json.ts';

export interface Feature {
  latent: number;
  label: string | null;
}

/**
 * A features file: JSON (an array of indices, or of `{latent|index|feature, label?}`), or text with one
 * `index[,label]` per line (a non-numeric first line is a header).
 */
export function readFeatures(path: string): Feature[] {
  if (!existsSync(path)) throw new SettingError(`${ref('features')} ${path}: file not found`);
  const text = readTextFile(path, ref('features'));
  let features: Feature[];
  const json = jsonOrLines(text, path);
  if (json !== undefined) {
    if (!Array.isArray(json))
      throw new InputError(`${path}: expected a JSON array of latent indices or {latent, label} objects`);
    features = json.map((e, i) => {
      const latent = typeof e === 'object' && e !== null ? (e.latent ?? e.index ?? e.feature) : e;
      if (!isIndex(latent)) throw new InputError(`${path}: entry ${i}: expected a latent index, found ${shown(e)}`);
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

/**
 * The parsed JSON of a file that is JSON, or undefined for line text. A file that starts like JSON (`{` or
 * `[`) but does not parse — cut short, say — is an error saying so, not read as lines of no labels.
 */
function jsonOrLines(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (/^\s*[[{]/.test(text)) throw new InputError(`${path}: not JSON (${(err as Error).message})`);
    return undefined;
  }
}

const indexOf = (x: unknown): number | null => {
  if (isIndex(x)) return x;
  if (typeof x === 'string' && /^\d+$/.test(x.trim())) return Number(x.trim());
  return null;
};

/**
 * Latent labels: a JSON object `{"<index>": "label"}`, a Neuronpedia explanations export (a JSON array of
 * `{index, description}`, as Neuronpedia's explanation downloads are), or lines `index,label` (a
 * non-numeric first line is a header). A latent with several explanations keeps the first.
 */
export function readFeatureLabels(path: string): Map<number, string> {
  if (!existsSync(path)) throw new SettingError(`${ref('featureLabels')} ${path}: file not found`);
  const text = readTextFile(path, ref('featureLabels'));
  const labels = new Map<number, string>();
  const json = jsonOrLines(text, path);
  const put = (index: number | null, label: unknown, where: string) => {
    if (index === null) throw new InputError(`${path}: ${where}: expected a latent index, found ${shown(index)}`);
    if (typeof label !== 'string' || !label.trim())
      throw new InputError(`${path}: ${where}: expected a non-empty label string, found ${shown(label)}`);
    if (!labels.has(index)) labels.set(index, label.trim());
  };
  if (Array.isArray(json)) {
    json.forEach((e, i) => {
      if (typeof e !== 'object' || e === null)
        throw new InputError(`${path}: entry ${i}: expected {index, description} (a Neuronpedia explanation)`);
      const r = e as Record<string, unknown>;
      put(indexOf(r.index ?? r.latent ?? r.feature), r.description ?? r.label ?? r.explanation, `entry ${i}`);
    });
  } else if (typeof json === 'object' && json !== null) {
    for (const [k, v] of Object.entries(json)) put(indexOf(k), v, `key ${JSON.stringify(k)}`);
  } else if (json !== undefined) {
    throw new InputError(
      `${path}: expected a JSON object {"<index>": "label"}, a Neuronpedia explanations array, or lines index,label`,
    );
  } else {
    for (const { index, label } of indexLabelRows(text, path)) put(index, label, `latent ${index}`);
  }
  if (!labels.size) throw new InputError(`${path}: no labels listed`);
  return labels;
}

export const STEERING_POOL_RULE =
  "latents whose code is 0 at every position of every chat-rendered prompt at the SAE's hook point, " +
  'and non-zero somewhere in the general text (alive), minus the ablated set; with labels, only labelled latents';

export interface SteeringPool {
  rule: string;
  /** The candidates, ascending, with their labels. */
  features: Feature[];
  counts: {
    d_sae: number;
    silent_on_prompts: number;
    alive_on_general_text: number;
    labelled: number | null;
    pool: number;
  };
}

/**
 * The steering pool: latents in 0..dSae−1 that fire nowhere on the prompts, fire somewhere on general text,
 * are not ablated, and — when `labels` is given — are labelled (each feature carries its label).
 */
export function steeringPool(
  dSae: number,
  firingOnPrompts: Iterable<number>,
  aliveOnGeneral: Iterable<number>,
  exclude: Iterable<number>,
  labels: Map<number, string> | null,
): SteeringPool {
  const onPrompts = new Set(firingOnPrompts);
  const alive = new Set(aliveOnGeneral);
  const skip = new Set(exclude);
  let silent = 0;
  let silentAlive = 0;
  const features: Feature[] = [];
  for (let l = 0; l < dSae; l++) {
    if (onPrompts.has(l)) continue;
    silent++;
    if (!alive.has(l)) continue;
    silentAlive++;
    if (skip.has(l) || (labels && !labels.has(l))) continue;
    features.push({ latent: l, label: labels?.get(l) ?? null });
  }
  return {
    rule: STEERING_POOL_RULE,
    features,
    counts: {
      d_sae: dSae,
      silent_on_prompts: silent,
      alive_on_general_text: silentAlive,
      labelled: labels ? features.length : null,
      pool: features.length,
    },
  };
}

/** `n` distinct features drawn uniformly (seeded) from `pool`, in the order drawn. */
export function sampleFeatures(pool: readonly Feature[], n: number, seed: number): Feature[] {
  const candidates = pool.slice();
  if (candidates.length < n) {
    throw new SettingError(
      `${ref('nFeatures')} ${n}: the steering pool holds only ${candidates.length} latents (silent on the prompts, alive on general text, not ablated${pool.some((f) => f.label !== null) ? ', labelled' : ''}); ask for fewer`,
    );
  }
  const rng = new Rng(seed, 1);
  // partial Fisher–Yates: the first n slots end up a uniform sample without replacement
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(candidates.length - i);
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return candidates.slice(0, n);
}
