// Which latents to ablate: `--latents top26 | topK | FILE:topK | 12,40,7` (with `--otd FILE`), resolved
// against a latent set (the latest find-otd-latents run, or a given file), with the rule they passed.
// The policy: topK reads the latest discovery run made with this SAE; on the shipped default with no such
// run, discovery runs first (as `analyze find-otd-latents` would); elsewhere that is an error naming the fix.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DISCOVERY_COMMAND, latestDiscoveryRun } from '../discovery/options.ts';
import { SettingError, settingRef as ref } from '../errors.ts';
import type { Session } from '../session.ts';
import { isShippedDefault, SHIPPED } from '../settings/shipped.ts';
import { type LatentSet, readLatentSet } from '../stats/latentSet.ts';
import { discoverFirst } from './discover.ts';

export type LatentSpec = { kind: 'top'; k: number; file: string | null } | { kind: 'list'; latents: number[] };

/** Parses the flag text (no file access). `otd` is the --otd file, used by `topK`. */
export function parseLatentSpec(text: string, otd: string | null): LatentSpec {
  const t = text.trim();
  const top = /^(?:(.+):)?top(\d+)$/.exec(t);
  if (top) {
    const k = Number(top[2]);
    if (k < 1) throw new SettingError(`${ref('latents')} ${text}: topK needs K ≥ 1`);
    if (top[1] && otd)
      throw new SettingError(`${ref('latents')} ${text} names a file and ${ref('otd')} ${otd} names another; give one`);
    return { kind: 'top', k, file: top[1] ?? otd };
  }
  if (/^\d+(\s*,\s*\d+)*$/.test(t)) {
    if (otd)
      throw new SettingError(
        `${ref('otd')} ${otd}: an explicit ${ref('latents')} list (${text}) does not read a latent set; drop one of them`,
      );
    const latents = t.split(',').map(Number);
    const dup = latents.find((l, i) => latents.indexOf(l) !== i);
    if (dup !== undefined) throw new SettingError(`${ref('latents')} ${text}: latent ${dup} is listed twice`);
    return { kind: 'list', latents };
  }
  throw new SettingError(
    `${ref('latents')} ${JSON.stringify(text)}: expected top26, topK, FILE:topK, or a list such as 12,40,7`,
  );
}

export interface ResolvedLatents {
  latents: number[];
  /** Where they came from: a latents.json path, or `--latents LIST`. */
  source: string;
  /** The discovery run directory (holds ranking.arrow for frequency matching), when there is one. */
  runDir: string | null;
  /** Chosen latents that did not pass the set's selection rule. */
  notSelected: number[];
  set: LatentSet | null;
}

/** Reads the latent set a `top` spec refers to and takes its first K latents in rank order. */
export function resolveTop(spec: { k: number }, file: string): ResolvedLatents {
  const set = readLatentSet(file);
  if (set.latents.length < spec.k) {
    throw new SettingError(`${ref('latents')} top${spec.k}: ${file} lists only ${set.latents.length} latents`);
  }
  const chosen = set.latents.slice(0, spec.k);
  const runDir = existsSync(join(dirname(file), 'ranking.arrow')) ? dirname(file) : null;
  const selected = new Set(set.selected);
  return {
    latents: chosen.map((e) => e.latent),
    source: file,
    runDir,
    notSelected: chosen.filter((e) => !selected.has(e.latent)).map((e) => e.latent),
    set,
  };
}

export function resolveList(latents: number[]): ResolvedLatents {
  return { latents, source: `--latents ${latents.join(',')}`, runDir: null, notSelected: [], set: null };
}

/** Every latent index must exist in the SAE. */
export function checkLatentIndices(latents: number[], dSae: number, what: string): void {
  const bad = latents.filter((l) => l >= dSae);
  if (bad.length)
    throw new SettingError(
      `${what}: latent${bad.length > 1 ? 's' : ''} ${bad.join(', ')} not in the SAE (it has latents 0..${dSae - 1})`,
    );
}

/** Latents located before any model is opened: resolved, or the K to take from a discovery run made first. */
export type LatentSource = ResolvedLatents | { discoverFirst: number };

/** No latents: a run whose conditions clamp none, with no discovery run to take them from. */
export const NO_LATENTS: ResolvedLatents = {
  latents: [],
  source: 'none (no condition clamps latents and no discovery run was found)',
  runDir: null,
  notSelected: [],
  set: null,
};

/**
 * Locates `--latents TEXT` (no model needed): a list, or topK of `--otd`, of FILE, or of the latest
 * discovery run for this SAE; on the shipped default (model, SAE and prompts) with no run yet, a
 * discovery run to make first. When no condition clamps them (`required` false), topK with no discovery
 * run is no latents rather than an error or a discovery run (latents found are still kept out of the
 * steering pool, as in a run with the ablation).
 */
export function locateLatents(
  text: string,
  o: { otd: string | null; model: string; sae: string; prompts: string | null },
  required = true,
): LatentSource {
  const spec = parseLatentSpec(text, o.otd);
  if (spec.kind === 'list') return resolveList(spec.latents);
  const file = spec.file ?? latestDiscoveryRun(o.sae)?.concat('/latents.json') ?? null;
  if (file === null) {
    if (!required) return NO_LATENTS;
    const onDefault = isShippedDefault(o) && o.prompts !== null && resolve(o.prompts) === SHIPPED.prompts;
    if (onDefault) return { discoverFirst: spec.k };
    throw new SettingError(
      `${ref('latents')} ${text}: no ${DISCOVERY_COMMAND} run for SAE ${o.sae} in runs/; run \`analyze ${DISCOVERY_COMMAND} --model ${o.model} --sae ${o.sae}\` first, or give ${ref('otd')} FILE`,
    );
  }
  if (!existsSync(file)) throw new SettingError(`${ref('latents')} ${text}: ${file} not found`);
  return resolveTop(spec, file);
}

/** The located latents, running discovery first (on the session's model, SAE and these prompts) when that is what was located. */
export async function resolveLatents(
  session: Session,
  source: LatentSource,
  o: { prompts: string[]; promptsFile: string | null; log: (line: string) => void },
): Promise<ResolvedLatents> {
  if (!('discoverFirst' in source)) return source;
  return resolveTop({ k: source.discoverFirst }, await discoverFirst(session, o));
}
