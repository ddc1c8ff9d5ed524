// Import of the paper's `experiment_results_*.json` files into Trial records (docs/design.md
// "Paper result files"). Nothing is dropped here: trials the paper would skip are kept with their error
// set, so the metrics count them under the same inclusion rules as our own store.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../errors.ts';
import { readTrials } from './store.ts';
import type { Trial } from './types.ts';

interface PaperAttempt {
  attempt_text?: string;
  score?: number | null;
}
interface PaperTrial {
  prompt: string;
  feature_index_in_sae?: number;
  feature_label?: string;
  threshold?: number | null;
  seed?: number;
  response?: string;
  error?: string | null;
  score?: { raw_response?: string | null; attempts?: PaperAttempt[]; error?: string } | null;
}
interface PaperFeature {
  feature_index_in_sae: number;
  feature_label?: string;
  threshold?: number | null;
  error?: string | null;
  trials?: PaperTrial[];
}
interface PaperFile {
  experiment_config?: unknown;
  results_by_feature: PaperFeature[];
  ablated_latents?: number[];
  n_boost_levels?: number;
  boost_levels?: number[];
}

/** What a paper file says about its experiment, for telling files apart. */
export interface PaperMeta {
  /** The file's `experiment_config` (null when absent). */
  config: unknown;
  /** The condition read from the file alone: `ablate` with ablated latents (or `…_with_ablation`), else `baseline`. */
  inferred: string;
  /** Boost levels of a boost-sweep file (each becomes its own condition), else null. */
  boostLevels: number[] | null;
}

/** True when a parsed JSON value looks like a paper result file (has `results_by_feature`). */
export function isPaperResults(value: unknown): value is PaperFile {
  return typeof value === 'object' && value !== null && Array.isArray((value as PaperFile).results_by_feature);
}

/**
 * `ablate` (the name our runs use) for files with ablated latents (or named `..._with_ablation`), else
 * `baseline`. From the file alone a meta-prompt, no-steer or sweep file also reads as `baseline`, and a
 * random-control file as `ablate`: label such files (analyze metrics --trials FILE=CONDITION).
 */
export function paperCondition(path: string, file: PaperFile): string {
  return (file.ablated_latents?.length ?? 0) > 0 || /_with_ablation/.test(basename(path)) ? 'ablate' : 'baseline';
}

/** The boost levels of a boost-sweep file (`boost_levels`, or `n_boost_levels` with the levels read off the trials). */
export function paperBoostLevels(file: PaperFile): number[] | null {
  if (Array.isArray(file.boost_levels) && file.boost_levels.length) return [...file.boost_levels];
  if (!(typeof file.n_boost_levels === 'number' && file.n_boost_levels > 0)) return null;
  const seen = new Set<number>();
  for (const f of file.results_by_feature)
    for (const t of f.trials ?? []) if (typeof t.threshold === 'number') seen.add(t.threshold);
  return [...seen].sort((a, b) => a - b);
}

/** A boost level as it appears in a condition name: up to 6 significant digits. */
export const levelName = (level: number): string => String(Number(level.toPrecision(6)));

/** The level nearest to `boost` (a sweep trial's `threshold` holds its boost). */
function nearestLevel(levels: number[], boost: number): number {
  return levels.reduce((best, l) => (Math.abs(l - boost) < Math.abs(best - boost) ? l : best), levels[0]);
}

/**
 * Trials of a paper file, all in `condition`, or in a boost-sweep file one condition per level:
 * `<condition> boost=<level>`.
 */
export function importPaperResults(path: string, file: PaperFile, condition = paperCondition(path, file)): Trial[] {
  const source = basename(path);
  const levels = paperBoostLevels(file);
  const trials: Trial[] = [];
  file.results_by_feature.forEach((f, fi) => {
    if (typeof f.feature_index_in_sae !== 'number')
      throw new InputError(`${path}: results_by_feature[${fi}].feature_index_in_sae: expected a number`);
    (f.trials ?? []).forEach((t, ti) => {
      const score = t.score ?? null;
      const attempts = (score && Array.isArray(score.attempts) ? score.attempts : []).map((a) => ({
        text: a.attempt_text ?? '',
        score: typeof a.score === 'number' ? a.score : null,
      }));
      const boost = t.threshold ?? f.threshold ?? null;
      const level = levels && typeof boost === 'number' ? nearestLevel(levels, boost) : null;
      if (levels && level === null)
        throw new InputError(
          `${path}: results_by_feature[${fi}].trials[${ti}].threshold: a boost-sweep trial needs its boost (a number)`,
        );
      trials.push({
        id: `${source}:${fi}:${ti}`,
        feature: f.feature_index_in_sae,
        feature_label: f.feature_label ?? t.feature_label ?? null,
        prompt: t.prompt,
        seed: t.seed ?? 0,
        condition: level === null ? condition : `${condition} boost=${levelName(level)}`,
        boost,
        interventions: [],
        response: t.response ?? '',
        judge:
          score === null
            ? null
            : { id: 'paper', attempts, raw: score.raw_response ?? null, error: score.error ?? null },
        error: f.error ? `feature error: ${f.error}` : (t.error ?? null),
        provenance: {
          source: path,
          ablated_latents: file.ablated_latents ?? [],
          ...(level === null ? {} : { boost_level: level }),
        },
      });
    });
  });
  return trials;
}

/** True when the file's first line is a whole trial record (our JSONL store, read line by line). */
function looksLikeTrialStore(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(1 << 20);
    const n = readSync(fd, head, 0, head.length, 0);
    const nl = head.subarray(0, n).indexOf(10);
    if (nl < 0) return false;
    const first = JSON.parse(head.subarray(0, nl).toString('utf8'));
    return typeof first === 'object' && first !== null && 'id' in first && 'response' in first;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export interface LoadedTrials {
  trials: Trial[];
  format: 'jsonl' | 'paper';
  /** For a paper file: its config, the condition read from it alone, its boost levels. */
  paper: PaperMeta | null;
}

/**
 * Reads trials from our JSONL trial store or a paper result file, told apart by content. `condition`
 * (a label given by the user) names a paper file's condition instead of the one read from the file.
 */
export function loadTrials(path: string, condition?: string): LoadedTrials {
  if (!existsSync(path)) throw new InputError(`${path}: trial file not found`);
  if (looksLikeTrialStore(path)) return { trials: readTrials(path), format: 'jsonl', paper: null };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read the trial file (${(err as Error).message})`);
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined; // several lines: our JSONL store
  }
  if (isPaperResults(whole)) {
    const inferred = paperCondition(path, whole);
    return {
      trials: importPaperResults(path, whole, condition ?? inferred),
      format: 'paper',
      paper: { config: whole.experiment_config ?? null, inferred, boostLevels: paperBoostLevels(whole) },
    };
  }
  return { trials: readTrials(path), format: 'jsonl', paper: null };
}
