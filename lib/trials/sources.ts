// The trial files of `analyze metrics --trials FILE[=CONDITION] ...`: each file read (our JSONL store or
// a paper result file), optionally labelled with its condition, and never pooled silently with a file
// of another experiment: unlabelled files that land in one condition must share their experiment config.
import { existsSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { loadTrials, type LoadedTrials } from './paper.ts';
import type { Trial } from './types.ts';

export interface TrialSource extends LoadedTrials {
  path: string;
  /** The condition the user gave (FILE=CONDITION), or null. */
  label: string | null;
  /** Conditions its trials count under, in order first seen. */
  conditions: string[];
}

const CONDITION_RE = /^[\p{L}\p{N}_][\p{L}\p{N}_.+\- ]*$/u;

/** `FILE` or `FILE=CONDITION`; a path that exists as given is never split (it may contain `=`). */
export function parseTrialSpec(spec: string): { path: string; label: string | null } {
  const at = spec.lastIndexOf('=');
  if (at <= 0 || existsSync(spec)) return { path: spec, label: null };
  const label = spec.slice(at + 1).trim();
  if (!CONDITION_RE.test(label))
    throw new InputError(
      `--trials ${spec}: condition ${JSON.stringify(label)} must be a name (letters, digits, _ . + - and spaces)`,
    );
  return { path: spec.slice(0, at), label };
}

/** JSON with object keys sorted, so configs that differ only in key order compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What identifies a file's experiment: a paper file's experiment_config; our store's run keys. */
function experimentKey(s: LoadedTrials): string {
  if (s.paper) return canonical(s.paper.config);
  return canonical(
    [...new Set(s.trials.map((t) => (t.provenance as { run?: unknown } | undefined)?.run ?? null))].sort(),
  );
}

function relabel(trials: Trial[], path: string, label: string): Trial[] {
  const conditions = [...new Set(trials.map((t) => t.condition))];
  if (conditions.length > 1)
    throw new InputError(
      `${path}=${label}: the store holds several conditions (${conditions.join(', ')}); a label names the one condition of a file`,
    );
  return trials.map((t) => ({ ...t, condition: label }));
}

/**
 * Reads every `FILE[=CONDITION]`. A label sets a paper file's condition (a boost-sweep file still splits
 * into `<label> boost=<level>`) or renames the one condition of our store. Unlabelled files whose trials
 * fall in the same condition must come from the same experiment (equal experiment_config, or the same
 * run of ours); otherwise this throws, naming the files, and asks for labels.
 */
export function loadTrialSources(specs: string[]): TrialSource[] {
  const seen = new Set<string>();
  const sources: TrialSource[] = specs.map((spec) => {
    const { path, label } = parseTrialSpec(spec);
    if (seen.has(path)) throw new InputError(`--trials: ${path} is given twice`);
    seen.add(path);
    const loaded = loadTrials(path, label ?? undefined);
    const trials = label !== null && loaded.format === 'jsonl' ? relabel(loaded.trials, path, label) : loaded.trials;
    return { ...loaded, trials, path, label, conditions: [...new Set(trials.map((t) => t.condition))] };
  });
  const byCondition = new Map<string, TrialSource[]>();
  for (const s of sources) {
    if (s.label !== null) continue;
    for (const c of s.conditions) byCondition.set(c, [...(byCondition.get(c) ?? []), s]);
  }
  for (const [condition, files] of byCondition) {
    if (files.length < 2 || new Set(files.map(experimentKey)).size === 1) continue;
    throw new InputError(
      `${files.map((f) => f.path).join(', ')}: these files come from different experiments (their experiment config differs) but would all count as condition "${condition}"; ` +
        `label each file with its condition, e.g. --trials ${files[0].path}=${condition} ${files[1].path}=meta-prompt (conditions: baseline, ablate, random, no-steer, meta-prompt, or any name)`,
    );
  }
  return sources;
}
