// Latent sets (docs/design.md "Latent set"): ours, and the paper's off_topic_detectors.json.
import { existsSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson, shown } from '../io/json.ts';

export interface LatentEntry {
  latent: number;
  label?: string;
  selected: boolean;
  stats: Record<string, number | null>;
}

export interface LatentSet {
  method: string;
  criterion: Record<string, unknown>;
  model: unknown;
  sae: unknown;
  layer: number | string | null;
  /** The SAE's hook point name (absent in sets written before hook points were named). */
  hook?: string | null;
  latents: LatentEntry[];
  selected: number[];
  provenance?: Record<string, unknown>;
}

export function writeLatentSet(path: string, set: LatentSet): void {
  writeJsonAtomic(path, set);
}

/** A latent index: an integer ≥ 0. */
export const isIndex = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/** Reads our latents.json or the paper's off_topic_detectors.json (`off_topic_detectors`, `detector_stats`). */
export function readLatentSet(path: string): LatentSet {
  if (!existsSync(path)) throw new InputError(`${path}: latent set not found`);
  const v = readJson(path);
  if (Array.isArray(v?.off_topic_detectors)) {
    const ids: unknown[] = v.off_topic_detectors;
    ids.forEach((x, i) => {
      if (!isIndex(x))
        throw new InputError(`${path}: off_topic_detectors[${i}]: expected a latent index, found ${shown(x)}`);
    });
    const stats = v.detector_stats ?? {};
    const statsOf = (l: number): Record<string, number | null> => {
      const s = Array.isArray(stats)
        ? stats.find((e: any) => e?.latent === l || e?.index === l || e?.feature === l)
        : stats[String(l)];
      return s && typeof s === 'object' ? s : {};
    };
    const latents = (ids as number[]).map((latent) => ({ latent, selected: true, stats: statsOf(latent) }));
    return {
      method: 'paper',
      criterion: {},
      model: v.model ?? null,
      sae: v.sae ?? null,
      layer: v.layer ?? null,
      latents,
      selected: ids as number[],
    };
  }
  if (!Array.isArray(v?.latents) || !Array.isArray(v?.selected)) {
    throw new InputError(
      `${path}: expected a latent set (fields latents and selected) or the paper's off_topic_detectors.json`,
    );
  }
  v.selected.forEach((x: unknown, i: number) => {
    if (!isIndex(x)) throw new InputError(`${path}: selected[${i}]: expected a latent index, found ${shown(x)}`);
  });
  v.latents.forEach((e: any, i: number) => {
    if (!isIndex(e?.latent))
      throw new InputError(`${path}: latents[${i}].latent: expected a latent index, found ${shown(e?.latent)}`);
  });
  return v as LatentSet;
}
